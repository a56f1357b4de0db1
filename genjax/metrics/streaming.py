"""Streaming Gaussian statistics of features: running float64 sums, sharded featurisation, stats files.

    sums = streaming.init(2048)
    step = streaming.sharded_sums(fid.pool3, mesh)   # jitted over the global batch
    for images in batches:                           # host-local uint8 rows of this process
        sums = streaming.add(sums, *step(fid.network_variables(variables), images))
    mu, sigma = streaming.statistics(sums)       # float64, = fid.statistics of all rows at once

Sums: count n, s1 = sum_i x_i [d] and s2 = sum_i x_i x_i^T [d, d], both float64 on the host, so 50k
samples never sit in memory; mu = s1 / n, sigma = (s2 - n mu mu^T) / (n - 1) (the unbiased covariance
of ``numpy.cov``). ``update`` adds host rows in float64. ``sharded_sums`` is the pod path: under a
``Mesh`` with a "data" axis each device featurises its rows of the global batch and XLA all-reduces
the per-batch sums (float32, HIGHEST precision matmul) across devices and hosts; ``add`` then
accumulates them in float64. The per-batch float32 sums carry a relative error ~1e-7 (B terms each);
the running total does not grow it.

Reference statistics files (``save_reference`` / ``load_reference``): ``.npz`` with ``mu`` [d],
``sigma`` [d, d], ``count`` and ``weights_checksum`` (``fid.weights_checksum`` of the network that made
them). pytorch-fid's ``--save-stats`` files, TTUR's ``fid_stats_*.npz`` and EDM's
``fid-refs/*.npz`` (e.g. ``cifar10-32x32.npz``) hold ``mu`` and ``sigma`` only and load as they are
(count and checksum then None).

References: Heusel et al. 2017 (FID statistics); Chan, Golub & LeVeque 1979, "Updating formulae and a
pairwise algorithm for computing sample variances" (merging sums).
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Iterable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

log = logging.getLogger("genjax.metrics")


class Sums(NamedTuple):
    """Running sums of features: count n, s1 = sum x [d], s2 = sum x x^T [d, d] (float64, host)."""

    count: int
    s1: np.ndarray
    s2: np.ndarray


def init(dim: int) -> Sums:
    """Empty sums for d-dimensional features."""
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"streaming.init: dim must be a positive int, got {dim!r}")
    return Sums(0, np.zeros(dim, np.float64), np.zeros((dim, dim), np.float64))


def add(sums: Sums, count, s1, s2) -> Sums:
    """sums + (count, s1, s2) in float64 (batch sums from ``batch_sums`` / ``sharded_sums``)."""
    s1, s2 = np.asarray(s1, np.float64), np.asarray(s2, np.float64)
    if s1.shape != sums.s1.shape or s2.shape != sums.s2.shape:
        raise ValueError(f"streaming.add: sums of shape {s1.shape}, {s2.shape} do not match {sums.s1.shape}")
    return Sums(sums.count + int(count), sums.s1 + s1, sums.s2 + s2)


def update(sums: Sums, feats) -> Sums:
    """Add host features [B, d] in float64."""
    f = np.asarray(feats, np.float64)
    if f.ndim != 2 or f.shape[1] != sums.s1.shape[0]:
        raise ValueError(f"streaming.update: feats must have shape [B, {sums.s1.shape[0]}], got {f.shape}")
    return Sums(sums.count + f.shape[0], sums.s1 + f.sum(0), sums.s2 + f.T @ f)


def merge(a: Sums, b: Sums) -> Sums:
    """The sums of the union of two sets of rows (e.g. from two hosts or two runs)."""
    return add(a, b.count, b.s1, b.s2)


def statistics(sums: Sums) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) in float64: s1 / n and (s2 - n mu mu^T) / (n - 1)."""
    n = sums.count
    if n < 2:
        raise ValueError(f"streaming.statistics: need at least 2 rows, got {n}")
    mu = sums.s1 / n
    return mu, (sums.s2 - n * np.outer(mu, mu)) / (n - 1)


