"""Improved precision and recall: k-nearest-neighbour manifolds of real and generated features.

Each sample set Phi is a union of balls B(phi, r_k(phi)), r_k = distance to the k-th nearest other
point of the same set (k = 3). Then

    precision = mean_{g in generated} 1[ exists r in real:  |g - r| <= r_k(r) ],
    recall    = mean_{r in real}      1[ exists g in generated:  |r - g| <= r_k(g) ].

Distances are Euclidean in feature space (Inception pool3 in the paper), computed as
|a|^2 + |b|^2 - 2 a.b in float32 over row blocks (memory ``block * n``), as the reference code does.

References: Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
Models".
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

BLOCK = 1024


def _sq_dists(a, b):
    aa, bb = jnp.sum(a * a, -1), jnp.sum(b * b, -1)
    return jnp.maximum(aa[:, None] + bb[None, :] - 2.0 * jnp.dot(a, b.T, precision=jax.lax.Precision.HIGHEST), 0.0)


def _blocks(x, block):
    n = x.shape[0]
    pad = (-n) % block
    return jnp.pad(x, ((0, pad), (0, 0))).reshape(-1, block, x.shape[1]), n


@functools.partial(jax.jit, static_argnums=(1, 2))
def knn_radii(x, k: int, block: int = BLOCK):
    """Squared distance of each row of x [n, d] to its k-th nearest other row: [n]."""
    xb, n = _blocks(x, block)
    radii = jax.lax.map(lambda rows: -jax.lax.top_k(-_sq_dists(rows, x), k + 1)[0][:, k], xb)
    return radii.reshape(-1)[:n]        # index k of the ascending distances: index 0 is the point itself


@functools.partial(jax.jit, static_argnums=(3,))
def _coverage(queries, points, radii, block):
    qb, n = _blocks(queries, block)
    inside = jax.lax.map(lambda rows: jnp.any(_sq_dists(rows, points) <= radii[None, :], axis=1), qb)
    return jnp.mean(inside.reshape(-1)[:n].astype(jnp.float32))


def manifold_coverage(queries, points, k: int = 3, block: int = BLOCK) -> float:
    """Fraction of ``queries`` inside the k-NN manifold of ``points`` (both [n, d])."""
    q, p = jnp.asarray(queries, jnp.float32), jnp.asarray(points, jnp.float32)
    return float(_coverage(q, p, knn_radii(p, k, block), block))


def precision_recall(real, generated, k: int = 3, block: int = BLOCK) -> tuple[float, float]:
    """(precision, recall) of generated features [m, d] against real features [n, d] (k-NN manifolds)."""
    real, generated = np.asarray(real, np.float32), np.asarray(generated, np.float32)
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise ValueError(f"precision_recall: real and generated must be [n, d] with one d, got "
                         f"{real.shape} and {generated.shape}")
    if not isinstance(k, int) or not 1 <= k < min(len(real), len(generated)):
        raise ValueError(f"precision_recall: k must be an int in [1, min(n, m) - 1], got {k!r}")
    block = int(min(block, max(len(real), len(generated))))
    return manifold_coverage(generated, real, k, block), manifold_coverage(real, generated, k, block)
