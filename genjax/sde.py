"""Probability-flow ODE and reverse SDE of any Gaussian path, from (schedule, denoiser).

For ``x_t = alpha(t) x_0 + sigma(t) eps`` with denoiser ``D(x, t) = E[x_0 | x_t = x]`` and score
``(alpha D - x) / sigma^2``, the forward SDE is ``dx = f x dt + g dW`` (f = d log alpha / dt,
g^2 = -2 sigma^2 d lambda / dt) and

    probability-flow ODE:  dx/dt = f x - g^2/2 score = alpha'(t) D + (sigma'(t)/sigma(t)) (x - alpha D)
    reverse SDE:           dx = [f x - g^2 score] dt + g dW_bar = [f x + 2 lambda'(t) (alpha D - x)] dt + g dW_bar

Both right-hand forms avoid dividing by alpha or by sigma^2, so the velocity stays finite where
alpha -> 0 (rectified flow at t -> 1) and does not amplify the denoiser's error by 1/sigma^2 at
small noise. (The reverse SDE's f and g themselves diverge where alpha -> 0: keep t_max < 1
there.) Nothing here special-cases a schedule: every coefficient comes from ``log_alpha`` and
``log_sigma`` by forward-mode autodiff.

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations" (eqs. 6, 13); Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
Generative Models" (eq. 4); Anderson 1982, "Reverse-time diffusion equation models".
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from genjax import predictions
from genjax.integrators.sde import SDE
from genjax.schedules import Schedule

Array = jax.Array


Coeffs = predictions.Node          # the coefficient table (one definition, in genjax.predictions)
coefficients = predictions.coefficients


def _bcast(c: Array, x: Array) -> Array:
    """A scalar or per-sample [B] coefficient broadcast against x: [B, ...]."""
    c = jnp.asarray(c)
    return c.reshape(c.shape + (1,) * (x.ndim - c.ndim)) if c.ndim else c


def velocity(c: Coeffs, x: Array, d: Array) -> Array:
    """PF-ODE velocity from the denoiser output d = D(x, t): ``predictions.pf_velocity`` (one formula)."""
    return predictions.pf_velocity(c, x, d)


def reverse_drift(c: Coeffs, x: Array, d: Array) -> Array:
    """Reverse-SDE drift f x - g^2 score = f x + 2 lambda' (alpha d - x), lambda' = f - sigma'/sigma."""
    lam_dot = _bcast(c.dlog_alpha - c.dlog_sigma, x)
    return _bcast(c.dlog_alpha, x) * x + 2.0 * lam_dot * (_bcast(c.alpha, x) * d - x)


def diffusion(c: Coeffs) -> Array:
    """g(t) = sigma sqrt(-2 lambda'(t))."""
    return c.sigma * jnp.sqrt(jnp.maximum(-2.0 * (c.dlog_alpha - c.dlog_sigma), 0.0))


def pf_ode(s: Schedule, denoiser: Callable) -> Callable:
    """The probability-flow ODE ``field(t, x) -> dx/dt`` (x: [B, ...], t scalar or [B]).

    dx/dt = alpha'(t) D(x, t) + (sigma'(t)/sigma(t)) (x - alpha(t) D(x, t)).

    References: Song et al. 2021 (eq. 13); Karras et al. 2022 (eq. 4).
    """
    _check(s, denoiser)

    def field(t, x):   # a velocity network (predictions.Model) is called and returned as is
        return predictions.velocity(denoiser, coefficients(s, t), x)

    return field


def reverse_sde(s: Schedule, denoiser: Callable) -> SDE:
    """The reverse-time SDE ``dx = [f x - g^2 score] dt + g dW_bar`` as an ``SDE`` (integrate t_max -> t_min).

    References: Anderson 1982; Song et al. 2021 (eq. 6).
    """
    _check(s, denoiser)

    def drift(t, x):
        c = coefficients(s, t)
        return reverse_drift(c, x, predictions.denoise(denoiser, c, x))

    return SDE(drift=drift, diffusion=lambda t: diffusion(coefficients(s, t)))


def forward_sde(s: Schedule) -> SDE:
    """The forward SDE ``dx = f(t) x dt + g(t) dW`` whose marginals are x_t = alpha x_0 + sigma eps.

    References: Song et al. 2021, "Score-Based Generative Modeling through SDEs" (eq. 5).
    """
    if not isinstance(s, Schedule):
        raise TypeError(f"forward_sde: s must be a genjax.schedules.Schedule, got {type(s).__name__}")
    return SDE(drift=lambda t, x: _bcast(s.f(t), x) * x, diffusion=lambda t: jnp.sqrt(s.g2(t)))


def _check(s, denoiser) -> None:
    if not isinstance(s, Schedule):
        raise TypeError(f"s must be a genjax.schedules.Schedule, got {type(s).__name__}")
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable denoiser(x, t), got {type(denoiser).__name__}")
