"""EDM's unified U-Net block and noise embeddings (NHWC), shared by SongUNet and DhariwalUNet.

UNetBlock(x, emb), the union of the DDPM++, NCSN++ and ADM residual blocks:

    h = Conv3x3(SiLU(GN0(x)))                                    (up / down by FIR inside conv0)
    adaptive_scale:  (s, b) = Linear(emb);  h = SiLU(GN1(h) (1 + s) + b)          (ADM)
    otherwise:       h = SiLU(GN1(h + Linear(emb)))                                (DDPM++)
    y = (Conv3x3(Dropout(h)) + skip(x)) * skip_scale     skip: identity, or a 1x1 conv / pure FIR
                                                         resampling when channels or size change
    attention:  y = (y + Proj(MHA(GN2(y)))) * skip_scale,  MHA per head of C / heads channels:
                softmax_k(q_c . k_c / sqrt(C / heads)) v, from one 1x1 conv giving (q, k, v)

The 1x1 "qkv" conv interleaves its 3C outputs as (head, channel, {q, k, v}), EDM's layout, so
imported weights need no permutation.

Noise embeddings of a scalar label c [B]: ``positional(c, n, endpoint)`` = [cos(c w), sin(c w)],
w_j = (1 / max_positions)^(j / (n/2 - endpoint)); ``FourierEmbedding`` = [cos(2 pi c f), sin(2 pi c f)],
f ~ N(0, scale^2) fixed (from a numpy seed, or the "buffers" collection of imported weights).

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (their networks); Song et al. 2021, "Score-Based Generative Modeling through Stochastic
Differential Equations" (DDPM++ / NCSN++ blocks); Dhariwal & Nichol 2021, "Diffusion Models Beat
GANs on Image Synthesis" (ADM: adaptive group norm, 64 channels per head).
"""
from __future__ import annotations

import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genjax.nets.layers import Conv2d, Init, Linear, fixed, group_norm

Array = jax.Array


class UNetBlock(nn.Module):
    """x [B, H, W, in] , emb [B, E] -> [B, H', W', out_channels] (module docstring).

    Attributes mirror EDM's UNetBlock: ``num_heads`` (None: out_channels // channels_per_head)
    applies when ``attention``; ``init`` / ``init_zero`` / ``init_attn`` are the initialisers of the
    ordinary, the output (conv1, proj) and the qkv layers.
    """

    out_channels: int
    up: bool = False
    down: bool = False
    attention: bool = False
    num_heads: Optional[int] = None
    channels_per_head: int = 64
    dropout: float = 0.0
    skip_scale: float = 1.0
    eps: float = 1e-5
    resample_filter: tuple = (1, 1)
    resample_proj: bool = False
    adaptive_scale: bool = True
    init: Init = Init()
    init_zero: Init = Init(weight=0.0)
    init_attn: Optional[Init] = None

    def heads(self) -> int:
        if not self.attention:
            return 0
        return self.num_heads if self.num_heads is not None else self.out_channels // self.channels_per_head

    @nn.compact
    def __call__(self, x: Array, emb: Array, train: bool = False) -> Array:
        cin, cout = x.shape[-1], self.out_channels
        orig = x
        h = nn.silu(group_norm(cin, self.eps, "norm0")(x))
        h = Conv2d(cout, 3, up=self.up, down=self.down, resample_filter=self.resample_filter, init=self.init,
                   name="conv0")(h)
        params = Linear(cout * (2 if self.adaptive_scale else 1), init=self.init, name="affine")(emb)
        params = params[:, None, None, :].astype(h.dtype)
        norm1 = group_norm(cout, self.eps, "norm1")
        if self.adaptive_scale:
            scale, shift = params[..., :cout], params[..., cout:]
            h = nn.silu(norm1(h) * (scale + 1.0) + shift)
        else:
            h = nn.silu(norm1(h + params))
        if self.dropout:
            h = nn.Dropout(self.dropout)(h, deterministic=not train)
        h = Conv2d(cout, 3, init=self.init_zero, name="conv1")(h)
        if cout != cin or self.up or self.down:
            kernel = 1 if (self.resample_proj or cout != cin) else 0
            orig = Conv2d(cout, kernel, up=self.up, down=self.down, resample_filter=self.resample_filter,
                          init=self.init, name="skip")(orig)
        y = (h + orig) * self.skip_scale
        heads = self.heads()
        if heads:
            if cout % heads:
                raise ValueError(f"UNetBlock: {cout} channels do not split into {heads} attention heads")
            b, hh, ww, _ = y.shape
            qkv = Conv2d(3 * cout, 1, init=self.init_attn if self.init_attn is not None else self.init,
                         name="qkv")(group_norm(cout, self.eps, "norm2")(y))
            qkv = qkv.reshape(b, hh * ww, heads, cout // heads, 3).astype(jnp.float32)
            q, k, v = qkv[..., 0], qkv[..., 1], qkv[..., 2]                  # [B, N, heads, C/heads]
            logits = jnp.einsum("bqhc,bkhc->bhqk", q, k / math.sqrt(cout // heads))
            w = jax.nn.softmax(logits, axis=-1)
            a = jnp.einsum("bhqk,bkhc->bqhc", w, v).reshape(b, hh, ww, cout).astype(y.dtype)
            y = (Conv2d(cout, 1, init=self.init_zero, name="proj")(a) + y) * self.skip_scale
        return y


def positional(c: Array, num_channels: int, max_positions: float = 10000.0, endpoint: bool = False) -> Array:
    """[cos(c w), sin(c w)], w_j = max_positions^(-j / (n/2 - endpoint)), j < n/2: [B] -> [B, n].

    References: Vaswani et al. 2017; Karras et al. 2022 (PositionalEmbedding, endpoint for DDPM++).
    """
    half = num_channels // 2
    j = np.arange(half, dtype=np.float32) / np.float32(half - (1 if endpoint else 0))  # float32 as EDM
    w = jnp.asarray(np.float32(1.0 / max_positions) ** j, jnp.float32)
    arg = jnp.asarray(c, jnp.float32)[:, None] * w[None]
    return jnp.concatenate([jnp.cos(arg), jnp.sin(arg)], axis=-1)


class FourierEmbedding(nn.Module):
    """c [B] -> [B, n]: [cos(2 pi c f), sin(2 pi c f)] with fixed f [n/2] ~ N(0, scale^2).

    f comes from the "buffers" collection ("freqs") when the variables carry it (imported weights),
    else from ``numpy.random.default_rng(seed)``: a constant, never a parameter.

    References: Tancik et al. 2020; Song et al. 2021 (GaussianFourierProjection of NCSN++).
    """

    num_channels: int
    scale: float = 16.0
    seed: int = 0

    @nn.compact
    def __call__(self, c: Array) -> Array:
        rng = np.random.default_rng(self.seed)
        f = fixed(self, "freqs", (rng.standard_normal(self.num_channels // 2) * self.scale).astype(np.float32))
        arg = jnp.asarray(c, jnp.float32)[:, None] * (2.0 * np.pi * f)[None]
        return jnp.concatenate([jnp.cos(arg), jnp.sin(arg)], axis=-1)
