"""Small flax.linen networks for the likelihood families (flows, CNF, VAE, MADE).

Conditioners of coupling layers end in a zero-initialised layer, so every coupling starts as the
identity map (Glow's initialisation, which keeps deep flows stable at step 0).

References: Dinh et al. 2015, "NICE"; Dinh et al. 2017, "Density estimation using Real NVP";
Kingma & Dhariwal 2018, "Glow"; Grathwohl et al. 2019, "FFJORD"; Germain et al. 2015, "MADE".
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


class MLP(nn.Module):
    """x: [B, d_in] (optionally with context [B, d_c] concatenated) -> [B, out_dim].

    Hidden layers with ``activation``; the last layer is zero-initialised when ``zero_init``.
    """

    hidden: Sequence[int]
    out_dim: int
    zero_init: bool = True
    activation: str = "relu"

    @nn.compact
    def __call__(self, x, context=None):
        if context is not None:
            x = jnp.concatenate([x, context], axis=-1)
        act = getattr(nn, self.activation)
        for width in self.hidden:
            x = act(nn.Dense(width)(x))
        last_init = nn.initializers.zeros if self.zero_init else nn.linear.default_kernel_init
        return nn.Dense(self.out_dim, kernel_init=last_init)(x)


class ConvNet(nn.Module):
    """Glow's coupling network: conv3x3 -> relu -> conv1x1 -> relu -> zero-init conv3x3.

    x: [B, H, W, C_in] -> [B, H, W, out_channels]. A context (unused by image flows here) is
    concatenated along channels when given.
    """

    hidden: int
    out_channels: int

    @nn.compact
    def __call__(self, x, context=None):
        if context is not None:
            x = jnp.concatenate([x, context], axis=-1)
        x = nn.relu(nn.Conv(self.hidden, (3, 3), padding="SAME")(x))
        x = nn.relu(nn.Conv(self.hidden, (1, 1))(x))
        return nn.Conv(self.out_channels, (3, 3), padding="SAME",
                       kernel_init=nn.initializers.zeros)(x)


class ODEMLP(nn.Module):
    """Vector field of a CNF: f(t, x) with x: [B, d], t scalar; time is concatenated to every
    layer's input (FFJORD's "concat" layers) and tanh keeps the field smooth for ODE solvers."""

    hidden: Sequence[int]
    out_dim: int

    @nn.compact
    def __call__(self, x, t):
        tt = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:-1] + (1,))
        for width in self.hidden:
            x = jnp.tanh(nn.Dense(width)(jnp.concatenate([x, tt], axis=-1)))
        return nn.Dense(self.out_dim)(jnp.concatenate([x, tt], axis=-1))


class MaskedDense(nn.Module):
    """Dense layer whose kernel is multiplied by a fixed 0/1 ``mask`` [d_in, d_out] (MADE)."""

    features: int
    mask: np.ndarray

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", nn.linear.default_kernel_init, (x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return x @ (kernel * jnp.asarray(self.mask, kernel.dtype)) + bias


class MADENet(nn.Module):
    """Masked autoencoder: x: [B, D] -> logits [B, D]; ``masks`` is the list of per-layer masks
    (hidden layers then output), built from an ordering by ``made_masks``."""

    hidden: Sequence[int]
    masks: Sequence[np.ndarray]

    @nn.compact
    def __call__(self, x):
        for width, mask in zip(self.hidden, self.masks[:-1]):
            x = nn.relu(MaskedDense(width, mask)(x))
        return MaskedDense(self.masks[-1].shape[1], self.masks[-1])(x)


def made_masks(order: np.ndarray, hidden: Sequence[int], seed: int) -> list[np.ndarray]:
    """MADE masks for the input ``order`` (order[i] = position of x_i, 0-based, a permutation).

    Hidden unit degrees m(k) are drawn in [min degree of the previous layer, D - 2]; a connection
    from degree a to hidden degree b exists iff b >= a, and to output i iff order[i] > b, so
    logit_i depends only on the x_j with order[j] < order[i].
    """
    rng = np.random.default_rng(seed)
    dim = len(order)
    degrees = [np.asarray(order)]
    for width in hidden:
        low = min(int(degrees[-1].min()), dim - 2)
        degrees.append(rng.integers(low, max(dim - 1, low + 1), size=width))
    masks = [(d_out[None, :] >= d_in[:, None]).astype(np.float32)
             for d_in, d_out in zip(degrees[:-1], degrees[1:])]
    masks.append((np.asarray(order)[None, :] > degrees[-1][:, None]).astype(np.float32))
    return masks


def init_params(module: nn.Module, key: jax.Array, *args):
    """``module.init(key, *args)['params']`` as a plain pytree."""
    return module.init(key, *args)["params"]


def init_key(key: jax.Array) -> jax.Array:
    """An ``unsafe_rbg`` key seeded from ``key``, for parameter initialisation only.

    Deterministic in ``key``. JAX's default (partitionable) threefry makes XLA:CPU compile a deep
    flow's ``init`` ~5-8x slower (tens of seconds for a small Glow) because every initialiser
    inlines its own hash; the RngBitGenerator behind ``unsafe_rbg`` compiles in a fraction.
    """
    return jax.random.key(jax.random.bits(key, (), jnp.uint32), impl="unsafe_rbg")
