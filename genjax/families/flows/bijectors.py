"""Bijectors: invertible maps with log-determinants, composed into normalizing flows.

A bijector is a ``Bijector(init, forward, inverse)`` of pure functions on batches
``x: [B, *event]`` (channels on the last axis, any number of spatial axes before it):

    params, y = init(x, key, context=None)        # data-dependent init; y = forward(params, x)[0]
    y, logdet = forward(params, x, context=None)  # data -> latent, logdet = log|det dy/dx|: [B]
    x, logdet = inverse(params, y, context=None)  # latent -> data, logdet = log|det dx/dy|: [B]

``init`` returns the output too so that a chain can initialise each layer on the activations
the previous layer produces (actnorm's data-dependent initialisation needs them). ``context``
is only read by conditional couplings (the f-VAE posterior); every other layer ignores it.

This module holds the structural layers: ``chain``, ``invert`` (of parameter-free layers), ``scaling`` (NICE's final
diagonal scaling), ``actnorm``, ``invertible_linear`` (Glow's 1x1 convolution in LU form),
``squeeze`` and ``factor_out`` (RealNVP's multi-scale architecture). Couplings are in
``coupling.py``, the logit/dequantization preprocessing in ``preprocessing.py``.

References: Dinh et al. 2015, "NICE"; Dinh et al. 2017, "Density estimation using Real NVP";
Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions".
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

Array = jax.Array


class Bijector(NamedTuple):
    """init(x, key, context=None) -> (params, y); forward/inverse(params, x, context=None) -> (y, logdet [B])."""

    init: Callable
    forward: Callable
    inverse: Callable


def _spatial_size(x: Array) -> int:
    """Number of positions sharing one per-channel parameter: prod(x.shape[1:-1])."""
    return int(np.prod(x.shape[1:-1], dtype=np.int64))


def _zeros(x: Array) -> Array:
    return jnp.zeros(x.shape[:1], x.dtype)


def chain(bijectors: Sequence[Bijector]) -> Bijector:
    """Composition b_n o ... o b_1 (b_1 applied first in ``forward``); logdets add."""
    bijectors = tuple(bijectors)

    def init(x, key, context=None):
        params = []
        for i, b in enumerate(bijectors):
            p, x = b.init(x, jax.random.fold_in(key, i), context)
            params.append(p)
        return params, x

    def forward(params, x, context=None):
        total = _zeros(x)
        for b, p in zip(bijectors, params):
            x, ld = b.forward(p, x, context)
            total = total + ld
        return x, total

    def inverse(params, y, context=None):
        total = _zeros(y)
        for b, p in zip(reversed(bijectors), reversed(params)):
            y, ld = b.inverse(p, y, context)
            total = total + ld
        return y, total

    return Bijector(init, forward, inverse)


def invert(b: Bijector) -> Bijector:
    """The inverse of a parameter-free bijector (e.g. ``invert(squeeze())`` is depth-to-space)."""

    def init(x, key, context=None):
        return None, b.inverse(None, x, context)[0]

    return Bijector(init, b.inverse, b.forward)


def scaling() -> Bijector:
    """NICE's final diagonal scaling y = x * exp(s), s: [*event[-1:]], logdet = n_pos * sum(s)."""

    def init(x, key, context=None):
        del key, context
        return {"log_scale": jnp.zeros(x.shape[-1:], x.dtype)}, x

    def forward(params, x, context=None):
        s = params["log_scale"]
        return x * jnp.exp(s), jnp.full(x.shape[:1], _spatial_size(x) * jnp.sum(s))

    def inverse(params, y, context=None):
        s = params["log_scale"]
        return y * jnp.exp(-s), jnp.full(y.shape[:1], -_spatial_size(y) * jnp.sum(s))

    return Bijector(init, forward, inverse)


def actnorm(eps: float = 1e-6) -> Bijector:
    """Per-channel affine map y = (x + b) * exp(log_s), initialised from the first batch.

    Data-dependent init: b = -mean(x), log_s = -log(std(x) + eps) over batch and spatial axes,
    so the initial output has zero mean and unit variance per channel.
    logdet = n_pos * sum(log_s).
    """

    def init(x, key, context=None):
        del key, context
        axes = tuple(range(x.ndim - 1))
        mean = jnp.mean(x, axis=axes)
        std = jnp.std(x, axis=axes)
        params = {"bias": -mean, "log_scale": -jnp.log(std + eps)}
        return params, forward(params, x)[0]

    def forward(params, x, context=None):
        s = params["log_scale"]
        return (x + params["bias"]) * jnp.exp(s), jnp.full(x.shape[:1], _spatial_size(x) * jnp.sum(s))

    def inverse(params, y, context=None):
        s = params["log_scale"]
        return y * jnp.exp(-s) - params["bias"], jnp.full(y.shape[:1], -_spatial_size(y) * jnp.sum(s))

    return Bijector(init, forward, inverse)


