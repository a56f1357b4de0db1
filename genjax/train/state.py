"""Training state, the optimizer built from plain settings, and parameter EMA.

``TrainState(step, params, opt_state, ema_params, extra)`` is a plain pytree (a NamedTuple), so it
can be jitted, sharded and checkpointed as a whole (``extra``: state that is not trained by gradients,
e.g. an EBM's replay buffer; None for most models). The optimizer is an optax chain

    clip_by_global_norm(c)  ->  adam / adamw (b1, b2, eps, weight decay)  ->  lr(step)

with a linear warm-up ``lr(step) = lr * min(1, step / warmup_steps)`` (score_sde's
``optim.warmup``; EDM's ``lr_rampup``). The EMA of the parameters follows

    ema <- beta(step) ema + (1 - beta(step)) params

with either a constant rate (score_sde: beta = 0.9999) or EDM's half-life in training images,
``beta = 0.5 ** (batch_size / h)``, ``h = min(half_life_images, rampup_ratio * images_seen)``.

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations" (configs: warm-up 5000, grad clip 1, EMA 0.9999); Karras et al. 2022, "Elucidating the
Design Space of Diffusion-Based Generative Models" (training loop: EMA half-life and ramp-up);
Kingma & Ba 2015, "Adam"; Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization".
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

Array = jax.Array
PyTree = Any

OPTIMIZERS = ("adam", "adamw")


class TrainState(NamedTuple):
    """Everything a training run carries from step to step (a pytree).

    Attributes:
      step: int32 scalar, the number of updates applied so far.
      params: the model parameters (any pytree of arrays).
      opt_state: the optax state of ``params``.
      ema_params: exponential moving average of ``params`` (same structure).
      extra: any other state carried from step to step and checkpointed with it (an EBM's replay
        buffer, ``genjax.train.players``); None when a model has none.
    """

    step: Array
    params: PyTree
    opt_state: PyTree
    ema_params: PyTree
    extra: PyTree = None


class EMA(NamedTuple):
    """An EMA strategy: ``decay(step) -> beta`` in [0, 1] (step = updates applied before this one)."""

    decay: Callable[[Array], Array]


def ema_rate(rate: float) -> EMA:
    """Constant EMA rate beta (score_sde: 0.9999; 0 keeps ema_params == params)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"ema_rate: rate must lie in [0, 1), got {rate}")
    return EMA(decay=lambda step: jnp.float32(rate))


def ema_half_life(half_life_images: float, batch_size: int, rampup_ratio: float | None = 0.05) -> EMA:
    """EDM's EMA: beta = 0.5 ** (batch_size / h), h = min(half_life_images, rampup_ratio * nimg).

    ``nimg = step * batch_size`` images seen before this update (so beta = 0 at step 0: the EMA
    starts at the first update's params); ``rampup_ratio=None`` disables the ramp-up.

    References: Karras et al. 2022 (EDM), training/training_loop.py: ema_halflife_kimg=500,
    ema_rampup_ratio=0.05.
    """
    if half_life_images <= 0:
        raise ValueError(f"ema_half_life: half_life_images must be > 0, got {half_life_images}")
    if batch_size < 1:
        raise ValueError(f"ema_half_life: batch_size must be >= 1, got {batch_size}")
    if rampup_ratio is not None and rampup_ratio <= 0:
        raise ValueError(f"ema_half_life: rampup_ratio must be > 0 or None, got {rampup_ratio}")

    def decay(step):
        h = jnp.float32(half_life_images)
        if rampup_ratio is not None:
            nimg = jnp.asarray(step, jnp.float32) * batch_size
            h = jnp.minimum(h, rampup_ratio * nimg)
        return jnp.power(jnp.float32(0.5), batch_size / jnp.maximum(h, 1e-8))

    return EMA(decay=decay)


def learning_rate(lr: float, warmup_steps: int = 0) -> Callable[[Array], Array]:
    """lr(step) = lr * min(1, step / warmup_steps); constant lr when warmup_steps == 0."""
    if lr <= 0:
        raise ValueError(f"learning_rate: lr must be > 0, got {lr}")
    if warmup_steps < 0:
        raise ValueError(f"learning_rate: warmup_steps must be >= 0, got {warmup_steps}")
    if warmup_steps == 0:
        return optax.constant_schedule(lr)
    return optax.linear_schedule(0.0, lr, warmup_steps)


def optimizer(lr: float, *, name: str = "adam", warmup_steps: int = 0, grad_clip: float | None = None,
              b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
              weight_decay: float = 0.0) -> optax.GradientTransformation:
    """optax chain: global-norm clipping (if ``grad_clip``), Adam/AdamW, linear lr warm-up.

    Args:
      lr: peak learning rate.
      name: "adam" or "adamw" (decoupled ``weight_decay``; for "adam" weight_decay must be 0).
      warmup_steps: linear warm-up length (0: none).
      grad_clip: max global gradient norm, or None / 0 for no clipping.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
    if grad_clip is not None and grad_clip < 0:
        raise ValueError(f"optimizer: grad_clip must be >= 0 or None, got {grad_clip}")
    if weight_decay < 0 or (name == "adam" and weight_decay != 0):
        raise ValueError(f"optimizer: weight_decay={weight_decay} needs name='adamw' and must be >= 0")
    schedule = learning_rate(lr, warmup_steps)
    if name == "adam":
        opt = optax.adam(schedule, b1=b1, b2=b2, eps=eps)
    else:
        opt = optax.adamw(schedule, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    if grad_clip:
        return optax.chain(optax.clip_by_global_norm(grad_clip), opt)
    return opt


def init_state(params: PyTree, tx: optax.GradientTransformation, extra: PyTree = None) -> TrainState:
    """Step 0: optimizer state for ``params``, ema_params = params (a copy), and ``extra`` as given."""
    ema = jax.tree.map(jnp.array, params)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
                      ema_params=ema, extra=extra)
