"""Normalizing-flow models: NICE, RealNVP (vector and multi-scale image), Glow.

A model is a ``Flow`` of pure functions around a bijector z = T(x) and a standard-normal base:

    log p(x) = log N(T(x); 0, I) + log|det dT/dx|,        x = T^{-1}(z), z ~ N(0, temperature^2 I)

    params = f.init(x, key)              # x: an example batch (actnorm initialises from it)
    z, logdet = f.forward(params, x)     # data -> latent, logdet: [B]
    x, logdet = f.inverse(params, z)     # latent -> data
    logp = f.log_prob(params, x)         # [B]
    x = f.sample(params, n, key, temperature=1.0)

The latent z keeps the data's shape (multi-scale factor-out keeps the factored coordinates in
place), so reduced-temperature sampling and data -> latent pictures need no bookkeeping.
The PRNG key comes last (genjax convention), unlike the ``init(key, x)`` order of the issue text.

References: Dinh et al. 2015, "NICE"; Dinh et al. 2017, "Density estimation using Real NVP";
Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions".
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from genjax.families.flows.bijectors import (Bijector, actnorm, chain, factor_out, invert,
                                             invertible_linear, scaling, squeeze)
from genjax.families.flows.coupling import (additive_coupling, affine_coupling, channel_mask,
                                            checkerboard_mask)
from genjax.nets.flow_nets import MLP, ConvNet, init_key

Array = jax.Array


class Flow(NamedTuple):
    """A density model with an exact (or estimated, for Hutchinson CNFs) log-likelihood.

    Attributes:
      init: ``init(x, key) -> params``.
      forward: ``forward(params, x) -> (z, logdet [B])`` (CNFs: ``forward(params, x, key=None)``).
      inverse: ``inverse(params, z) -> (x, logdet [B])``.
      log_prob: ``log_prob(params, x, key=None) -> [B]``; the key is read only by stochastic
        estimators (Hutchinson CNF).
      sample: ``sample(params, n, key, temperature=1.0) -> [n, *event_shape]``.
      event_shape: the shape of one data point.
    """

    init: Callable
    forward: Callable
    inverse: Callable
    log_prob: Callable
    sample: Callable
    event_shape: tuple


def standard_normal_log_prob(z: Array) -> Array:
    """log N(z; 0, I) summed over the event axes: [B, ...] -> [B]."""
    flat = z.reshape(z.shape[0], -1)
    return -0.5 * jnp.sum(flat**2, axis=-1) - 0.5 * flat.shape[-1] * math.log(2 * math.pi)


def check_batch(x: Array, event_shape: tuple, name: str = "x") -> None:
    """Raise ValueError unless x has shape [B, *event_shape] (static check, before tracing)."""
    if tuple(jnp.shape(x)[1:]) != tuple(event_shape) or jnp.ndim(x) != len(event_shape) + 1:
        raise ValueError(f"{name} must have shape [B, {', '.join(map(str, event_shape))}], "
                         f"got {tuple(jnp.shape(x))}")


def check_num_samples(n) -> int:
    """``n`` as a Python int >= 1 (numpy ints accepted); ValueError naming ``n`` otherwise."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (the number of samples) must be an int >= 1, got {n!r}")
    return int(n)


def from_bijector(bijector: Bijector, event_shape: Sequence[int],
                  preprocess: Optional[Bijector] = None) -> Flow:
    """Wrap a bijector x -> z (optionally after a parameter-free ``preprocess``) into a Flow."""
    event_shape = tuple(int(s) for s in event_shape)
    bij = bijector if preprocess is None else chain([preprocess, bijector])

    def init(x, key):
        check_batch(x, event_shape)
        return bij.init(jnp.asarray(x, jnp.float32), init_key(key))[0]

    def forward(params, x):
        check_batch(x, event_shape)
        return bij.forward(params, x)

    def inverse(params, z):
        check_batch(z, event_shape, "z")
        return bij.inverse(params, z)

    def log_prob(params, x, key=None):
        del key
        z, logdet = forward(params, x)
        return standard_normal_log_prob(z) + logdet

    def sample(params, n, key, temperature=1.0):
        z = temperature * jax.random.normal(key, (check_num_samples(n),) + event_shape)
        return bij.inverse(params, z)[0]

    return Flow(init, forward, inverse, log_prob, sample, event_shape)


def _check_dim(dim) -> int:
    if not isinstance(dim, int) or dim < 2:
        raise ValueError(f"dim must be an int >= 2, got {dim!r}")
    return dim