def invertible_linear(channels: int, seed: int = 0) -> Bijector:
    """Glow's invertible 1x1 convolution y = W x per position, with W in LU form.

    W = P L (U + diag(sign_s * exp(log_s))), P a fixed permutation, L unit lower triangular,
    U strictly upper triangular; logdet = n_pos * sum(log_s) costs O(C). W starts as a random
    rotation drawn from ``seed`` (fixed at construction, so P and sign_s are constants, not
    parameters). On vectors [B, D] this is a learned invertible linear layer.
    """
    rng = np.random.default_rng(seed)
    w0 = np.linalg.qr(rng.standard_normal((channels, channels)))[0]
    p, l, u = scipy.linalg.lu(w0)
    diag = np.diag(u)
    perm = jnp.asarray(p, jnp.float32)
    sign = jnp.asarray(np.sign(diag), jnp.float32)
    lower_mask = jnp.asarray(np.tril(np.ones((channels, channels)), -1), jnp.float32)
    eye = jnp.eye(channels, dtype=jnp.float32)

    def _factors(params):
        lower = params["lower"] * lower_mask + eye
        upper = params["upper"] * lower_mask.T + jnp.diag(sign * jnp.exp(params["log_s"]))
        return lower, upper

    def init(x, key, context=None):
        del key, context
        if x.shape[-1] != channels:
            raise ValueError(f"invertible_linear: channels={channels} but x has {x.shape[-1]} channels")
        params = {"lower": jnp.asarray(np.tril(l, -1), jnp.float32),
                  "upper": jnp.asarray(np.triu(u, 1), jnp.float32),
                  "log_s": jnp.asarray(np.log(np.abs(diag)), jnp.float32)}
        return params, forward(params, x)[0]

    def forward(params, x, context=None):
        lower, upper = _factors(params)
        w = perm @ lower @ upper
        ld = _spatial_size(x) * jnp.sum(params["log_s"])
        return x @ w.T, jnp.full(x.shape[:1], ld)

    def inverse(params, y, context=None):
        lower, upper = _factors(params)
        # x = W^{-1} y = U^{-1} L^{-1} P^T y, done with triangular solves on the rows of y.
        flat = perm.T @ y.reshape(-1, channels).T                    # P^T y as columns: [C, N]
        flat = jax.scipy.linalg.solve_triangular(lower, flat, lower=True, unit_diagonal=True)
        flat = jax.scipy.linalg.solve_triangular(upper, flat, lower=False)
        ld = -_spatial_size(y) * jnp.sum(params["log_s"])
        return flat.T.reshape(y.shape), jnp.full(y.shape[:1], ld)

    return Bijector(init, forward, inverse)


def squeeze(factor: int = 2) -> Bijector:
    """Space-to-depth [B, H, W, C] -> [B, H/f, W/f, f*f*C]; a permutation, logdet 0."""

    def _check(x):
        if x.ndim != 4 or x.shape[1] % factor or x.shape[2] % factor:
            raise ValueError(f"squeeze: needs x: [B, H, W, C] with H, W divisible by {factor}; "
                             f"got shape {x.shape}")

    def forward(params, x, context=None):
        _check(x)
        b, h, w, c = x.shape
        x = x.reshape(b, h // factor, factor, w // factor, factor, c).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(b, h // factor, w // factor, factor * factor * c), _zeros(x)

    def inverse(params, y, context=None):
        b, h, w, c = y.shape
        if c % (factor * factor):
            raise ValueError(f"squeeze.inverse: channels {c} not divisible by {factor * factor}")
        y = y.reshape(b, h, w, factor, factor, c // factor**2).transpose(0, 1, 3, 2, 4, 5)
        return y.reshape(b, h * factor, w * factor, c // factor**2), _zeros(y)

    def init(x, key, context=None):
        return None, forward(None, x)[0]

    return Bijector(init, forward, inverse)


def factor_out(inner: Bijector) -> Bijector:
    """Multi-scale factor-out: keep the first half of the channels as latent, send the rest on.

    y = concat(x[..., :C/2], inner(x[..., C/2:])); logdet = logdet(inner). Nested with
    ``squeeze`` this is RealNVP's multi-scale architecture with the latent kept in x's shape.
    """

    def _split(x):
        c = x.shape[-1]
        if c % 2:
            raise ValueError(f"factor_out: needs an even number of channels, got {c}")
        return x[..., : c // 2], x[..., c // 2:]

    def init(x, key, context=None):
        x1, x2 = _split(x)
        params, y2 = inner.init(x2, key, context)
        return params, jnp.concatenate([x1, y2], axis=-1)

    def forward(params, x, context=None):
        x1, x2 = _split(x)
        y2, ld = inner.forward(params, x2, context)
        return jnp.concatenate([x1, y2], axis=-1), ld

    def inverse(params, y, context=None):
        y1, y2 = _split(y)
        x2, ld = inner.inverse(params, y2, context)
        return jnp.concatenate([y1, x2], axis=-1), ld

    return Bijector(init, forward, inverse)
