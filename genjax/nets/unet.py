"""A U-Net in the DDPM++ style for images [B, H, W, C] (8x8 digits, 28x28 MNIST, 32x32 CIFAR).

    h = Conv3x3(x)
    down:  for each level l (channels ch * ch_mult[l]): num_res_blocks x [ResBlock (+ Attention
           when the resolution H is in attn_resolutions)], then a stride-2 Conv3x3 (not after the
           last level); every output is kept as a skip connection
    mid:   ResBlock, Attention, ResBlock
    up:    for each level in reverse: (num_res_blocks + 1) x [concat(skip), ResBlock (+ Attention)],
           then nearest-neighbour upsampling *to the skip's spatial shape* and Conv3x3 (so odd
           sizes such as 28 -> 14 -> 7 -> 14 -> 28 work)
    out:   GroupNorm, SiLU, Conv3x3 (zero-initialised)

    ResBlock(x, emb) = (skip(x) + Conv(Dropout(SiLU(GN(Conv(SiLU(GN(x))) + Dense(emb)))))) / sqrt(2)
    Attention(x)     = (x + Proj(softmax(Q K^T / sqrt(C)) V)) / sqrt(2)

The 1/sqrt(2) residual rescaling is DDPM++'s ``skip_rescale``; the last conv of every block is
zero-initialised (each block starts as the identity on its skip path). Dropout uses the "dropout"
rng stream when ``train=True``. ``remat=True`` wraps the blocks in ``nn.remat`` (jax.checkpoint):
activations are recomputed in the backward pass, trading compute for memory.

References: Ho et al. 2020, "Denoising Diffusion Probabilistic Models" (the U-Net); Song et al.
2021, "Score-Based Generative Modeling through Stochastic Differential Equations" (DDPM++:
skip rescaling, Fourier embedding); Ho & Salimans 2021, "Classifier-Free Diffusion Guidance".
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.embeddings import LabelEmbedding, TimeEmbedding, batch_times, check_time_embedding

Array = jax.Array
_ZERO = nn.initializers.zeros


def _groups(channels: int, max_groups: int) -> int:
    """The largest group count <= max_groups that divides channels."""
    g = max(1, min(max_groups, channels))
    while channels % g:
        g -= 1
    return g


class ResBlock(nn.Module):
    """Residual block with time (and label) conditioning: x [B, H, W, C] -> [B, H, W, out_ch]."""

    out_ch: int
    dropout: float = 0.0
    num_groups: int = 32
    deterministic: bool = True

    @nn.compact
    def __call__(self, x: Array, emb: Array) -> Array:
        in_ch = x.shape[-1]
        h = nn.silu(nn.GroupNorm(_groups(in_ch, self.num_groups))(x))
        h = nn.Conv(self.out_ch, (3, 3))(h)
        h = h + nn.Dense(self.out_ch)(nn.silu(emb))[:, None, None, :]
        h = nn.silu(nn.GroupNorm(_groups(self.out_ch, self.num_groups))(h))
        if self.dropout > 0:
            h = nn.Dropout(self.dropout)(h, deterministic=self.deterministic)
        h = nn.Conv(self.out_ch, (3, 3), kernel_init=_ZERO)(h)
        if in_ch != self.out_ch:
            x = nn.Conv(self.out_ch, (1, 1))(x)
        return (x + h) / math.sqrt(2.0)


class AttnBlock(nn.Module):
    """Single-head self-attention over the H*W positions: x [B, H, W, C] -> same shape."""

    num_groups: int = 32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        b, hh, ww, c = x.shape
        h = nn.GroupNorm(_groups(c, self.num_groups))(x).reshape(b, hh * ww, c)
        q, k, v = (nn.Dense(c)(h) for _ in range(3))
        w = jax.nn.softmax(jnp.einsum("bic,bjc->bij", q, k) / math.sqrt(c), axis=-1)
        h = nn.Dense(c, kernel_init=_ZERO)(jnp.einsum("bij,bjc->bic", w, v))
        return (x + h.reshape(b, hh, ww, c)) / math.sqrt(2.0)


class Downsample(nn.Module):
    """Stride-2 Conv3x3 ('SAME' padding: H -> ceil(H / 2))."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return nn.Conv(x.shape[-1], (3, 3), strides=(2, 2))(x)


