"""SongUNet: the DDPM++ and NCSN++ networks of score_sde, as EDM reimplements them (NHWC, flax).

    emb = swap_halves(map_noise(c_noise))               positional (DDPM++) or Fourier (NCSN++) code
          + map_label(class_labels sqrt(label_dim)) + map_augment(augment_labels)
    emb = SiLU(map_layer1(SiLU(map_layer0(emb))))
    encoder, level l (resolution R / 2^l, channels model_channels * channel_mult[l]):
          l = 0: conv 3x3;  l > 0: UNetBlock(down)  [+ "skip": FIR-downsampled input, 1x1 conv, added
          | "residual": (x + FIR-down conv 3x3 (aux)) / sqrt(2), which becomes the next aux]
          then num_blocks UNetBlocks (attention where R / 2^l is in attn_resolutions); every output
          except the aux branches is a skip
    decoder, levels in reverse: (lowest) UNetBlock(attention) + UNetBlock | UNetBlock(up), then
          num_blocks + 1 UNetBlocks on concat(x, skip) (attention on the last, at attn_resolutions);
          output head GN -> SiLU -> conv 3x3 at level 0 (decoder "standard"), or at every level with
          the upsampled running sum (decoder "skip")

Blocks: skip_scale sqrt(1/2), eps 1e-6, one attention head, the 1x1 projection of the skip path
also when only the resolution changes (resample_proj), additive (not adaptive) conditioning.
Parameter names follow EDM's torch modules ("enc_16x16_block0" <-> "enc.16x16_block0"), so
``genjax.nets.from_torch_state_dict`` maps a checkpoint by name.

    net = SongUNet(img_resolution=32, in_channels=3, out_channels=3, augment_dim=9, channel_mult=(2, 2, 2))
    variables = net.init(key, x, c_noise, class_labels, augment_labels)     # x [B, H, W, C]
    F = net.apply(variables, x, c_noise, class_labels, augment_labels)       # train=True + rngs={"dropout": k}

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations" (DDPM++, NCSN++); Karras et al. 2022, "Elucidating the Design Space of
Diffusion-Based Generative Models" (SongUNet, Appendix F.2).
"""
from __future__ import annotations

import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.blocks import FourierEmbedding, UNetBlock, positional
from genjax.nets.layers import Conv2d, Init, Linear, group_norm
from genjax.nets.unet_common import EDMUNet, class_input, decoder_entry, label_dropout, levels

Array = jax.Array
EMBEDDINGS = ("positional", "fourier")
ENCODERS = ("standard", "skip", "residual")
DECODERS = ("standard", "skip")


