"""Small MLPs for the sample-based families: critics, energies, generators, Poisson fields.

These are plain ``flax.linen`` modules (params stay a plain pytree). They act on each sample of a
batch independently (no batch statistics), which the gradient penalties and Langevin dynamics
rely on: ``grad(sum_b f(x)_b)`` is then the per-sample input gradient.

* ``ScalarMLP``: x [B, ...] -> [B]; a GAN critic / discriminator logit or an EBM energy.
* ``MLPGenerator``: z [B, latent] -> x [B, *out_shape]; a GAN generator.
* ``PoissonFieldMLP``: x_aug [B, d + 1] -> [B, d + 1]; the normalised Poisson field of PFGM,
  conditioned on log z as in the paper (the network sees (x, z) and log z).

References: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (toy critic: ReLU MLP);
Du & Mordatch 2019, "Implicit Generation and Generalization in Energy-Based Models" (smooth
activations for energies); Xu et al. 2022, "Poisson Flow Generative Models".
"""
from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS = {
    "relu": nn.relu,
    "leaky_relu": lambda x: nn.leaky_relu(x, 0.2),
    "swish": nn.swish,
    "softplus": nn.softplus,
    "elu": nn.elu,
    "tanh": jnp.tanh,
}


def activation(name: str) -> Callable:
    """The activation called ``name``; ValueError for an unknown name."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


class ScalarMLP(nn.Module):
    """x [B, ...] -> [B]: flatten, ``len(hidden)`` dense layers with ``act``, a scalar head.

    Attributes:
      hidden: widths of the hidden layers.
      act: activation name (see ``ACTIVATIONS``); "swish"/"softplus" give smooth energies.
    """

    hidden: Sequence[int] = (128, 128, 128)
    act: str = "relu"

    @nn.compact
    def __call__(self, x):  # x: [B, ...] -> [B]
        f = activation(self.act)
        h = x.reshape(x.shape[0], -1)
        for width in self.hidden:
            h = f(nn.Dense(width)(h))
        return nn.Dense(1)(h)[:, 0]


class MLPGenerator(nn.Module):
    """z [B, latent] -> x [B, *out_shape]: an MLP with a linear head reshaped to ``out_shape``."""

    out_shape: Sequence[int] = (2,)
    hidden: Sequence[int] = (128, 128, 128)
    act: str = "relu"

    @nn.compact
    def __call__(self, z):  # z: [B, latent] -> [B, *out_shape]
        f = activation(self.act)
        h = z
        for width in self.hidden:
            h = f(nn.Dense(width)(h))
        size = 1
        for s in self.out_shape:
            size *= int(s)
        return nn.Dense(size)(h).reshape((z.shape[0],) + tuple(self.out_shape))


class PoissonFieldMLP(nn.Module):
    """x_aug [B, d + 1] -> [B, d + 1]: the normalised Poisson field of PFGM.

    The last coordinate of ``x_aug`` is the augmented z > 0. Points range from the data (radius
    ~ 1) to the far hemisphere (radius ~ 10^3), so the network sees bounded features: the squashed
    position x_aug / sqrt(1 + ||x_aug||^2), log(1 + ||x_aug||) and log z (as a diffusion net sees
    log sigma).
    """

    hidden: Sequence[int] = (256, 256, 256)
    act: str = "swish"

    @nn.compact
    def __call__(self, x_aug):  # x_aug: [B, d + 1] -> [B, d + 1]
        f = activation(self.act)
        log_z = jnp.log(jnp.maximum(x_aug[:, -1:], 1e-6))
        sq = jnp.sum(jnp.square(x_aug), axis=-1, keepdims=True)
        h = jnp.concatenate([x_aug * jax.lax.rsqrt(1.0 + sq), jnp.log1p(jnp.sqrt(sq)), log_z], axis=-1)
        for width in self.hidden:
            h = f(nn.Dense(width)(h))
        return nn.Dense(x_aug.shape[-1])(h)
