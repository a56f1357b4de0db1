"""DhariwalUNet: the ADM network of Dhariwal & Nichol, as EDM reimplements it (NHWC, flax).

    emb = SiLU(map_layer1(SiLU(map_layer0(positional(c_noise) + map_augment(augment_labels))))
              + map_label(class_labels))                       (map_label: no bias)
    encoder, level l (resolution R / 2^l, channels model_channels * channel_mult[l]):
          l = 0: conv 3x3 to model_channels * channel_mult[0];  l > 0: UNetBlock(down)
          then num_blocks UNetBlocks (attention where R / 2^l is in attn_resolutions); all are skips
    decoder, levels in reverse: (lowest) UNetBlock(attention) + UNetBlock | UNetBlock(up), then
          num_blocks + 1 UNetBlocks on concat(x, skip) (attention at attn_resolutions)
    out = conv 3x3(SiLU(GN(x)))

Blocks: adaptive group norm (scale and shift from the embedding), skip_scale 1, eps 1e-5,
64 channels per attention head, pure FIR resampling (filter (1, 1)) on the skip path, kaiming
uniform initialisation with gain sqrt(1/3) and zero-initialised output layers. Parameter names
follow EDM's torch modules, so ``genjax.nets.from_torch_state_dict`` maps a checkpoint by name.

    net = DhariwalUNet(img_resolution=64, in_channels=3, out_channels=3, label_dim=1000)
    variables = net.init(key, x, c_noise, class_labels)                      # x [B, H, W, C]
    F = net.apply(variables, x, c_noise, class_labels)                        # train=True + rngs={"dropout": k}

References: Dhariwal & Nichol 2021, "Diffusion Models Beat GANs on Image Synthesis" (ADM);
Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models"
(DhariwalUNet, Appendix F.2).
"""
from __future__ import annotations

import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.blocks import UNetBlock, positional
from genjax.nets.layers import Conv2d, Init, Linear, group_norm
from genjax.nets.unet_common import EDMUNet, class_input, decoder_entry, label_dropout, levels

Array = jax.Array


class DhariwalUNet(EDMUNet):
    """ADM (EDM's hyper-parameter names; module docstring). Output: EDM's raw F.

    Fields: ``EDMUNet``'s, with ADM's ImageNet-64 defaults for the four below."""

    model_channels: int = 192
    channel_mult: tuple = (1, 2, 3, 4)
    num_blocks: int = 3
    attn_resolutions: tuple = (32, 16, 8)

    @nn.compact
    def __call__(self, x: Array, noise_labels: Array, class_labels: Optional[Array] = None,
                 augment_labels: Optional[Array] = None, train: bool = False) -> Array:
        """x [B, R, R, in_channels], noise_labels [B], class_labels [B, label_dim] (None: zeros),
        augment_labels [B, augment_dim] (None: no augmentation) -> [B, R, R, out_channels]."""
        self.check_call(x, noise_labels, augment_labels)
        g = math.sqrt(1.0 / 3.0)
        ini = Init("kaiming_uniform", weight=g, bias=g)
        ini_zero = Init("kaiming_uniform", weight=0.0, bias=0.0)
        emb_ch = self.model_channels * self.channel_mult_emb
        blk = dict(channels_per_head=64, dropout=self.dropout, init=ini, init_zero=ini_zero)
        b = x.shape[0]

        # Mapping.
        emb = positional(noise_labels, self.model_channels)
        if self.augment_dim and augment_labels is not None:
            emb = emb + Linear(self.model_channels, use_bias=False, init=ini_zero, name="map_augment")(augment_labels)
        emb = nn.silu(Linear(emb_ch, init=ini, name="map_layer0")(emb))
        emb = Linear(emb_ch, init=ini, name="map_layer1")(emb)
        if self.label_dim:
            c = label_dropout(self, class_input(class_labels, b, self.label_dim), train)
            ini_label = Init("kaiming_normal", weight=math.sqrt(self.label_dim))
            emb = emb + Linear(emb_ch, use_bias=False, init=ini_label, name="map_label")(c)
        emb = nn.silu(emb)

        # Encoder.
        skips = []
        for level, mult, res, tag in levels(self, "enc"):
            if level == 0:
                x = Conv2d(self.model_channels * mult, 3, init=ini, name=f"{tag}_conv")(x)
            else:
                x = UNetBlock(x.shape[-1], down=True, **blk, name=f"{tag}_down")(x, emb, train)
            skips.append(x)
            for idx in range(self.num_blocks):
                x = UNetBlock(self.model_channels * mult, attention=res in self.attn_resolutions, **blk,
                              name=f"{tag}_block{idx}")(x, emb, train)
                skips.append(x)

        # Decoder.
        last = len(self.channel_mult) - 1
        for level, mult, res, tag in levels(self, "dec"):
            x = decoder_entry(x, emb, train, tag, level == last, blk)
            for idx in range(self.num_blocks + 1):
                x = jnp.concatenate([x, skips.pop()], axis=-1)
                x = UNetBlock(self.model_channels * mult, attention=res in self.attn_resolutions, **blk,
                              name=f"{tag}_block{idx}")(x, emb, train)
        x = nn.silu(group_norm(x.shape[-1], 1e-5, "out_norm")(x))
        return Conv2d(self.out_channels, 3, init=ini_zero, name="out_conv")(x)
