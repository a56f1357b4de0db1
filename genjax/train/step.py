"""The pure training step: one gradient update, the EMA, and a non-finite guard as a status value.

    key_t            = fold_in(key, state.step)              (per-step key: pure function of step)
    (loss, aux), g   = value_and_grad(loss_fn)(params, batch, key_t)
    params', opt'    = optax update of (g, opt_state, params)
    ema'             = beta(step) ema + (1 - beta(step)) params'
    finite           = isfinite(loss) and isfinite(||g||_2)
    state'           = (step + 1, params', opt', ema')  if finite  else  state   (unchanged)

Because the keys (and, in the trainer, the batches) are pure functions of ``state.step``, a run
resumed from a checkpoint repeats exactly the updates of an uninterrupted run. A non-finite loss
or gradient leaves the state untouched and returns ``metrics["finite"] = False``; the caller
decides to stop (the trainer stops and never checkpoints past the last good state).

Data parallelism needs nothing here: the loss averages over the *global* batch, and when the step
is jitted over a ``Mesh`` with the batch sharded on the "data" axis XLA inserts the all-reduce
(``genjax.train.sharding``).

References: Bradbury et al., JAX (``jax.random.fold_in``); DeepMind optax
(``GradientTransformation``).
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from genjax.train.state import EMA, TrainState

Array = jax.Array
PyTree = Any
Batch = dict
LossFn = Callable[[PyTree, Batch, Array], tuple[Array, dict]]
StepFn = Callable[[TrainState, Batch, Array], tuple[TrainState, dict]]


def scalar_metrics(aux: dict) -> dict:
    """Keep the scalar entries of a loss's aux dict (means of non-scalars) as float32 metrics."""
    out = {}
    for name, value in aux.items():
        value = jnp.asarray(value)
        if jnp.issubdtype(value.dtype, jnp.number) or value.dtype == jnp.bool_:
            out[name] = jnp.mean(value.astype(jnp.float32))
    return out


def ema_update(ema: EMA, step: Array, ema_params: PyTree, params: PyTree) -> PyTree:
    """ema' = beta(step) ema + (1 - beta(step)) params (the one EMA rule of every train step)."""
    beta = ema.decay(step)
    return jax.tree.map(lambda e, p: beta * e + (1.0 - beta) * p, ema_params, params)


def keep_if(ok: Array, new: PyTree, old: PyTree) -> PyTree:
    """``new`` where the bool scalar ``ok`` holds, else ``old``, leaf by leaf (the non-finite guard)."""
    return jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)


def apply_gradients(state: TrainState, grads: PyTree, tx: optax.GradientTransformation, ema: EMA,
                    ok: Array) -> TrainState:
    """Optimizer update + EMA, kept only where ``ok`` (a bool scalar); else the old state.

    Models with several networks use ``genjax.train.players`` (the same EMA and guard).
    """
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new = state._replace(step=state.step + 1, params=params, opt_state=opt_state,
                         ema_params=ema_update(ema, state.step, state.ema_params, params))
    return keep_if(ok, new, state)


def train_step(loss_fn: LossFn, tx: optax.GradientTransformation, ema: EMA,
               lr_schedule: Callable[[Array], Array] | None = None) -> StepFn:
    """A pure step ``step(state, batch, key) -> (state, metrics)`` for ``loss_fn``.

    Args:
      loss_fn: ``loss_fn(params, batch, key) -> (loss, aux)`` (``genjax.losses`` factories);
        ``batch`` is a dict with "x": [B, ...] and optionally "label": [B].
      tx: the optax optimizer (``genjax.train.state.optimizer``).
      ema: the EMA strategy (``ema_rate`` / ``ema_half_life``).
      lr_schedule: if given, ``metrics["lr"] = lr_schedule(step)``.

    Returns:
      ``step(state, batch, key)``; ``key`` is the run's base key (the same at every step; the
      per-step key is ``fold_in(key, state.step)``). metrics: "loss", "grad_norm", "finite"
      (bool), "lr" if known, and the scalar entries of the loss's aux dict.
    """

    def step(state: TrainState, batch: Batch, key: Array):
        step_key = jax.random.fold_in(key, state.step)
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch, step_key)
        grad_norm = optax.global_norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        new_state = apply_gradients(state, grads, tx, ema, finite)
        metrics = dict(scalar_metrics(aux))
        metrics.update(loss=loss, grad_norm=grad_norm, finite=finite)
        if lr_schedule is not None:
            metrics["lr"] = jnp.asarray(lr_schedule(state.step), jnp.float32)
        return new_state, metrics

    return step


def with_batches(step: StepFn, batch_fn: Callable[[Array, Array], Batch]) -> Callable:
    """Fuse a device-side data source: ``fused(state, data_key, key) = step(state, batch_fn(state.step, data_key), key)``.

    ``batch_fn(step, data_key) -> batch`` must be a pure, jit-able function of the step (e.g.
    samples drawn with ``fold_in(data_key, step)``), so the input pipeline costs no host work and
    a resumed run sees exactly the same batches.
    """

    def fused(state: TrainState, data_key: Array, key: Array):
        return step(state, batch_fn(state.step, data_key), key)

    return fused
