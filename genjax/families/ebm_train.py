"""EBM training on the multi-player step: Langevin negatives, the contrastive loss, a replay buffer.

    tx    = players.partition({"energy": optax.adam(1e-3, b1=0.0)})
    state = init_state(energy_params, tx, buffer_size=10_000, init_sampler=init, key=k)
    step  = make_train_step(energy_apply, tx, init, num_steps=40, step_size=0.05, noise_std=0.1,
                            ema={"energy": ema_rate(0.99)})
    state, metrics = jax.jit(step)(state, {"x": x_pos}, key)

One player, "energy", and one phase of ``genjax.train.players``. Before the update the phase
draws its negatives (once per step):

    x_0  = init_sampler noise                                   (short-run, ``state.extra`` None)
         = draw_chains(buffer), a fraction restarted from noise (persistent chains)
    x^-  = langevin(E(params, .), x_0)                          (no gradient flows through)
    loss = contrastive_loss(E, x^+, x^-, reg_weight),   buffer[drawn slots] <- x^-

The replay buffer is ``state.extra = {"buffer": [S, ...]}``: checkpointed with the state, and left
unchanged with the rest of it when a step is refused as non-finite.

References: Du & Mordatch 2019, "Implicit Generation and Generalization in Energy-Based Models";
Nijkamp et al. 2019, "Learning Non-Convergent Non-Persistent Short-Run MCMC Toward Energy-Based
Model".
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import jax
import numpy as np
import optax

from genjax.families import ebm
from genjax.train import players
from genjax.train import state as train_state
from genjax.train.state import EMA, TrainState

PyTree = Any
ENERGY = "energy"


def init_state(params: PyTree, tx: optax.GradientTransformation, buffer_size: int = 0,
               init_sampler: Optional[Callable] = None, *, key=None) -> TrainState:
    """Step 0: ``params = {"energy": params}``; ``extra = {"buffer": init_sampler(buffer_size)}`` when
    ``buffer_size > 0`` (persistent chains), else None (short-run chains)."""
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 0:
        raise ValueError(f"buffer_size must be an int >= 0, got {buffer_size!r}")
    extra = None
    if buffer_size > 0:
        if init_sampler is None or key is None:
            raise ValueError("a replay buffer (buffer_size > 0) needs init_sampler and key")
        extra = {"buffer": init_sampler(buffer_size, key)}
    return train_state.init_state({ENERGY: params}, tx, extra)


def phase(energy: Callable, init_sampler: Callable, *, num_steps: int, step_size: float, noise_std: float,
          grad_clip: Optional[float] = None, reg_weight: float = 1.0,
          reinit_fraction: float = 0.05) -> players.Phase:
    """The energy's phase: Langevin negatives (``prepare``) and the contrastive loss (arguments:
    ``make_train_step``)."""
    ebm.check_langevin_options(num_steps, step_size, noise_std, grad_clip)
    ebm.check_reinit_fraction(reinit_fraction)
    if not (np.isfinite(reg_weight) and reg_weight >= 0):
        raise ValueError(f"reg_weight must be >= 0, got {reg_weight}")

    def prepare(params, extra, batch, key):
        k_init, k_lang = jax.random.split(key)
        x_pos = batch["x"]
        if extra is None:
            x0, idx = init_sampler(x_pos.shape[0], k_init).astype(x_pos.dtype), None
        else:
            x0, idx = ebm.draw_chains(extra["buffer"], x_pos.shape[0], reinit_fraction, init_sampler, k_init)
        x_neg = jax.lax.stop_gradient(ebm.langevin(lambda x: energy(params[ENERGY], x), x0, num_steps,
                                                   step_size, noise_std, grad_clip, key=k_lang))
        if idx is not None:
            extra = dict(extra, buffer=extra["buffer"].at[idx].set(x_neg))
        return (x_pos, x_neg), None, extra

    def loss(params, shared, each, key):
        del each, key
        x_pos, x_neg = shared
        return ebm.contrastive_loss(lambda x: energy(params[ENERGY], x), x_pos, x_neg, reg_weight)

    return players.Phase(ENERGY, loss, 1, prepare)


def make_train_step(energy: Callable, tx: optax.GradientTransformation, init_sampler: Callable, *,
                    num_steps: int, step_size: float, noise_std: float, grad_clip: Optional[float] = None,
                    reg_weight: float = 1.0, reinit_fraction: float = 0.05,
                    ema: Optional[Mapping[str, EMA]] = None) -> Callable:
    """Build ``step(state, {"x": x_pos [B, ...]}, key) -> (state, metrics)``, pure and jit-able.

    Short-run when ``state.extra`` is None (every chain from ``init_sampler``); persistent with a
    replay buffer otherwise (a fraction ``reinit_fraction`` of the drawn chains restarts from noise,
    the rest continue; the Langevin results are written back).

    Args:
      energy: ``energy(params, x [B, ...]) -> [B]``.
      tx: ``players.partition({"energy": ...})``.
      init_sampler: ``(n, key) -> [n, ...]`` chain initialisation.
      num_steps, step_size, noise_std, grad_clip: Langevin options (see ``ebm.langevin``).
      reg_weight: alpha of the L2 energy regulariser (>= 0).
      reinit_fraction: in [0, 1] (ValueError otherwise).
      ema: ``{"energy": EMA}`` to average the energy's parameters, or None.

    Returns:
      ``step``; metrics: "loss", "grad_norm", "finite", "energy_loss", "energy_grad_norm" and the
      contrastive loss's "cd", "reg", "e_pos", "e_neg".
    """
    p = phase(energy, init_sampler, num_steps=num_steps, step_size=step_size, noise_std=noise_std,
              grad_clip=grad_clip, reg_weight=reg_weight, reinit_fraction=reinit_fraction)
    return players.train_step((p,), tx, ema)
