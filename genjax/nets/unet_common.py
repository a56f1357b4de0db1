"""Hyper-parameters, checks and label handling shared by SongUNet and DhariwalUNet.

* ``EDMUNet``: the hyper-parameters both networks take (EDM's names); each network redeclares
  the defaults its paper uses.
* ``levels``: the encoder's / decoder's resolution levels with EDM's module tags.
* ``decoder_entry``: the first block(s) of a decoder level.
* ``check_common(net)``: ValueError naming the first bad hyper-parameter (before tracing).
* ``class_input(class_labels, B, label_dim)``: the [B, label_dim] float input of the label
  embedding; None gives zeros, EDM's "no label" (what a dropped label becomes).
* ``label_dropout(net, c, train)``: classifier-free guidance training, c * 1[u >= p] per example,
  u ~ U(0, 1) from the "dropout" rng stream.

References: Ho & Salimans 2021, "Classifier-Free Diffusion Guidance"; Karras et al. 2022 (label
dropout of their networks).
"""
from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.blocks import UNetBlock
from genjax.nets.layers import num_groups

Array = jax.Array


class EDMUNet(nn.Module):
    """Hyper-parameters common to EDM's SongUNet and DhariwalUNet (no ``__call__`` of its own);
    the defaults are SongUNet's (DDPM++, CIFAR-10), DhariwalUNet redeclares its own."""

    img_resolution: int
    in_channels: int
    out_channels: int
    label_dim: int = 0
    augment_dim: int = 0
    model_channels: int = 128
    channel_mult: tuple = (1, 2, 2, 2)
    channel_mult_emb: int = 4
    num_blocks: int = 4
    attn_resolutions: tuple = (16,)
    dropout: float = 0.10
    label_dropout: float = 0.0

    def check(self) -> None:
        """ValueError naming the first bad hyper-parameter."""
        check_common(self)

    def check_call(self, x: Array, noise_labels: Array, augment_labels: Optional[Array]) -> None:
        """The hyper-parameters, then the call's shapes (ValueError naming the first bad one)."""
        self.check()
        check_inputs(self, x, noise_labels, augment_labels)


def levels(net: EDMUNet, side: str) -> list:
    """[(level, mult, res, tag)] over the resolution levels res = R / 2^level, tag "enc_RxR" /
    "dec_RxR" (EDM's module names); the decoder ("dec") walks them in reverse."""
    out = []
    for level, mult in enumerate(net.channel_mult):
        res = net.img_resolution >> level
        out.append((level, mult, res, f"{side}_{res}x{res}"))
    return out[::-1] if side == "dec" else out


def decoder_entry(x: Array, emb: Array, train: bool, tag: str, innermost: bool, blk: dict) -> Array:
    """A decoder level's entry: UNetBlock(attention) + UNetBlock at the innermost level, else
    UNetBlock(up), all at x's channel count (EDM's ``in0`` / ``in1`` / ``up`` modules)."""
    cout = x.shape[-1]
    if innermost:
        x = UNetBlock(cout, attention=True, **blk, name=f"{tag}_in0")(x, emb, train)
        return UNetBlock(cout, **blk, name=f"{tag}_in1")(x, emb, train)
    return UNetBlock(cout, up=True, **blk, name=f"{tag}_up")(x, emb, train)


def check_common(net) -> None:
    """ValueError naming the first bad shared hyper-parameter of a SongUNet / DhariwalUNet."""
    for name in ("img_resolution", "in_channels", "out_channels", "model_channels", "channel_mult_emb"):
        if int(getattr(net, name)) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(net, name)}")
    for name in ("label_dim", "augment_dim"):
        if int(getattr(net, name)) < 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(net, name)}")
    if net.num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1, got {net.num_blocks}")
    mult = tuple(net.channel_mult)
    if not mult or any(int(m) < 1 for m in mult):
        raise ValueError(f"channel_mult must be a non-empty tuple of positive ints, got {net.channel_mult}")
    if net.img_resolution % (1 << (len(mult) - 1)):
        raise ValueError(f"img_resolution={net.img_resolution} must be divisible by 2^(len(channel_mult) - 1) = "
                         f"{1 << (len(mult) - 1)}")
    for m in set(mult):
        try:
            num_groups(net.model_channels * m)
        except ValueError as e:
            raise ValueError(f"model_channels * channel_mult = {net.model_channels * m}: {e}") from None
    for name in ("dropout", "label_dropout"):
        if not 0.0 <= float(getattr(net, name)) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {getattr(net, name)}")


def check_inputs(net, x: Array, noise_labels: Array, augment_labels: Optional[Array]) -> None:
    """ValueError naming the argument whose shape does not fit the network."""
    r, c = net.img_resolution, net.in_channels
    if x.ndim != 4 or x.shape[1:] != (r, r, c):
        raise ValueError(f"x must be [B, {r}, {r}, {c}] (NHWC, img_resolution={r}, in_channels={c}), got {x.shape}")
    if noise_labels.shape != (x.shape[0],):
        raise ValueError(f"noise_labels must be [B] = [{x.shape[0]}], got {noise_labels.shape}")
    if augment_labels is not None and augment_labels.shape != (x.shape[0], net.augment_dim):
        raise ValueError(f"augment_labels must be [B, augment_dim] = [{x.shape[0]}, {net.augment_dim}], "
                         f"got {augment_labels.shape}")


def class_input(class_labels: Optional[Array], batch: int, label_dim: int) -> Array:
    """[B, label_dim] float32 (None: zeros, the unconditional input)."""
    if class_labels is None:
        return jnp.zeros((batch, label_dim), jnp.float32)
    c = jnp.asarray(class_labels, jnp.float32)
    if c.shape != (batch, label_dim):
        raise ValueError(f"class_labels must be [B, label_dim] = [{batch}, {label_dim}], got {c.shape}")
    return c


def label_dropout(net, c: Array, train: bool) -> Array:
    """c * 1[u >= label_dropout] per row when training (u from the "dropout" rng stream)."""
    if not (train and net.label_dropout):
        return c
    u = jax.random.uniform(net.make_rng("dropout"), (c.shape[0], 1))
    return c * (u >= net.label_dropout).astype(c.dtype)
