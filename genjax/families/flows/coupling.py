"""Coupling layers: NICE additive and RealNVP / Glow affine couplings, and their masks.

A binary mask b (1 = conditioning coordinates, passed through; 0 = transformed ones) splits x.
With h = net(b * x, context):

    additive (NICE):   y = x + (1 - b) * m(b x),                        logdet = 0
    affine (RealNVP):  y = x * exp(s) + t,  s = (1 - b) * scale * tanh(h_s),  t = (1 - b) h_t,
                       logdet = sum(s)

The inverse uses the same net on b * y = b * x. The net's last layer is zero-initialised, so every
coupling starts as the identity (Glow). ``scale * tanh`` bounds the log-scale as in RealNVP.

Masks: ``checkerboard_mask`` (alternating coordinates of a vector, or a spatial checkerboard of an
image) and ``channel_mask`` (first / second half of the channels; Glow's split).

References: Dinh et al. 2015, "NICE: Non-linear Independent Components Estimation"; Dinh et al.
2017, "Density estimation using Real NVP"; Kingma & Dhariwal 2018, "Glow".
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genjax.families.flows.bijectors import Bijector

Array = jax.Array


def checkerboard_mask(event_shape: Sequence[int], parity: int = 0) -> np.ndarray:
    """Checkerboard mask: vector [D] -> b_i = (i + parity) even; image [H, W, C] -> b_hw = (h + w
    + parity) even (same for all channels). A vector needs an even D (two equal halves)."""
    event_shape = tuple(int(s) for s in event_shape)
    if len(event_shape) == 1:
        (dim,) = event_shape
        if dim % 2:
            raise ValueError(
                f"checkerboard coupling: dim={dim} is odd, so the two alternating couplings would "
                "transform unequal halves; pad the data with one extra coordinate (e.g. independent "
                "noise) to an even dimension")
        return ((np.arange(dim) + parity) % 2 == 0).astype(np.float32)
    if len(event_shape) == 3:
        h, w, c = event_shape
        board = (np.arange(h)[:, None] + np.arange(w)[None, :] + parity) % 2 == 0
        return np.broadcast_to(board[:, :, None], (h, w, c)).astype(np.float32)
    raise ValueError(f"checkerboard_mask: event_shape must be (D,) or (H, W, C), got {event_shape}")


def channel_mask(event_shape: Sequence[int], parity: int = 0) -> np.ndarray:
    """Channel mask: the first half of the last axis conditions (parity 0) or the second (1)."""
    event_shape = tuple(int(s) for s in event_shape)
    c = event_shape[-1]
    if c % 2:
        raise ValueError(f"channel coupling: the last axis must be even, got event_shape={event_shape}")
    half = (np.arange(c) < c // 2) if parity % 2 == 0 else (np.arange(c) >= c // 2)
    return np.broadcast_to(half.astype(np.float32), event_shape).copy()


def _check_shape(mask: Array, x: Array, name: str):
    if tuple(x.shape[1:]) != tuple(mask.shape):
        raise ValueError(f"{name}: x has event shape {tuple(x.shape[1:])} but the coupling was "
                         f"built for {tuple(mask.shape)}")


def _sum_event(v: Array) -> Array:
    return jnp.sum(v.reshape(v.shape[0], -1), axis=-1)


def additive_coupling(mask: np.ndarray, net: nn.Module) -> Bijector:
    """NICE coupling y = x + (1 - b) * net(b x, context); volume preserving (logdet 0).

    Args:
      mask: [*event] 0/1 array, 1 on the conditioning coordinates.
      net: flax module net(x_masked [B, *event], context) -> [B, *event].
    """
    b = jnp.asarray(mask, jnp.float32)

    def shift(params, x, context):
        return (1.0 - b) * net.apply({"params": params}, x * b, context)

    def init(x, key, context=None):
        _check_shape(b, x, "additive_coupling")
        params = net.init(key, x * b, context)["params"]
        return params, forward(params, x, context)[0]

    def forward(params, x, context=None):
        _check_shape(b, x, "additive_coupling")
        return x + shift(params, x, context), jnp.zeros(x.shape[:1], x.dtype)

    def inverse(params, y, context=None):
        _check_shape(b, y, "additive_coupling")
        return y - shift(params, y, context), jnp.zeros(y.shape[:1], y.dtype)

    return Bijector(init, forward, inverse)


def affine_coupling(mask: np.ndarray, net: nn.Module) -> Bijector:
    """RealNVP / Glow coupling y = x * exp(s) + t with (s, t) from net(b x, context).

    Args:
      mask: [*event] 0/1 array, 1 on the conditioning coordinates.
      net: flax module net(x_masked [B, *event], context) -> [B, *event[:-1], 2 * event[-1]]
        (log-scale logits then shift); its last layer should be zero-initialised.
    """
    b = jnp.asarray(mask, jnp.float32)

    def scale_shift(params, x, context):
        h = net.apply({"params": params["net"]}, x * b, context)
        raw_s, t = jnp.split(h, 2, axis=-1)
        s = (1.0 - b) * params["scale"] * jnp.tanh(raw_s)
        return s, (1.0 - b) * t

    def init(x, key, context=None):
        _check_shape(b, x, "affine_coupling")
        params = {"net": net.init(key, x * b, context)["params"],
                  "scale": jnp.ones(x.shape[-1:], x.dtype)}
        return params, forward(params, x, context)[0]

    def forward(params, x, context=None):
        _check_shape(b, x, "affine_coupling")
        s, t = scale_shift(params, x, context)
        return x * jnp.exp(s) + t, _sum_event(s)

    def inverse(params, y, context=None):
        _check_shape(b, y, "affine_coupling")
        s, t = scale_shift(params, y, context)
        return (y - t) * jnp.exp(-s), -_sum_event(s)

    return Bijector(init, forward, inverse)
