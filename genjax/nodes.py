"""Schedule coefficients at times t (``Node``) and the probability-flow velocity built from them.

A ``Node`` tabulates, at times t, what every sampler and conversion reads from a schedule
``x_t = alpha(t) x_0 + sigma(t) eps``: alpha, sigma, log-SNR lambda = log(alpha / sigma), alpha',
f = dlog alpha / dt and p = dlog sigma / dt, all by forward-mode autodiff of the schedule
(DESIGN.md section 1: derived quantities are never written by hand per schedule). From them the
probability-flow velocity of a denoiser output D is

    u = p x + q D,    q = alpha' - p alpha,    (= f x - g^2/2 score)

the one formula of the probability-flow ODE (``pf_velocity``). ``genjax.predictions`` re-exports
every name here; samplers tabulate ``coefficients`` over their grid once.

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations" (eq. 13); Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
Generative Models" (eq. 4).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from genjax.schedules import Schedule

Array = jax.Array

__all__ = ["Node", "broadcast_time", "coefficients", "finite", "per_sample", "pf_velocity"]


def broadcast_time(t: Array, x: Array) -> Array:
    """t: [] or [B] -> broadcastable against x: [B, ...] (trailing singleton axes added)."""
    t = jnp.asarray(t)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(jnp.result_type(float))
    return t if t.ndim == 0 else t.reshape(t.shape + (1,) * (x.ndim - t.ndim))


class Node(NamedTuple):
    """Schedule coefficients at times t (every field has the shape and float dtype of t).

    t, alpha, sigma, log_snr (lambda = log alpha/sigma), dalpha (alpha'), dlog_alpha
    (f = alpha'/alpha), dlog_sigma (p = sigma'/sigma). At a clean end sigma(t) = 0 (EDM /
    rectified t = 0) dlog_sigma = +inf: samplers never evaluate a field there.
    """

    t: Array
    alpha: Array
    sigma: Array
    log_snr: Array
    dalpha: Array
    dlog_alpha: Array
    dlog_sigma: Array


def coefficients(s: Schedule, t) -> Node:
    """All coefficients at t (any shape, dtype kept; integers become the default float), by
    forward-mode autodiff of the schedule. alpha' comes from ``s.alpha`` (finite where alpha = 0).
    """
    t = jnp.asarray(t)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(jnp.result_type(float))
    ones = jnp.ones_like(t)
    alpha, dalpha = jax.jvp(s.alpha, (t,), (ones,))
    la, dla = jax.jvp(s.log_alpha, (t,), (ones,))
    ls, dls = jax.jvp(s.log_sigma, (t,), (ones,))
    return Node(t=t, alpha=alpha, sigma=jnp.exp(ls), log_snr=la - ls, dalpha=dalpha, dlog_alpha=dla,
                dlog_sigma=dls)


def finite(node: Node) -> Node:
    """The node with log_snr and f = dlog_alpha clipped to finite floats (they are infinite only where
    alpha = 0 or sigma = 0; velocity-form steps never read them there): tables with no inf in them."""
    clip = lambda a: jnp.nan_to_num(a, nan=jnp.nan)
    return node._replace(log_snr=clip(node.log_snr), dlog_alpha=clip(node.dlog_alpha))


def per_sample(c: Array, x: Array) -> Array:
    """A scalar or per-sample [B] coefficient broadcast against x: [B, ...]."""
    return c if jnp.ndim(c) == 0 else c.reshape(jnp.shape(c) + (1,) * (x.ndim - jnp.ndim(c)))


def pf_velocity(node: Node, x: Array, d: Array) -> Array:
    """The probability-flow velocity from a denoiser output: p x + q D, p = s'/s, q = a' - p a.

    Equals f x - g^2/2 score = alpha' D + (sigma'/sigma)(x - alpha D).

    References: Song et al. 2021 (eq. 13); Karras et al. 2022 (eq. 4).
    """
    p = per_sample(node.dlog_sigma, x)
    return p * x + (per_sample(node.dalpha, x) - p * per_sample(node.alpha, x)) * d
