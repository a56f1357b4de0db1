"""Loss weightings, one factory per variant: ``weight(s, t, target) -> w`` ([B]).

The weight applies to the per-dimension squared error of the *target* (eps, x0, v, velocity or
score). Each weighting is defined on the denoiser error ||D - x_0||^2 and moved to the target by
the exact ratio ||target error||^2 / ||D - x0||^2 (``log_target_factor``, a function of t; SNR =
alpha^2 / sigma^2 = exp(2 lambda)):

    x0: 1    eps: SNR    v: SNR + 1    velocity: (alpha lambda')^2    score: alpha^2 / sigma^4

    none()             w = 1 on the target itself (DDPM's simple loss for target="eps")
    snr()              w_x0 = SNR           (equals none() for target="eps")
    min_snr(gamma)     w_x0 = min(SNR, gamma)                                   (Hang et al. 2023)
    likelihood()       w_eps = (t_max - t_min) g^2 / (2 sigma^2) = -(t_max - t_min) lambda': the
                       score-matching part of the negative ELBO in nats per dimension (Song et al. 2021)
    edm(sigma_data)    w_x0 = (s~^2 + sd^2) / (s~ sd)^2, s~ = sigma / alpha    (Karras et al. 2022)

Weights are computed in log space, so large SNRs at t_min do not overflow float32.
``get(name, **kwargs)`` looks a factory up by name (configs).

References: Ho et al. 2020; Song, Durkan, Murray & Ermon 2021, "Maximum Likelihood Training of
Score-Based Diffusion Models" (Theorem 1); Hang et al. 2023, "Efficient Diffusion Training via
Min-SNR Weighting Strategy"; Karras et al. 2022 (Table 1).
"""
from __future__ import annotations

import inspect
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from genjax._memo import memoized
from genjax.preconditioning import edm_coefficients
from genjax.schedules import Schedule

Array = jax.Array
TARGETS = ("eps", "x0", "v", "velocity", "score")


def check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")


def dlog_snr(s: Schedule, t: Array) -> Array:
    """lambda'(t) by forward-mode autodiff."""
    return jax.jvp(s.log_snr, (t,), (jnp.ones_like(t),))[1]


def log_target_factor(target: str, s: Schedule, t: Array) -> Array:
    """log(||target error||^2 / ||D - x0||^2) at t: [B] (module docstring)."""
    check_target(target)
    lam = s.log_snr(t)
    if target == "x0":
        return jnp.zeros_like(lam)
    if target == "eps":
        return 2.0 * lam
    if target == "v":
        return jax.nn.softplus(2.0 * lam)
    if target == "velocity":
        return 2.0 * (s.log_alpha(t) + jnp.log(-dlog_snr(s, t)))
    return 2.0 * s.log_alpha(t) - 4.0 * s.log_sigma(t)  # score


def _on_x0(log_w_x0: Callable) -> Callable:
    """weight(s, t, target) from log w_x0(s, t): exp(log w_x0 - log_target_factor)."""
    def weight(s: Schedule, t: Array, target: str) -> Array:
        t = jnp.asarray(t, jnp.float32)
        return jnp.exp(log_w_x0(s, t) - log_target_factor(target, s, t))
    return weight


@memoized
def none() -> Callable:
    """w = 1 on the target's own error."""
    def weight(s: Schedule, t: Array, target: str) -> Array:
        check_target(target)
        return jnp.ones_like(jnp.asarray(t, jnp.float32))
    return weight


@memoized
def snr() -> Callable:
    """w_x0 = SNR = exp(2 lambda)."""
    return _on_x0(lambda s, t: 2.0 * s.log_snr(t))


@memoized
def min_snr(gamma: float = 5.0) -> Callable:
    """w_x0 = min(SNR, gamma). References: Hang et al. 2023."""
    if not float(gamma) > 0:
        raise ValueError(f"weighting 'min_snr': gamma must be > 0, got {gamma}")
    return _on_x0(lambda s, t: jnp.minimum(2.0 * s.log_snr(t), jnp.log(float(gamma))))


@memoized
def likelihood() -> Callable:
    """w_x0 = -(t_max - t_min) lambda' SNR, i.e. w_eps = -(t_max - t_min) lambda'. References: Song et al. 2021."""
    return _on_x0(lambda s, t: jnp.log((s.t_max - s.t_min) * -dlog_snr(s, t)) + 2.0 * s.log_snr(t))


@memoized
def edm(sigma_data: Optional[float] = None) -> Callable:
    """w_x0 = 1 / c_out^2 at s~ = sigma / alpha (default sigma_data: the schedule's, else 0.5).

    References: Karras et al. 2022, Table 1.
    """
    def log_w(s, t):
        sd = getattr(s, "sigma_data", 0.5) if sigma_data is None else sigma_data
        return -2.0 * jnp.log(edm_coefficients(s, t, sd)[1])
    return _on_x0(log_w)


BY_NAME = {"none": none, "snr": snr, "min_snr": min_snr, "likelihood": likelihood, "edm": edm}
NAMES = tuple(BY_NAME)


def get(name: str, **kwargs) -> Callable:
    """The weighting ``BY_NAME[name](**kwargs)``; a ValueError names ``weighting`` and the arguments."""
    if name not in BY_NAME:
        raise ValueError(f"weighting must be one of {NAMES}, got {name!r}")
    params = tuple(inspect.signature(BY_NAME[name]).parameters)
    bad = sorted(set(kwargs) - set(params))
    if bad:
        raise ValueError(f"weighting {name!r} takes arguments {params}, got {bad}")
    return BY_NAME[name](**kwargs)
