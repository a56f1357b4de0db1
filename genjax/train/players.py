"""Several networks in one TrainState: one optimizer, one EMA rule, one non-finite guard (GANs, EBMs).

    params = {"generator": G, "critic": D}                         (one entry per player)
    tx     = partition({"generator": adam_g, "critic": adam_c})    (optax.partition over the names)
    state  = genjax.train.init_state(params, tx)                   (a TrainState, like every model)
    step   = train_step((Phase("critic", critic_loss, repeats=5, prepare=...),
                         Phase("generator", generator_loss)), tx, ema={"generator": ema_rate(0.999)})

One step runs the phases in order; a phase sees the players as the phases before it left them:

    k_1 .. k_P, k_m = split(fold_in(key, state.step), P + 1)
    for each phase (player p, R repeats), with its key k_i = (k_prep, k_rep):
        shared, each, extra = prepare(params, extra, batch, k_prep)               once
        for r = 1 .. R (a lax.scan over each[r] and split(k_rep, R)[r]):
            (loss_r, aux_r), g_r = value_and_grad in params[p] of loss(params, shared, each[r], key_r)
            params[p] = project(params[p] + update of tx restricted to player p)
    ema[p]  = beta_p(step) ema[p] + (1 - beta_p(step)) params[p]   for p in ``ema``; else ema[p] = params[p]
    finite  = every loss_r and every ||g_r|| of every phase is finite
    state'  = (step + 1, params, opt_state, ema, extra)  if finite  else  state   (unchanged, extra too)

An update of player p leaves the other players' optimizer states as they were (Adam's step count
counts p's own updates only): ``update_player`` applies ``tx`` to p's gradients and keeps p's part
of the result; XLA removes the unused rest. ``extra`` is state without gradients that a phase's
``prepare`` may rewrite (an EBM's replay buffer); it is checkpointed with the TrainState.

References: Goodfellow et al. 2014, "Generative Adversarial Nets" (alternating updates);
Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Algorithm 1 (n_critic critic
updates per generator update); DeepMind optax (``optax.partition``).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import optax

from genjax.train.state import EMA, TrainState
from genjax.train.step import StepFn, ema_update, keep_if, scalar_metrics

Array = jax.Array
PyTree = Any


class Phase(NamedTuple):
    """``repeats`` optimizer updates of one player inside the multi-player step.

    Attributes:
      player: the key of ``state.params`` this phase trains.
      loss: ``loss(params, shared, each_r, key) -> (scalar, aux dict)``, differentiated in
        ``params[player]`` only (the other players are constants); ``params`` holds every player.
      repeats: updates per step (>= 1).
      prepare: ``prepare(params, extra, batch, key) -> (shared, each, extra)``, run once before the
        repeats: ``shared`` goes to every repeat, ``each`` (leaves with leading axis ``repeats``, or
        None) is scanned over; the returned ``extra`` replaces the state's. None: ``(batch, None, extra)``.
      project: ``player_params -> player_params`` after every update (WGAN's clipping), or None.
    """

    player: str
    loss: Callable
    repeats: int = 1
    prepare: Optional[Callable] = None
    project: Optional[Callable] = None


def partition(transforms: Mapping[str, optax.GradientTransformation]) -> optax.GradientTransformation:
    """ONE optax optimizer over ``params = {player: pytree}``: ``optax.partition`` keyed by player.

    Each player gets its own transform (its own lr, betas, clipping); ``tx.init(params)`` needs
    ``params`` to have exactly the keys of ``transforms``.
    """
    if not transforms or not all(isinstance(k, str) for k in transforms):
        raise ValueError(f"partition: transforms must map player names (str) to optax transforms, "
                         f"got {dict(transforms)!r}")
    return optax.partition(dict(transforms), {name: name for name in transforms})


def update_player(tx: optax.GradientTransformation, opt_state: PyTree, params: Mapping[str, PyTree],
                  player: str, grads: PyTree) -> tuple[PyTree, PyTree]:
    """One optimizer update of ``params[player]`` by ``grads``; the other players' states untouched.

    Returns ``(new params[player], new opt_state)``. ``opt_state`` must come from ``partition``.
    """
    inner = getattr(opt_state, "inner_states", None)
    if not isinstance(inner, Mapping) or set(inner) != set(params):
        raise ValueError(f"update_player: opt_state must be the state of players.partition over the players "
                         f"{sorted(params)}, got {type(opt_state).__name__}")
    full = {name: grads if name == player else jax.tree.map(jnp.zeros_like, p) for name, p in params.items()}
    updates, new = tx.update(full, opt_state, params)
    kept = {name: new.inner_states[name] if name == player else state for name, state in inner.items()}
    return optax.apply_updates(params[player], updates[player]), type(opt_state)(kept)


def _default_prepare(params, extra, batch, key):
    del params, key
    return batch, None, extra


def check_phases(phases: Sequence[Phase], ema: Mapping[str, EMA]) -> tuple[Phase, ...]:
    """The phases as a tuple; ValueError naming the bad field (before any tracing)."""
    phases = tuple(phases)
    if not phases or not all(isinstance(p, Phase) for p in phases):
        raise ValueError(f"phases must be a non-empty sequence of players.Phase, got {phases!r}")
    for p in phases:
        if isinstance(p.repeats, bool) or not isinstance(p.repeats, int) or p.repeats < 1:
            raise ValueError(f"Phase {p.player!r}: repeats must be an int >= 1, got {p.repeats!r}")
    if not all(isinstance(e, EMA) for e in ema.values()):
        raise ValueError(f"ema must map player names to genjax.train.EMA strategies, got {dict(ema)!r}")
    return phases


def _run_phase(phase: Phase, tx, params, opt_state, extra, batch, key):
    k_prep, k_rep = jax.random.split(key)
    shared, each, extra = (phase.prepare or _default_prepare)(params, extra, batch, k_prep)
    for leaf in jax.tree.leaves(each):
        if jnp.shape(leaf)[:1] != (phase.repeats,):
            raise ValueError(f"Phase {phase.player!r}: prepare's 'each' must have leading axis repeats="
                             f"{phase.repeats}, got a leaf of shape {jnp.shape(leaf)}")

    def body(carry, inp):
        params, opt_state = carry
        each_r, key_r = inp
        (loss, aux), g = jax.value_and_grad(
            lambda p: phase.loss({**params, phase.player: p}, shared, each_r, key_r), has_aux=True)(
            params[phase.player])
        new_p, opt_state = update_player(tx, opt_state, params, phase.player, g)
        if phase.project is not None:
            new_p = phase.project(new_p)
        return ({**params, phase.player: new_p}, opt_state), (loss, optax.global_norm(g), scalar_metrics(aux))

    (params, opt_state), out = jax.lax.scan(body, (params, opt_state),
                                            (each, jax.random.split(k_rep, phase.repeats)))
    return params, opt_state, extra, out


def train_step(phases: Sequence[Phase], tx: optax.GradientTransformation, ema: Optional[Mapping[str, EMA]] = None,
               metrics_fn: Optional[Callable] = None) -> StepFn:
    """The multi-player step ``step(state, batch, key) -> (state, metrics)``, pure and jit-able.

    Args:
      phases: the ``Phase`` s of one step, run in order.
      tx: the players' optimizer (``partition``); ``state.opt_state = tx.init(state.params)``.
      ema: ``{player: EMA}`` for the players with a parameter average (GANs: the generator);
        ``ema_params[p] = params[p]`` for the others.
      metrics_fn: optional ``(params, extra, batch, key) -> dict`` of scalars on the updated players.

    Returns:
      ``step``; ``key`` is the run's base key (per-step keys from ``fold_in(key, state.step)``).
      metrics: "<player>_loss" and "<player>_grad_norm" (the last repeat of that player's phase),
      "loss" (the first phase's), "grad_norm" (sqrt of the sum over phases of the largest squared
      norm of their repeats), "finite", the scalar aux entries of each phase's last repeat and
      ``metrics_fn``'s.
    """
    ema = dict(ema or {})
    phases = check_phases(phases, ema)

    def step(state: TrainState, batch, key):
        params = state.params
        if not isinstance(params, Mapping) or not {p.player for p in phases} | set(ema) <= set(params):
            raise ValueError(f"state.params must be a dict with a key for every player "
                             f"{sorted({p.player for p in phases} | set(ema))}, got {type(params).__name__}")
        keys = jax.random.split(jax.random.fold_in(key, state.step), len(phases) + 1)
        opt_state, extra, metrics, first_loss = state.opt_state, state.extra, {}, None
        finite, sq_norm = jnp.bool_(True), jnp.float32(0.0)
        for phase, k in zip(phases, keys):
            params, opt_state, extra, (losses, norms, aux) = _run_phase(phase, tx, params, opt_state, extra,
                                                                       batch, k)
            finite &= jnp.all(jnp.isfinite(losses)) & jnp.all(jnp.isfinite(norms))
            sq_norm += jnp.max(jnp.square(norms))
            first_loss = losses[-1] if first_loss is None else first_loss
            metrics.update({n: v[-1] for n, v in aux.items()})
            metrics.update({f"{phase.player}_loss": losses[-1], f"{phase.player}_grad_norm": norms[-1]})
        ema_params = {name: ema_update(ema[name], state.step, state.ema_params[name], p) if name in ema else p
                      for name, p in params.items()}
        new = TrainState(step=state.step + 1, params=params, opt_state=opt_state, ema_params=ema_params,
                         extra=extra)
        if metrics_fn is not None:
            metrics.update(metrics_fn(params, extra, batch, keys[-1]))
        metrics.update(loss=first_loss, grad_norm=jnp.sqrt(sq_norm), finite=finite)
        return keep_if(finite, new, state), metrics

    return step
