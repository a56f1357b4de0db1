"""SongUNet / DhariwalUNet behind the project's network convention ``net(x, t, label=None, train=False)``.

    net = nets.get("song_unet", img_resolution=8, in_channels=1, out_channels=1, model_channels=16,
                   channel_mult=(1, 2), num_blocks=1, attn_resolutions=(), num_classes=10)
    apply = nets.apply_fn(net)                  # (params, x, t, label=None, train=False, key=None)

The adapters are subclasses, so their parameters are exactly those of the wrapped network (and
``from_torch_state_dict`` loads them). They map

    noise_labels = noise_scale * t + noise_shift   t: [] or [B]; noise_scale 1 for EDM's c_noise
                                                   = log(sigma)/4, (M - 1) = 999 for DDPM's VP time,
                                                   log(s_max / s_min) and log(s_min) for score_sde's
                                                   VE label log(sigma(t)) = log(s_min (s_max/s_min)^t)
    class_labels = one_hot(label, label_dim)       label [B] int; None, negative labels (NULL_LABEL)
                                                   and labels >= label_dim give the zero row, EDM's
                                                   unconditional input for classifier-free guidance
    augment_labels = None                          (no augmentation pipeline: the embedding is skipped)

``num_classes`` (set by the trainer for labelled data) is an alias of ``label_dim``.

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (noise conditioning c_noise, label handling of their preconditioned networks); Ho &
Salimans 2021, "Classifier-Free Diffusion Guidance".
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

from genjax.nets.dhariwal_unet import DhariwalUNet
from genjax.nets.embeddings import batch_times
from genjax.nets.song_unet import SongUNet

Array = jax.Array


def _one_hot(label: Optional[Array], batch: int, label_dim: int) -> Optional[Array]:
    if not label_dim:
        return None
    if label is None:
        return jnp.zeros((batch, label_dim), jnp.float32)
    label = jnp.asarray(label, jnp.int32)
    label = jnp.broadcast_to(label, (batch,)) if label.ndim == 0 else label
    return jax.nn.one_hot(label, label_dim, dtype=jnp.float32)  # out-of-range rows (NULL_LABEL) are zeros


def _adapter(base):
    """A subclass of ``base`` (same parameters) called as ``net(x, t, label=None, train=False)``."""

    class Adapter(base):
        num_classes: Optional[int] = None
        noise_scale: float = 1.0
        noise_shift: float = 0.0

        def __post_init__(self):
            if self.num_classes is not None and self.label_dim == 0:
                object.__setattr__(self, "label_dim", int(self.num_classes))  # num_classes: alias of label_dim
            super().__post_init__()

        def __call__(self, x: Array, t: Array, label: Optional[Array] = None, train: bool = False) -> Array:
            if self.num_classes is not None and self.label_dim != self.num_classes:
                raise ValueError(f"num_classes={self.num_classes} contradicts label_dim={self.label_dim}")
            noise = self.noise_scale * batch_times(t, x.shape[0]) + self.noise_shift
            return base.__call__(self, x, noise, _one_hot(label, x.shape[0], self.label_dim), None, train)

    Adapter.__name__ = Adapter.__qualname__ = f"{base.__name__}Adapter"
    Adapter.__doc__ = f"{base.__name__} with the project's calling convention (module docstring)."
    return Adapter


SongUNetAdapter = _adapter(SongUNet)
DhariwalUNetAdapter = _adapter(DhariwalUNet)