def batch_sums(feats):
    """(s1 [d], s2 [d, d]) of device features [B, d] in float32 (jit-able)."""
    f = jnp.asarray(feats, jnp.float32)
    return jnp.sum(f, 0), jnp.dot(f.T, f, precision=jax.lax.Precision.HIGHEST)


def sharded_sums(featurize: Callable, mesh) -> Callable:
    """``step(aux, local_rows) -> (count, s1, s2)`` on host numpy: featurise a global batch over ``mesh``.

    ``featurize(aux, x [B, ...]) -> [B, d]`` is any jit-able feature map (e.g. ``fid.pool3`` with the
    network's variables as ``aux``, an argument rather than constants baked into the program; place it
    once with ``sharding.put_replicated(aux, mesh)`` so that it is not copied at every call); each process
    passes its own rows (numpy, the same number on every process, divisible by its local devices); the
    rows are assembled into one global array sharded on the mesh's "data" axis, featurised where they
    lie, and the sums come back replicated on every host. Compiled once per batch shape.
    """
    from genjax.train import sharding

    rep, bsh = sharding.replicated(mesh), sharding.batch_sharding(mesh)
    step = jax.jit(lambda aux, x: batch_sums(featurize(aux, x)), in_shardings=(rep, bsh), out_shardings=(rep, rep))

    def run(aux, local_rows):
        x = sharding.host_to_global(np.asarray(local_rows), mesh)
        s1, s2 = step(aux, x)
        return x.shape[0], _host(s1), _host(s2)

    return run


def sharded_features(featurize: Callable, mesh) -> Callable:
    """``step(aux, local_rows) -> [B, d]`` host numpy: like ``sharded_sums`` but returns all the features
    of the global batch (all-gathered; for KID, Inception Score, precision / recall)."""
    from genjax.train import sharding

    rep, bsh = sharding.replicated(mesh), sharding.batch_sharding(mesh)
    step = jax.jit(featurize, in_shardings=(rep, bsh), out_shardings=rep)
    return lambda aux, local_rows: _host(step(aux, sharding.host_to_global(np.asarray(local_rows), mesh)))


def _host(a) -> np.ndarray:
    """A replicated global array as numpy (its local copy; works when not fully addressable)."""
    return np.asarray(a.addressable_shards[0].data)


def accumulate(step: Callable, aux, batches: Iterable, dim: int, total: Optional[int] = None,
               name: str = "features") -> Sums:
    """Run ``step(aux, rows)`` (from ``sharded_sums``) over ``batches`` of host rows; logs progress (~10 %)."""
    sums, last = init(dim), 0
    for rows in batches:
        sums = add(sums, *step(aux, rows))
        if total and (sums.count - last >= total / 10 or sums.count >= total):
            log.info("%s: %d / %d samples", name, sums.count, total)
            last = sums.count
    return sums


def save_reference(path: str, sums: Sums, weights_checksum: Optional[str] = None) -> None:
    """Write mu, sigma, count and the weights' checksum to ``path`` (.npz)."""
    mu, sigma = statistics(sums)
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    np.savez(path, mu=mu, sigma=sigma, count=np.int64(sums.count),
             weights_checksum=np.asarray(weights_checksum or ""))


def load_reference(path: str) -> dict:
    """{"mu", "sigma", "count", "weights_checksum"} of a stats ``.npz`` (genjax, pytorch-fid, TTUR or EDM)."""
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        raise ValueError(f"reference statistics file {path!r} does not exist")
    with np.load(path, allow_pickle=False) as z:
        if "mu" not in z.files or "sigma" not in z.files:
            raise ValueError(f"{path}: a statistics file needs arrays 'mu' and 'sigma', has {sorted(z.files)}")
        out = {"mu": np.asarray(z["mu"], np.float64), "sigma": np.asarray(z["sigma"], np.float64),
               "count": int(z["count"]) if "count" in z.files else None,
               "weights_checksum": str(z["weights_checksum"]) if "weights_checksum" in z.files else None}
    d = out["mu"].shape
    if len(d) != 1 or out["sigma"].shape != d * 2:
        raise ValueError(f"{path}: mu {out['mu'].shape} and sigma {out['sigma'].shape} are not [d] and [d, d]")
    if out["weights_checksum"] == "":
        out["weights_checksum"] = None
    return out
