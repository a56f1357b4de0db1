"""Guidance: classifier-free and classifier guidance, as denoisers ``D(x, t)`` for any sampler.

Both act on the score of the noised density and are written on the denoiser through Tweedie's
formula ``score = (alpha D - x) / sigma^2`` (DESIGN.md section 1), so every sampler and schedule
takes a guided model unchanged.

Classifier-free guidance (Ho & Salimans 2021), with guidance weight w (w = 0 is the conditional
model, w = -1 the unconditional one):

    D_w = (1 + w) D(x, t | c) - w D(x, t),
    score_w = score(x | c) + w (score(x | c) - score(x)) = grad log p_t(x | c)^(1+w) p_t(x)^(-w),

i.e. sampling from the tilted density p(x | c) p(c | x)^w (up to the usual caveat that the tilted
densities at different t are not one diffusion).

Classifier guidance (Dhariwal & Nichol 2021, eq. after Song et al. 2021's conditional score):
grad log p_t(x | c) = grad log p_t(x) + grad log p_t(c | x); with a scale gamma,

    score_g = score + gamma grad_x log p_t(c | x)
    <=> (alpha D_g - x) / sigma^2 = (alpha D - x) / sigma^2 + gamma grad
    <=> D_g = D + (sigma^2 / alpha) gamma grad_x log p_t(c | x).

With the exact noisy classifier and gamma = 1 this is exactly the conditional denoiser
E[x_0 | x_t, c] (tested on a Gaussian mixture).

References: Ho & Salimans 2021, "Classifier-Free Diffusion Guidance"; Dhariwal & Nichol 2021,
"Diffusion Models Beat GANs on Image Synthesis" (classifier guidance); Song et al. 2021,
"Score-Based Generative Modeling through Stochastic Differential Equations" (conditional score).
"""
from __future__ import annotations

import numbers
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from genjax.predictions import broadcast_time
from genjax.schedules import Schedule

Array = jax.Array
Denoiser = Callable[[Array, Array], Array]


def _check_weight(w, name: str) -> None:
    if isinstance(w, jax.core.Tracer):
        return
    if isinstance(w, bool) or not (isinstance(w, numbers.Real) or np.ndim(w) == 0):
        raise TypeError(f"{name} must be a real scalar, got {type(w).__name__}")
    if not np.isfinite(np.asarray(w, np.float64)):
        raise ValueError(f"{name} must be finite, got {w}")


def _check_callable(fn, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable (x, t) -> array, got {type(fn).__name__}")


def cfg(cond_denoiser: Denoiser, uncond_denoiser: Denoiser, w: float) -> Denoiser:
    """Classifier-free guidance: ``D_w(x, t) = (1 + w) D_c(x, t) - w D_u(x, t)``.

    Args:
      cond_denoiser: ``D(x, t | c)``, the label bound in a closure; x: [B, ...], t: [] or [B].
      uncond_denoiser: ``D(x, t)`` (the null-label model).
      w: guidance weight (scalar, may be traced); 0 gives the conditional model.

    Returns:
      ``denoiser(x, t) -> [B, ...]``.

    References: Ho & Salimans 2021, "Classifier-Free Diffusion Guidance", eq. 6.
    """
    _check_callable(cond_denoiser, "cond_denoiser")
    _check_callable(uncond_denoiser, "uncond_denoiser")
    _check_weight(w, "w")

    def denoiser(x, t):
        return (1.0 + w) * cond_denoiser(x, t) - w * uncond_denoiser(x, t)

    return denoiser


def cfg_batched(model: Callable, label: Array, null_label: Array, w: float) -> Denoiser:
    """Classifier-free guidance with one batched call of a label-conditional model.

    ``model(x, t, label) -> D`` is evaluated once on the doubled batch ``[x; x]`` with labels
    ``[label; null_label]`` (one network pass per step instead of two), then
    ``D_w = (1 + w) D_c - w D_u`` as in ``cfg``.

    Args:
      model: ``model(x [2B, ...], t [2B], label [2B]) -> [2B, ...]``.
      label: the condition, [] or [B] (int labels or any array with leading axis B).
      null_label: the "no condition" label, same kind as label ([] or [B]).
      w: guidance weight.

    Returns:
      ``denoiser(x, t) -> [B, ...]``.

    References: Ho & Salimans 2021, "Classifier-Free Diffusion Guidance".
    """
    _check_callable(model, "model")
    _check_weight(w, "w")

    def denoiser(x, t):
        b = x.shape[0]
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), (b,))
        lab = jnp.broadcast_to(jnp.asarray(label), (b,) + jnp.shape(label)[1:])
        null = jnp.broadcast_to(jnp.asarray(null_label), lab.shape)
        d = model(jnp.concatenate([x, x]), jnp.concatenate([t, t]), jnp.concatenate([lab, null]))
        return (1.0 + w) * d[:b] - w * d[b:]

    return denoiser


def classifier_guidance(denoiser: Denoiser, s: Schedule, log_prob_class_fn: Callable,
                        scale: float = 1.0) -> Denoiser:
    """Classifier guidance: ``D_g = D + (sigma^2 / alpha) * scale * grad_x log p_t(c | x)``.

    Derived from score_g = score + scale * grad log p_t(c | x) and score = (alpha D - x) / sigma^2
    (module docstring). The gradient is taken of ``sum_b log p_t(c_b | x_b)``, which is the
    per-example gradient when the classifier treats batch rows independently (no batch
    statistics).

    Args:
      denoiser: unconditional ``D(x, t)``.
      s: the schedule.
      log_prob_class_fn: ``fn(x [B, ...], t) -> [B]``, log p_t(c | x_t) of the wanted class
        (bound in a closure), e.g. ``lambda x, t: clf(x, t)[:, c]`` for a [B, K] log-softmax.
      scale: guidance scale gamma (1 gives the Bayes-rule conditional score).

    Returns:
      ``denoiser(x, t) -> [B, ...]``.

    References: Dhariwal & Nichol 2021, "Diffusion Models Beat GANs on Image Synthesis",
    Section 4; Song et al. 2021, "Score-Based Generative Modeling through SDEs", Section 5.
    """
    _check_callable(denoiser, "denoiser")
    _check_callable(log_prob_class_fn, "log_prob_class_fn")
    if not isinstance(s, Schedule):
        raise TypeError(f"s must be a genjax.schedules.Schedule, got {type(s).__name__}")
    _check_weight(scale, "scale")

    def guided(x, t):
        grad = jax.grad(lambda z: jnp.sum(log_prob_class_fn(z, t)))(x)
        tb = broadcast_time(t, x)
        ratio = jnp.exp(2.0 * s.log_sigma(tb) - s.log_alpha(tb))  # sigma^2 / alpha, in log space
        return denoiser(x, t) + (scale * ratio) * grad

    return guided
