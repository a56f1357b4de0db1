"""Preprocessing bijectors for images: uniform dequantization, rescaling and the logit transform.

Discrete pixels x in {0, ..., K - 1}^D are dequantized to v = x + u, u ~ U[0, 1)^D. For any
density p on [0, K]^D, Jensen's inequality gives the discrete bound

    log P(x) >= E_u[log p(x + u)],

so ``-log p(x + u) / (D log 2)`` is an upper bound on bits/dim of the discrete data. The flow
models the continuous v through

    v in [0, K]  --rescale(1/K)-->  w in [0, 1]  --logit(alpha)-->  y in R,
    y = logit(alpha + (1 - 2 alpha) w),
    log|dy/dw| = log(1 - 2 alpha) - log p - log(1 - p),   p = alpha + (1 - 2 alpha) w,

and both logdets enter ``log_prob``, so the reported density is on the pixel scale [0, K]^D and
bits/dim are directly comparable with the RealNVP / Glow papers' convention.

References: Dinh et al. 2017, "Density estimation using Real NVP", section 4.1 (logit
transform); Theis et al. 2016, "A note on the evaluation of generative models" (dequantization);
Ho et al. 2019, "Flow++" section 3.1 (the variational dequantization bound).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from genjax.families.flows.bijectors import Bijector, chain

Array = jax.Array


def _event_size(x: Array) -> int:
    return math.prod(x.shape[1:])


def uniform_dequantize(x: Array, key: Array) -> Array:
    """v = x + u, u ~ U[0, 1) elementwise, for integer-valued x: [B, ...] (any float dtype)."""
    x = jnp.asarray(x, jnp.float32)
    return x + jax.random.uniform(key, x.shape, x.dtype)


def rescale(scale: float) -> Bijector:
    """y = scale * x elementwise; logdet = D log|scale|, D = prod(event shape)."""
    if scale == 0:
        raise ValueError("rescale: scale must be nonzero")
    log_s = math.log(abs(scale))

    def forward(params, x, context=None):
        return x * scale, jnp.full(x.shape[:1], _event_size(x) * log_s, x.dtype)

    def inverse(params, y, context=None):
        return y / scale, jnp.full(y.shape[:1], -_event_size(y) * log_s, y.dtype)

    return Bijector(lambda x, key, context=None: (None, forward(None, x)[0]), forward, inverse)


def logit_transform(alpha: float = 0.05) -> Bijector:
    """y = logit(alpha + (1 - 2 alpha) w) for w in [0, 1]; maps the unit cube to R^D.

    logdet = sum[log(1 - 2 alpha) - log p - log(1 - p)], p = alpha + (1 - 2 alpha) w.
    """
    if not 0.0 <= alpha < 0.5:
        raise ValueError(f"logit_transform: alpha must lie in [0, 0.5), got {alpha}")

    def forward(params, w, context=None):
        p = alpha + (1.0 - 2.0 * alpha) * w
        y = jnp.log(p) - jnp.log1p(-p)
        ld = math.log1p(-2.0 * alpha) - jnp.log(p) - jnp.log1p(-p)
        return y, jnp.sum(ld.reshape(w.shape[0], -1), axis=-1)

    def inverse(params, y, context=None):
        p = jax.nn.sigmoid(y)
        # log|dw/dy| = log p + log(1 - p) - log(1 - 2 alpha), with log-sigmoids for stability.
        ld = jax.nn.log_sigmoid(y) + jax.nn.log_sigmoid(-y) - math.log1p(-2.0 * alpha)
        return (p - alpha) / (1.0 - 2.0 * alpha), jnp.sum(ld.reshape(y.shape[0], -1), axis=-1)

    return Bijector(lambda x, key, context=None: (None, forward(None, x)[0]), forward, inverse)


def image_preprocessing(num_levels: int, alpha: float = 0.05) -> Bijector:
    """Pixels on [0, K] -> R: ``chain([rescale(1 / K), logit_transform(alpha)])``."""
    if num_levels < 2:
        raise ValueError(f"image_preprocessing: num_levels must be >= 2, got {num_levels}")
    return chain([rescale(1.0 / num_levels), logit_transform(alpha)])


def bits_per_dim(log_prob: Array, event_size: int) -> Array:
    """bits/dim = -log p / (D log 2), for a log-density on the pixel scale [0, K]^D (nats)."""
    return -log_prob / (event_size * math.log(2.0))
