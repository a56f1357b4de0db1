"""Time and label embeddings for score / flow networks.

* ``sinusoidal(t, dim)``: the transformer positional code of DDPM, applied to ``t_scale * t``:
  ``[cos(t w_k), sin(t w_k)]`` with ``w_k = max_period^(-k / (dim/2))``, k = 0 .. dim/2 - 1.
* ``fourier(t, dim)``: Gaussian random Fourier features ``[cos(2 pi W t), sin(2 pi W t)]`` with
  ``W ~ N(0, scale^2)`` drawn from a fixed seed, so no parameter (and no optimiser state) is needed.
* ``TimeEmbedding``: one of the codes above followed by Dense -> SiLU -> Dense.
* ``LabelEmbedding``: a learned table of ``num_classes + 1`` rows; the last row is the *null label*
  used for classifier-free guidance. A negative label (``NULL_LABEL = -1``), the label
  ``num_classes`` and ``label=None`` all select it.

The time a network receives is whatever its caller passes: ``t`` itself for the "eps" / "x0" /
"v" / "velocity" parameterisations, ``c_noise = log(sigma / alpha) / 4`` for "edm" (see
``genjax.nets.precond``). Fourier features with scale 16 resolve both ranges; the sinusoidal code
wants ``t_scale ~ 1000`` for t in [0, 1] (DDPM's integer steps) and ``t_scale ~ 1`` to 100 for
c_noise.

References: Vaswani et al. 2017, "Attention Is All You Need" (sinusoidal code); Ho et al. 2020,
"Denoising Diffusion Probabilistic Models"; Tancik et al. 2020, "Fourier Features Let Networks
Learn High Frequency Functions"; Song et al. 2021, "Score-Based Generative Modeling through
Stochastic Differential Equations" (Gaussian Fourier projection); Ho & Salimans 2021,
"Classifier-Free Diffusion Guidance" (null label).
"""
from __future__ import annotations

import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

NULL_LABEL = -1
TIME_EMBEDDINGS = ("sinusoidal", "fourier")


def batch_times(t: Array, batch: int) -> Array:
    """t: [] or [B] -> [B] float32 (a scalar time is shared by the whole batch)."""
    t = jnp.asarray(t, jnp.float32)
    if t.ndim == 0:
        return jnp.broadcast_to(t, (batch,))
    if t.shape != (batch,):
        raise ValueError(f"t must be a scalar or have shape ({batch},), got {t.shape}")
    return t


def sinusoidal(t: Array, dim: int, max_period: float = 10000.0) -> Array:
    """Sinusoidal code of t: [B] -> [B, dim] (dim even): [cos(t w), sin(t w)], w_k = P^(-k/half).

    References: Vaswani et al. 2017; Ho et al. 2020.
    """
    if dim % 2:
        raise ValueError(f"sinusoidal: dim must be even, got {dim}")
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    arg = jnp.asarray(t, jnp.float32)[:, None] * freqs[None]
    return jnp.concatenate([jnp.cos(arg), jnp.sin(arg)], axis=-1)


def fourier(t: Array, dim: int, scale: float = 16.0, seed: int = 0) -> Array:
    """Gaussian Fourier features of t: [B] -> [B, dim]: [cos(2 pi W t), sin(2 pi W t)], W ~ N(0, s^2).

    W is a constant drawn from ``seed`` (not a parameter: it never trains and is never decayed).

    References: Tancik et al. 2020; Song et al. 2021 (GaussianFourierProjection of NCSN++).
    """
    if dim % 2:
        raise ValueError(f"fourier: dim must be even, got {dim}")
    w = scale * jax.random.normal(jax.random.key(seed), (dim // 2,), jnp.float32)
    arg = 2.0 * math.pi * jnp.asarray(t, jnp.float32)[:, None] * w[None]
    return jnp.concatenate([jnp.cos(arg), jnp.sin(arg)], axis=-1)


class TimeEmbedding(nn.Module):
    """t: [B] -> [B, features]: code (sinusoidal or fourier) -> Dense -> SiLU -> Dense.

    Attributes:
      features: output width.
      kind: "sinusoidal" or "fourier".
      dim: width of the fixed code.
      t_scale: multiplies t before the sinusoidal code (ignored by "fourier").
      fourier_scale: std of the Fourier frequencies.
    """

    features: int
    kind: str = "fourier"
    dim: int = 128
    t_scale: float = 1000.0
    fourier_scale: float = 16.0

    @nn.compact
    def __call__(self, t: Array) -> Array:
        if self.kind == "sinusoidal":
            code = sinusoidal(self.t_scale * t, self.dim)
        elif self.kind == "fourier":
            code = fourier(t, self.dim, self.fourier_scale)
        else:
            raise ValueError(f"time_embedding must be one of {TIME_EMBEDDINGS}, got {self.kind!r}")
        h = nn.Dense(self.features)(code)
        return nn.Dense(self.features)(nn.silu(h))


class LabelEmbedding(nn.Module):
    """label: [B] int (or None) -> [B, features]; row ``num_classes`` is the null label.

    Negative labels and ``label=None`` map to the null row (classifier-free guidance trains it
    by dropping labels with probability p_uncond; see ``genjax.losses``).
    """

    num_classes: int
    features: int

    @nn.compact
    def __call__(self, label: Optional[Array], batch: int) -> Array:
        if label is None:
            idx = jnp.full((batch,), self.num_classes, jnp.int32)
        else:
            label = jnp.asarray(label, jnp.int32)
            label = jnp.broadcast_to(label, (batch,)) if label.ndim == 0 else label
            idx = jnp.where((label < 0) | (label >= self.num_classes), self.num_classes, label)
        table = nn.Embed(self.num_classes + 1, self.features)
        return table(idx)


def check_time_embedding(kind: str) -> None:
    """ValueError naming the argument for an unknown time embedding (before tracing)."""
    if kind not in TIME_EMBEDDINGS:
        raise ValueError(f"time_embedding must be one of {TIME_EMBEDDINGS}, got {kind!r}")