def nice(dim: int, num_couplings: int = 4, hidden: Sequence[int] = (1000,) * 5,
         preprocess: Optional[Bijector] = None) -> Flow:
    """NICE: additive couplings on alternating coordinates, then a diagonal scaling.

    z = S * (g_K o ... o g_1)(x), g_k(x) = x + (1 - b_k) m_k(b_k x); log|det| = sum(log S).
    (The paper's logistic base is replaced by a standard normal, as in the issue's API.)
    """
    dim = _check_dim(dim)
    layers = [additive_coupling(checkerboard_mask((dim,), k % 2), MLP(tuple(hidden), dim))
              for k in range(num_couplings)]
    return from_bijector(chain(layers + [scaling()]), (dim,), preprocess)


def realnvp(dim: int, num_couplings: int = 8, hidden: Sequence[int] = (256, 256),
            preprocess: Optional[Bijector] = None) -> Flow:
    """RealNVP on vectors: actnorm + affine coupling, alternating checkerboard masks.

    y = b x + (1 - b)(x exp(s(b x)) + t(b x)); log|det| = sum (1 - b) s. Actnorm (data-dependent
    per-coordinate affine, initialised to zero mean / unit variance) stands in for RealNVP's batch
    normalisation, which would make the density depend on the batch.
    """
    dim = _check_dim(dim)
    layers = [layer for k in range(num_couplings)
              for layer in (actnorm(), affine_coupling(checkerboard_mask((dim,), k % 2),
                                                       MLP(tuple(hidden), 2 * dim)))]
    return from_bijector(chain(layers), (dim,), preprocess)


def _check_image(shape, levels) -> tuple:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3:
        raise ValueError(f"shape must be (H, W, C), got {shape}")
    h, w, _ = shape
    if levels < 1 or h % 2**levels or w % 2**levels:
        raise ValueError(f"shape={shape}: H and W must be divisible by 2**levels = {2**levels} "
                         f"(levels={levels}) for the squeezes")
    return shape


def realnvp_image(shape: Sequence[int], levels: int = 2, hidden: int = 64,
                  preprocess: Optional[Bijector] = None) -> Flow:
    """Multi-scale RealNVP on images [H, W, C].

    Each level but the last: 3 checkerboard couplings, squeeze, 3 channel couplings, then half of
    the channels are factored out and the rest go to the next level; the last level is 4
    checkerboard couplings. Conditioners are small conv nets (``ConvNet``).
    """
    shape = _check_image(shape, levels - 1)

    def level(h, w, c, l):
        ckb = lambda k, n: [affine_coupling(checkerboard_mask((h, w, c), j % 2), ConvNet(hidden, 2 * c))
                            for j in range(k, k + n)]
        if l == levels - 1:
            return chain(ckb(0, 4))
        c4 = 4 * c
        chn = [affine_coupling(channel_mask((h // 2, w // 2, c4), j % 2), ConvNet(hidden, 2 * c4))
               for j in range(3)]
        inner = level(h // 2, w // 2, c4 // 2, l + 1)
        return chain(ckb(0, 3) + [squeeze()] + chn + [factor_out(inner), invert(squeeze())])

    return from_bijector(level(*shape, 0), shape, preprocess)


def _glow_step(event_shape: tuple, hidden: int, seed: int) -> list:
    """actnorm -> invertible 1x1 conv (LU) -> affine coupling on the channel halves."""
    c = event_shape[-1]
    net = MLP((hidden, hidden), 2 * c) if len(event_shape) == 1 else ConvNet(hidden, 2 * c)
    return [actnorm(), invertible_linear(c, seed=seed),
            affine_coupling(channel_mask(event_shape, 0), net)]


def glow(shape: Sequence[int], levels: int = 2, steps_per_level: int = 8, hidden: int = 256,
         preprocess: Optional[Bijector] = None) -> Flow:
    """Glow: levels of (squeeze, K x [actnorm, 1x1 conv, affine coupling], factor-out).

    ``shape = (H, W, C)`` builds the multi-scale image model; ``shape = (D,)`` (a 1x1 image with D
    channels: no squeeze, ``levels`` must be 1) builds the same step stack with MLP conditioners,
    used for the 2-D toys.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        if levels != 1:
            raise ValueError(f"glow on vectors (shape={shape}) has no squeeze: levels must be 1, got {levels}")
        _check_dim(shape[0])
        steps = [l for k in range(steps_per_level) for l in _glow_step(shape, hidden, k)]
        return from_bijector(chain(steps), shape, preprocess)
    shape = _check_image(shape, levels)
    counter = iter(range(10**6))

    def level(h, w, c, l):
        h, w, c = h // 2, w // 2, 4 * c
        steps = [layer for _ in range(steps_per_level)
                 for layer in _glow_step((h, w, c), hidden, next(counter))]
        if l < levels - 1:
            steps.append(factor_out(level(h, w, c // 2, l + 1)))
        return chain([squeeze()] + steps + [invert(squeeze())])

    return from_bijector(level(*shape, 0), shape, preprocess)