class SongUNet(EDMUNet):
    """DDPM++ / NCSN++ (EDM's hyper-parameter names; module docstring). Output: EDM's raw F.

    Fields: ``EDMUNet``'s (its defaults are DDPM++'s on CIFAR-10) and the five below."""

    embedding_type: str = "positional"
    channel_mult_noise: int = 1
    encoder_type: str = "standard"
    decoder_type: str = "standard"
    resample_filter: tuple = (1, 1)

    def check(self) -> None:
        """ValueError naming the first bad hyper-parameter."""
        if self.embedding_type not in EMBEDDINGS:
            raise ValueError(f"embedding_type must be one of {EMBEDDINGS}, got {self.embedding_type!r}")
        if self.encoder_type not in ENCODERS:
            raise ValueError(f"encoder_type must be one of {ENCODERS}, got {self.encoder_type!r}")
        if self.decoder_type not in DECODERS:
            raise ValueError(f"decoder_type must be one of {DECODERS}, got {self.decoder_type!r}")
        if self.channel_mult_noise < 1:
            raise ValueError(f"channel_mult_noise must be >= 1, got {self.channel_mult_noise}")
        super().check()

    @nn.compact
    def __call__(self, x: Array, noise_labels: Array, class_labels: Optional[Array] = None,
                 augment_labels: Optional[Array] = None, train: bool = False) -> Array:
        """x [B, R, R, in_channels], noise_labels [B], class_labels [B, label_dim] (None: zeros),
        augment_labels [B, augment_dim] (None: no augmentation) -> [B, R, R, out_channels]."""
        self.check_call(x, noise_labels, augment_labels)
        ini = Init("xavier_uniform")
        ini_zero = Init("xavier_uniform", weight=1e-5)
        ini_attn = Init("xavier_uniform", weight=math.sqrt(0.2))
        emb_ch = self.model_channels * self.channel_mult_emb
        noise_ch = self.model_channels * self.channel_mult_noise
        blk = dict(num_heads=1, dropout=self.dropout, skip_scale=math.sqrt(0.5), eps=1e-6,
                   resample_filter=tuple(self.resample_filter), resample_proj=True, adaptive_scale=False,
                   init=ini, init_zero=ini_zero, init_attn=ini_attn)
        b = x.shape[0]

        # Mapping.
        if self.embedding_type == "positional":
            emb = positional(noise_labels, noise_ch, endpoint=True)
        else:
            emb = FourierEmbedding(noise_ch, name="map_noise")(noise_labels)
        half = noise_ch // 2
        emb = jnp.concatenate([emb[:, half:], emb[:, :half]], axis=-1)  # [sin, cos]
        if self.label_dim:
            c = label_dropout(self, class_input(class_labels, b, self.label_dim), train)
            emb = emb + Linear(noise_ch, init=ini, name="map_label")(c * math.sqrt(self.label_dim))
        if self.augment_dim and augment_labels is not None:
            emb = emb + Linear(noise_ch, use_bias=False, init=ini, name="map_augment")(augment_labels)
        emb = nn.silu(Linear(emb_ch, init=ini, name="map_layer0")(emb))
        emb = nn.silu(Linear(emb_ch, init=ini, name="map_layer1")(emb))

        # Encoder.
        skips, aux = [], x
        caux = self.in_channels
        for level, mult, res, tag in levels(self, "enc"):
            if level == 0:
                x = Conv2d(self.model_channels, 3, init=ini, name=f"{tag}_conv")(x)
                skips.append(x)
            else:
                x = UNetBlock(x.shape[-1], down=True, **blk, name=f"{tag}_down")(x, emb, train)
                skips.append(x)
                if self.encoder_type == "skip":
                    aux = Conv2d(caux, 0, down=True, resample_filter=tuple(self.resample_filter),
                                 name=f"{tag}_aux_down")(aux)
                    x = skips[-1] = x + Conv2d(x.shape[-1], 1, init=ini, name=f"{tag}_aux_skip")(aux)
                elif self.encoder_type == "residual":
                    r = Conv2d(x.shape[-1], 3, down=True, resample_filter=tuple(self.resample_filter),
                               fused_resample=True, init=ini, name=f"{tag}_aux_residual")(aux)
                    x = skips[-1] = aux = (x + r) / math.sqrt(2.0)
                    caux = x.shape[-1]
            for idx in range(self.num_blocks):
                x = UNetBlock(self.model_channels * mult, attention=res in self.attn_resolutions, **blk,
                              name=f"{tag}_block{idx}")(x, emb, train)
                skips.append(x)

        # Decoder.
        aux = None
        last = len(self.channel_mult) - 1
        for level, mult, res, tag in levels(self, "dec"):
            x = decoder_entry(x, emb, train, tag, level == last, blk)
            for idx in range(self.num_blocks + 1):
                x = jnp.concatenate([x, skips.pop()], axis=-1)
                attn = idx == self.num_blocks and res in self.attn_resolutions
                x = UNetBlock(self.model_channels * mult, attention=attn, **blk, name=f"{tag}_block{idx}")(x, emb, train)
            if self.decoder_type == "skip" or level == 0:
                if self.decoder_type == "skip" and level < last:
                    aux = Conv2d(self.out_channels, 0, up=True, resample_filter=tuple(self.resample_filter),
                                 name=f"{tag}_aux_up")(aux)
                tmp = group_norm(x.shape[-1], 1e-6, f"{tag}_aux_norm")(x)
                tmp = Conv2d(self.out_channels, 3, init=ini_zero, name=f"{tag}_aux_conv")(nn.silu(tmp))
                aux = tmp if aux is None else tmp + aux
        return aux
