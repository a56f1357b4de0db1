"""The 8x8 handwritten digits bundled with scikit-learn (offline), as a small image data set.

1797 grey-scale images of 8 x 8 pixels with integer intensities in {0, ..., 16}
(``NUM_LEVELS = 17``), labels 0..9. ``load`` gives ``images [N, 8, 8, 1] uint8`` and
``labels [N] int32``; the train / test split is a fixed permutation (seed 0, 20 % test: 1438 / 359
images) so every run and every paper script sees the same split.

Dequantization and bits/dim (the convention used throughout genjax):

    x in {0, ..., 16}^D  (D = 64),   u ~ U[0, 1)^D,   y = (x + u) / 17  in [0, 1)^D.

A continuous model density p(y) on [0, 1]^D gives a discrete model P(x) = int_{[0,1)^D} p((x+u)/17)
17^{-D} du, and by Jensen

    -log P(x) <= E_u[-log p(y)] + D log 17          (nats).

So a model reporting nll(y) = -log p(y) in nats has

    bits/dim = (nll(y) + D log 17) / (D log 2),

the uniform density p = 1 scoring exactly log2(17) = 4.087 bits/dim. For a model working on
z = 2 y - 1 in [-1, 1) add D log 2 less: bits/dim = (nll(z) + D log(17 / 2)) / (D log 2).
``genjax.metrics.bits_per_dim(nll, num_dims, num_levels=17, interval=(lo, hi))`` applies this
for any interval.

The binarised variant for NADE / MADE / Bernoulli models is ``x > 8`` (``binarize``).

References: Alpaydin & Kaynak 1998, "Optical Recognition of Handwritten Digits" (UCI data);
Theis et al. 2016, "A note on the evaluation of generative models" (uniform dequantization);
Uria et al. 2013, "RNADE" (the D log(levels) offset).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

NUM_LEVELS = 17  # intensities 0..16
SHAPE = (8, 8, 1)
SPLITS = ("train", "test", "all")


@functools.lru_cache(maxsize=1)
def _raw():
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    bunch = load_digits()
    images = np.asarray(bunch.images, np.uint8)[..., None]  # [1797, 8, 8, 1]
    labels = np.asarray(bunch.target, np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load(split: str = "train", test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The digits split: (images [N, 8, 8, 1] uint8 in {0..16}, labels [N] int32).

    Args:
      split: "train", "test" or "all" (all 1797 images in the original order).
      test_fraction: fraction of the images in the test split (after a seeded permutation).
      seed: seed of the permutation that defines the split (fixed default: 0).
    """
    if split not in SPLITS:
        raise ValueError(f"digits.load: unknown split {split!r}; choose one of {SPLITS}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"digits.load: test_fraction must lie in (0, 1), got {test_fraction}")
    images, labels = _raw()
    if split == "all":
        return images.copy(), labels.copy()
    perm = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(test_fraction * len(images)))
    idx = np.sort(perm[:n_test] if split == "test" else perm[n_test:])
    return images[idx], labels[idx]


def dequantize(images: Array, key, num_levels: int = NUM_LEVELS) -> Array:
    """Uniform dequantization y = (x + u) / num_levels, u ~ U[0, 1): [N, ...] ints -> float32 in [0, 1)."""
    x = jnp.asarray(images, jnp.float32)
    u = jax.random.uniform(key, x.shape, jnp.float32)
    return (x + u) / num_levels


def to_unit(images: Array, num_levels: int = NUM_LEVELS) -> Array:
    """Deterministic bin centres (x + 1/2) / num_levels in (0, 1): for plotting and evaluation."""
    return (jnp.asarray(images, jnp.float32) + 0.5) / num_levels


def quantize(y: Array, num_levels: int = NUM_LEVELS) -> Array:
    """Inverse of ``dequantize``: floor(num_levels y) clipped to {0..num_levels-1}, int32."""
    return jnp.clip(jnp.floor(jnp.asarray(y) * num_levels), 0, num_levels - 1).astype(jnp.int32)


def binarize(images: Array, threshold: int = 8) -> Array:
    """Binary images for Bernoulli models: 1.0 where x > threshold (default 8), else 0.0 (float32)."""
    return (jnp.asarray(images) > threshold).astype(jnp.float32)
