"""The exact noised quantities of a Gaussian mixture under any schedule, in log space.

Data ``x_0 ~ sum_k w_k N(m_k, diag(s_k^2))`` pushed through any Gaussian path
``x_t = alpha(t) x_0 + sigma(t) eps`` (``genjax.schedules``) stays a mixture:

    x_t | k ~ N(alpha m_k, diag(v_k)),        v_k = alpha^2 s_k^2 + sigma^2   (per dimension)
    log p_t(x) = logsumexp_k [log w_k + log N(x; alpha m_k, v_k)]
    r_k(x, t)  = p(c = k | x_t = x) = softmax_k [log w_k + log N(x; alpha m_k, v_k)]
    score      = grad_x log p_t(x) = sum_k r_k (alpha m_k - x) / v_k
    D(x, t)    = E[x_0 | x_t = x] = sum_k r_k (sigma^2 m_k + alpha s_k^2 x) / v_k

which satisfy Tweedie's formula ``D = (x + sigma^2 score) / alpha``. Everything is computed from
``log_alpha`` / ``log_sigma`` in log space (``log v_k = logaddexp(2 log alpha + 2 log s_k,
2 log sigma)``, the ratios ``sigma^2 / v_k`` and ``alpha s_k^2 / v_k`` as exponentials of log
differences, the responsibilities by a log-softmax), so float32 results are accurate at both ends
of every schedule (VP alpha ~ 6e-3 at t = 1, EDM sigma = 80, sigma -> 0 at t -> 0, rectified
alpha -> 0 at t -> 1) and finite at the clean end t = 0 of EDM / rectified grids.

The functions take the mixture ``gm`` as a pytree with ``means`` [K, d], ``stds`` [K, d] and
``weights`` [K] (a ``genjax.data.mixture.GaussianMixture``, whose methods call them); they are
jitted at module level, so each compiles once per shape and schedule.

References: Efron 2011, "Tweedie's Formula and Selection Bias"; Song et al. 2021,
"Score-Based Generative Modeling through Stochastic Differential Equations"; Karras et al. 2022,
"Elucidating the Design Space of Diffusion-Based Generative Models" (appendix on mixtures).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from genjax.schedules import Schedule

LOG_2PI = math.log(2.0 * math.pi)


def terms(gm, log_alpha, log_sigma, x):
    """Per-component quantities for x: [B, d], log_alpha / log_sigma: [B].

    Returns (joint [B, K] = log w_k + log N(x; alpha m_k, v_k), log_v [B, K, d],
    diff [B, K, d] = x - alpha m_k).
    """
    la = log_alpha[:, None, None]
    ls = log_sigma[:, None, None]
    log_v = jnp.logaddexp(2.0 * la + 2.0 * jnp.log(gm.stds)[None], 2.0 * ls)  # [B, K, d]
    diff = x[:, None, :] - jnp.exp(la) * gm.means[None]  # [B, K, d]
    quad = jnp.sum(jnp.square(diff) * jnp.exp(-log_v), -1)
    log_norm = -0.5 * jnp.sum(log_v, -1) - 0.5 * gm.dim * LOG_2PI
    joint = jnp.log(gm.weights)[None] + log_norm - 0.5 * quad
    return joint, log_v, diff


@functools.partial(jax.jit, static_argnums=(1,))
def sample(gm, n: int, key):
    """x_0 ~ p_0 with its labels: c ~ Categorical(w), x_0 = m_c + s_c * eps -> ([n, d], [n] int32)."""
    k_label, k_noise = jax.random.split(key)
    labels = jax.random.categorical(k_label, jnp.log(gm.weights), shape=(n,))
    eps = jax.random.normal(k_noise, (n, gm.dim), gm.means.dtype)
    return gm.means[labels] + gm.stds[labels] * eps, labels.astype(jnp.int32)


@jax.jit
def log_prob(gm, x):
    """log p_0(x) = logsumexp_k [log w_k + log N(x; m_k, diag(s_k^2))] (alpha = 1, sigma = 0): [B, d] -> [B]."""
    zeros = jnp.zeros(x.shape[:1], gm.means.dtype)
    joint, _, _ = terms(gm, zeros, jnp.full_like(zeros, -jnp.inf), x)
    return jax.nn.logsumexp(joint, -1)


@functools.partial(jax.jit, static_argnums=(1, 2))
def noised(gm, s: Schedule, what: str, x, t):
    """``what`` of p_t at (x [B, d], t [] or [B]) by the formulas above: "log_prob" -> [B],
    "class_log_prob" (log r_k) -> [B, K], "score" -> [B, d], "denoiser" (D) -> [B, d]."""
    t = jnp.broadcast_to(jnp.asarray(t, gm.means.dtype), x.shape[:1])
    la, ls = s.log_alpha(t), s.log_sigma(t)
    joint, log_v, diff = terms(gm, la, ls, x)
    if what == "log_prob":
        return jax.nn.logsumexp(joint, -1)
    if what == "class_log_prob":
        return jax.nn.log_softmax(joint, -1)
    r = jax.nn.softmax(joint, -1)[..., None]  # [B, K, 1]
    if what == "score":
        return -jnp.sum(r * diff * jnp.exp(-log_v), 1)
    keep = jnp.exp(2.0 * ls[:, None, None] - log_v)  # sigma^2 / v_k              [B, K, d]
    gain = jnp.exp(la[:, None, None] + 2.0 * jnp.log(gm.stds)[None] - log_v)  # alpha s_k^2 / v_k
    return jnp.sum(r * (keep * gm.means[None] + gain * x[:, None, :]), 1)
