"""A time-conditioned MLP for low-dimensional data (toy 2-D sets, small vectors).

    emb = TimeEmbedding(t) [+ LabelEmbedding(label)]
    h_0 = x (flattened);   h_{l+1} = SiLU(Dense(h_l) + Dense(emb)),  l = 0 .. L-1
    out = Dense(h_L)  reshaped to x.shape

Each hidden layer receives the embedding additively (FiLM-style shift), which trains faster than
concatenating t to the input once. No losses live here; what the output means ("eps", "x0", "v",
"velocity" or the raw "edm" F) is declared by the caller (``genjax.nets.precond``).

References: Ho et al. 2020, "Denoising Diffusion Probabilistic Models"; Liu et al. 2023,
"Flow Straight and Fast" (toy MLP velocity fields); Ho & Salimans 2021, "Classifier-Free
Diffusion Guidance".
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.embeddings import LabelEmbedding, TimeEmbedding, batch_times, check_time_embedding

Array = jax.Array


class MLP(nn.Module):
    """net(x, t, label=None, train=False): x [B, ...], t [] or [B] -> [B, ...] (same shape as x).

    Attributes:
      features: hidden widths.
      embed_dim: width of the time (and label) embedding.
      time_embedding: "fourier" (default) or "sinusoidal".
      t_scale: multiplies t before a sinusoidal code.
      fourier_scale: std of the Fourier frequencies.
      num_classes: number of classes for a conditional model (None: unconditional); the extra
        row ``num_classes`` is the null label of classifier-free guidance.
      dropout: dropout rate on hidden layers when ``train`` (rng stream "dropout").
    """

    features: Sequence[int] = (256, 256, 256)
    embed_dim: int = 128
    time_embedding: str = "fourier"
    t_scale: float = 1000.0
    fourier_scale: float = 16.0
    num_classes: Optional[int] = None
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: Array, t: Array, label: Optional[Array] = None, train: bool = False) -> Array:
        check_time_embedding(self.time_embedding)
        b = x.shape[0]
        d = math.prod(x.shape[1:])
        emb = TimeEmbedding(self.embed_dim, self.time_embedding, t_scale=self.t_scale,
                            fourier_scale=self.fourier_scale)(batch_times(t, b))
        if self.num_classes is not None:
            emb = emb + LabelEmbedding(self.num_classes, self.embed_dim)(label, b)
        emb = nn.silu(emb)
        h = x.reshape(b, d).astype(jnp.float32)
        for width in self.features:
            h = nn.silu(nn.Dense(width)(h) + nn.Dense(width)(emb))
            if self.dropout > 0:
                h = nn.Dropout(self.dropout)(h, deterministic=not train)
        return nn.Dense(d)(h).reshape(x.shape)