class Upsample(nn.Module):
    """Nearest-neighbour resize to ``shape`` (H, W), then Conv3x3."""

    @nn.compact
    def __call__(self, x: Array, shape) -> Array:
        b, _, _, c = x.shape
        x = jax.image.resize(x, (b, shape[0], shape[1], c), method="nearest")
        return nn.Conv(c, (3, 3))(x)


class UNet(nn.Module):
    """net(x, t, label=None, train=False): x [B, H, W, C], t [] or [B] -> [B, H, W, out_ch or C].

    Attributes:
      ch: base channel count.
      ch_mult: channel multiplier per resolution level (len = number of levels).
      num_res_blocks: residual blocks per level on the way down (one more on the way up).
      attn_resolutions: spatial sizes H at which self-attention follows each block.
      dropout: dropout rate inside residual blocks (rng stream "dropout" when train=True).
      time_embedding: "sinusoidal" (DDPM++ default) or "fourier" (NCSN++).
      t_scale: multiplies t before the sinusoidal code (1000 for t in [0, 1]).
      fourier_scale: std of the Fourier frequencies.
      num_classes: classes of a conditional model (None: unconditional); row ``num_classes`` of
        the label table is the null label of classifier-free guidance.
      num_groups: maximum GroupNorm groups (reduced to a divisor of the channel count).
      remat: rematerialise residual / attention blocks (nn.remat = jax.checkpoint).
      out_ch: output channels (default: input channels).
    """

    ch: int = 64
    ch_mult: Sequence[int] = (1, 2, 2)
    num_res_blocks: int = 2
    attn_resolutions: Sequence[int] = (16,)
    dropout: float = 0.1
    time_embedding: str = "sinusoidal"
    t_scale: float = 1000.0
    fourier_scale: float = 16.0
    num_classes: Optional[int] = None
    num_groups: int = 32
    remat: bool = False
    out_ch: Optional[int] = None

    @nn.compact
    def __call__(self, x: Array, t: Array, label: Optional[Array] = None, train: bool = False) -> Array:
        check_time_embedding(self.time_embedding)
        if x.ndim != 4:
            raise ValueError(f"UNet: x must have shape [B, H, W, C], got {x.shape}")
        if not self.ch_mult or self.num_res_blocks < 1:
            raise ValueError(f"UNet: need a non-empty ch_mult and num_res_blocks >= 1, got "
                             f"ch_mult={self.ch_mult}, num_res_blocks={self.num_res_blocks}")
        b = x.shape[0]
        emb_dim = 4 * self.ch
        emb = TimeEmbedding(emb_dim, self.time_embedding, dim=self.ch, t_scale=self.t_scale,
                            fourier_scale=self.fourier_scale)(batch_times(t, b))
        if self.num_classes is not None:
            emb = emb + LabelEmbedding(self.num_classes, emb_dim)(label, b)

        # Explicit names keep the parameter tree identical with and without remat.
        res_cls = nn.remat(ResBlock) if self.remat else ResBlock
        attn_cls = nn.remat(AttnBlock) if self.remat else AttnBlock
        count = {"res": 0, "attn": 0}

        def res(h, out_ch):
            count["res"] += 1
            return res_cls(out_ch, self.dropout, self.num_groups, deterministic=not train,
                           name=f"ResBlock_{count['res'] - 1}")(h, emb)

        def attn(h):
            count["attn"] += 1
            return attn_cls(self.num_groups, name=f"AttnBlock_{count['attn'] - 1}")(h)

        def maybe_attn(h):
            return attn(h) if h.shape[1] in self.attn_resolutions else h

        h = nn.Conv(self.ch, (3, 3))(x.astype(jnp.float32))
        skips = [h]
        levels = len(self.ch_mult)
        for level, mult in enumerate(self.ch_mult):
            for _ in range(self.num_res_blocks):
                h = maybe_attn(res(h, self.ch * mult))
                skips.append(h)
            if level != levels - 1:
                h = Downsample()(h)
                skips.append(h)

        h = res(h, h.shape[-1])
        h = attn(h)
        h = res(h, h.shape[-1])

        for level in reversed(range(levels)):
            for _ in range(self.num_res_blocks + 1):
                h = maybe_attn(res(jnp.concatenate([h, skips.pop()], axis=-1), self.ch * self.ch_mult[level]))
            if level != 0:
                h = Upsample()(h, skips[-1].shape[1:3])

        h = nn.silu(nn.GroupNorm(_groups(h.shape[-1], self.num_groups))(h))
        return nn.Conv(self.out_ch or x.shape[-1], (3, 3), kernel_init=_ZERO)(h)
