"""Kernel Inception Distance: unbiased MMD^2 with the cubic polynomial kernel, averaged over subsets.

    k(x, y) = (x . y / d + 1)^3
    MMD_u^2(X, Y) = mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j)

over ``num_subsets`` pairs of random subsets of ``subset_size`` rows (without replacement within a
subset; subset_size is capped at the smaller sample), as clean-fid computes it (100 subsets of 1000).
Each subset estimate is unbiased, so the mean is ~0 when both samples come from one distribution
and can be negative. Features are usually Inception pool3 (``fid.features``), any [n, d] works.

References: Binkowski et al. 2018, "Demystifying MMD GANs" (KID); Parmar et al. 2022, "On Aliased
Resizing and Surprising Subtleties in GAN Evaluation" (clean-fid's subset defaults).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

HIGHEST = jax.lax.Precision.HIGHEST


def polynomial_kernel(x, y):
    """(x y^T / d + 1)^3: [n, d], [m, d] -> [n, m]."""
    return (jnp.dot(x, y.T, precision=HIGHEST) / x.shape[-1] + 1.0) ** 3


def mmd2_unbiased(x, y):
    """Unbiased MMD^2 of two equal-size samples [m, d] under ``polynomial_kernel``."""
    m = x.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (jnp.sum(kxx) - jnp.trace(kxx) + jnp.sum(kyy) - jnp.trace(kyy)) / (m * (m - 1))
    return within - 2.0 * jnp.mean(kxy)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _kid(f1, f2, key, num_subsets, m):
    def one(k):
        k1, k2 = jax.random.split(k)
        x = f1[jax.random.choice(k1, f1.shape[0], (m,), replace=False)]
        y = f2[jax.random.choice(k2, f2.shape[0], (m,), replace=False)]
        return mmd2_unbiased(x, y)

    return jax.lax.map(one, jax.random.split(key, num_subsets))


def kid(feats1, feats2, key, *, num_subsets: int = 100, subset_size: int = 1000) -> tuple[float, float]:
    """KID of two feature sets [n1, d], [n2, d]: (mean, standard deviation) over the subsets.

    Args:
      feats1, feats2: features of the two image sets (same d, at least 2 rows each).
      key: PRNG key of the subset draws.
      num_subsets: number of subset pairs (clean-fid: 100).
      subset_size: rows per subset (clean-fid: 1000), capped at min(n1, n2).
    """
    f1, f2 = np.asarray(feats1, np.float32), np.asarray(feats2, np.float32)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"kid: feats1 and feats2 must be [n, d] with one d, got {f1.shape} and {f2.shape}")
    if not isinstance(num_subsets, int) or num_subsets < 1:
        raise ValueError(f"kid: num_subsets must be a positive int, got {num_subsets!r}")
    m = min(int(subset_size), f1.shape[0], f2.shape[0])
    if m < 2:
        raise ValueError(f"kid: need subsets of >= 2 rows, got subset_size={subset_size} and {f1.shape[0]}, "
                         f"{f2.shape[0]} rows")
    vals = np.asarray(_kid(jnp.asarray(f1), jnp.asarray(f2), key, num_subsets, m), np.float64)
    return float(vals.mean()), float(vals.std())
