"""The trainer's step: the jitted training step with its blow-up guard, the stop message, the prefetcher.

``compiled_step(task, data, mesh, max_norm_ratio)`` jits one training step (replicated state, the
feed sharded on "data", the batch built inside) and keeps the new state only if

    params' finite   and   ||params'|| <= max_norm_ratio * max(||params||, 1)     (ratio 0: no norm test)

otherwise it returns the old state unchanged (its step counter too), the same status-value
convention as the task's own step for a non-finite loss or gradient. ``stop_message`` explains a
refused step to the user: what failed, the last good step and committed checkpoint, the likely cause
(learning rate, data, or both). ``Prefetcher`` turns host feeds into global arrays ahead of time.

References: Pascanu et al. 2013, "On the difficulty of training recurrent neural networks"
(exploding updates); JAX documentation, buffer donation.
"""
from __future__ import annotations

import queue
import threading

import jax
import jax.numpy as jnp
import numpy as np

from genjax.train import sharding


class Prefetcher:
    """Background thread turning host-local feeds into global arrays, ``depth`` steps ahead."""

    def __init__(self, feeds, mesh, depth: int = 2):
        self._feeds, self._mesh = feeds, mesh
        self._queue, self._stop = queue.Queue(maxsize=depth), threading.Event()
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self):
        try:
            for feed in self._feeds:
                item = sharding.host_to_global(feed, self._mesh)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except Exception as e:  # noqa: BLE001 - handed to the consumer and raised there
            self._queue.put(e)

    def get(self):
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)


def _global_norm(tree):
    leaves = [jnp.sum(jnp.square(x.astype(jnp.float32))) for x in jax.tree.leaves(tree)
              if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.sqrt(sum(leaves)) if leaves else jnp.float32(0)


def _all_finite(tree):
    flags = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(flags)) if flags else jnp.bool_(True)


def compiled_step(task, data, mesh, max_norm_ratio: float = 0.0):
    """jit of one training step: replicated state, the feed sharded on "data", batch built inside.

    Guard: the new state is kept only if its parameters are finite and, when ``max_norm_ratio``
    > 0, ``||params'|| <= max_norm_ratio * max(||params||, 1)``; otherwise the old state comes back
    unchanged (its step counter too), as the task's own step does for a non-finite loss. Metrics
    gain "param_norm" (of the new parameters; inf when its float32 square sum overflows),
    "params_finite" and "data_finite" (whether the batch was finite).
    """
    rep, bsh = sharding.replicated(mesh), sharding.batch_sharding(mesh)

    def fused(state, feed, data_key, key):
        batch = jax.lax.with_sharding_constraint(data.to_batch(state.step, data_key, feed), bsh)
        new, metrics = task.train_step(state, batch, key)
        before, after = _global_norm(state.params), _global_norm(new.params)  # after = inf on overflow
        finite = _all_finite(new.params)
        ok = finite
        if max_norm_ratio > 0:
            ok &= after <= max_norm_ratio * jnp.maximum(before, 1.0)
        new = jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, state)
        metrics = dict(metrics, param_norm=after, params_finite=finite, data_finite=_all_finite(batch))
        return new, metrics

    return jax.jit(fused, in_shardings=(rep, bsh, rep, rep), out_shardings=(rep, rep), donate_argnums=0)


def stop_message(host_metrics, ckpt, config, reached: int) -> str:
    """Why a step was refused: what failed, the last good step and committed checkpoint, the likely cause."""
    ckpt.wait()  # the last good checkpoint is the last one *committed*
    m = {k: float(np.asarray(v)) for k, v in host_metrics.items() if np.ndim(v) == 0}
    loss, gnorm, pnorm = (m.get(k, float("nan")) for k in ("loss", "grad_norm", "param_norm"))
    lr = float(config.optim.lr)
    if not np.isfinite(loss) or not np.isfinite(gnorm):
        what = f"non-finite loss or gradient (loss={loss:.4g}, grad_norm={gnorm:.4g})"
    elif not m.get("params_finite", 1.0):
        what = f"non-finite parameters after the update (loss={loss:.4g}, grad_norm={gnorm:.4g})"
    else:
        what = (f"the parameter norm jumped to {pnorm:.4g} in one step (more than "
                f"config.training.max_param_norm_ratio={config.training.max_param_norm_ratio:g} times)")
    if not m.get("data_finite", 1.0):
        cause = "the data: the batch of this step holds non-finite values"
    elif np.isfinite(loss) and np.isfinite(gnorm):
        cause = f"the learning rate (config.optim.lr={lr:g}): a finite gradient step blew the parameters up"
    else:
        cause = (f"the learning rate (config.optim.lr={lr:g}) or the data (the batch is finite, but a sample "
                 f"the model maps to inf would do this too)")
    last = ckpt.latest_step()
    saved = f"the last good checkpoint is step {last} in {ckpt.directory}" if last is not None else \
        f"no checkpoint was written ({ckpt.directory})"
    return (
        f"step {reached + 1}: {what}; training stopped. The state of step {reached} is the last good one and "
        f"nothing after it was saved: {saved}. Likely cause: {cause}. Try a lower config.optim.lr, a "
        f"config.optim.grad_clip or a longer config.optim.warmup_steps (resume with --allow_config_change).")
