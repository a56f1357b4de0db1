"""Sample metrics of the trainer's eval: model samples against the data (``config.eval.sample_metrics``).

``sample_metrics(x, ref, names, key, config=None, mesh=None) -> {name: float}``; ``x`` are EMA samples
and ``ref`` data samples (``data.reference``), both in model space. Names:

- "mmd2", "energy_distance", "sliced_wasserstein": ``genjax.metrics`` on the flattened samples.
- "digits_fd", "digits_score": the digits classifier's Frechet distance to the digits training split
  and its classifier score (``genjax.metrics.digits``; 8x8 digits only).
- "fid", "kid", "inception_score", "precision", "recall": FID-Inception metrics of images in
  [-1, 1] (quantised to uint8 as (x + 1) 127.5 rounded, one channel repeated to three). The
  Inception weights come from ``config.eval.inception_weights`` (else $GENJAX_INCEPTION, else
  ~/.cache/genjax/pt_inception-2015-12-05.npz). FID is against ``config.eval.fid_reference`` (a
  statistics ``.npz``: genjax, pytorch-fid, TTUR or EDM format): loaded when the file exists, else
  computed once from the data's reference samples and saved there; with no path, the reference
  samples' statistics are computed at each evaluation. KID (clean-fid's 100 subsets of 1000), the
  Inception Score (10 splits) and precision / recall (k = 3) use the features of the samples and of
  ``ref``. Features are computed in batches of ``config.eval.metrics_batch`` sharded over ``mesh``;
  FID-only runs keep only float64 running sums (``genjax.metrics.streaming``); progress is logged.

``draw(sample, params, n, batch, key)`` draws the eval samples in chunks of ``config.eval.sample_batch``
(chunk i with ``fold_in(key, i)``) and gathers them on the host, so a 50k-sample eval never holds
more than one chunk on a device.

``log_eval`` appends the results to metrics.jsonl and TensorBoard as ``eval/<name>``;
``periodic_metrics`` gives the same rows for the training loop's periodic samples (``config.eval.periodic``).
"""
from __future__ import annotations

import logging
import os

import jax
import jax.numpy as jnp
import numpy as np

from genjax import metrics as gm

log = logging.getLogger("genjax.train")
BASIC = ("mmd2", "energy_distance", "sliced_wasserstein")
DIGITS = ("digits_fd", "digits_score")
INCEPTION = ("fid", "kid", "inception_score", "precision", "recall")
NAMES = BASIC + DIGITS + INCEPTION


def _flat(x):
    return jnp.asarray(np.asarray(x, np.float32).reshape(len(x), -1))


def _get(config, key, default):
    return default if config is None else config.eval.get(key, default)


def sample_metrics(x, ref, names, key, config=None, mesh=None) -> dict:
    """Sample metrics of model samples x against data ref; ValueError naming config.eval.sample_metrics."""
    names = tuple(names)
    for name in names:
        if name not in NAMES:
            raise ValueError(f"unknown sample metric {name!r} (config.eval.sample_metrics); choose from {sorted(NAMES)}")
    x, ref = np.asarray(x), np.asarray(ref)
    out = {}
    basic = {"mmd2": lambda a, b: gm.mmd2(a, b), "energy_distance": gm.energy_distance,
             "sliced_wasserstein": lambda a, b: gm.sliced_wasserstein(a, b, key)}
    for name in (n for n in names if n in BASIC):
        out[name] = float(basic[name](_flat(x), _flat(ref)))
    if any(n in DIGITS for n in names):
        if x.shape[1:] != (8, 8, 1):
            raise ValueError(f"config.eval.sample_metrics: digits_fd / digits_score need 8x8x1 digits, "
                             f"got samples of shape {x.shape[1:]}")
        if "digits_fd" in names:
            out["digits_fd"] = gm.digits_fd(x)
        if "digits_score" in names:
            out["digits_score"] = gm.digits_score(x)
    if any(n in INCEPTION for n in names):
        out.update(_inception_metrics(x, ref, names, key, config, mesh))
    return out


def to_uint8(x) -> np.ndarray:
    """Model-space images [n, H, W, C] in [-1, 1] -> uint8 [n, H, W, 3] (C = 1 repeated)."""
    x = np.asarray(x, np.float32)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"config.eval.sample_metrics: Inception metrics need images [n, H, W, 1 or 3], got {x.shape}")
    u = np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return np.repeat(u, 3, axis=-1) if u.shape[-1] == 1 else u


def _featurizer(config, mesh):
    from genjax.metrics import fid, streaming
    from genjax.train import sharding

    mesh = sharding.data_mesh() if mesh is None else mesh
    variables = fid.cached_variables(_get(config, "inception_weights", "") or None)
    aux = sharding.put_replicated(fid.network_variables(variables), mesh)
    batch = int(_get(config, "metrics_batch", 250))
    batch = max(mesh.size, batch - batch % mesh.size)
    rows = sharding.local_batch_slice(batch, mesh)
    sums_step = streaming.sharded_sums(fid.pool3, mesh)
    feats_step = streaming.sharded_features(fid.pool3, mesh)

    def run(images, name, keep):
        """Sums (and features when ``keep``) of all ``images`` (every host holds all of them)."""
        images, n = to_uint8(images), len(images)
        sums, kept = streaming.init(fid.FEATURE_DIM), []
        for i, lo in enumerate(range(0, n, batch)):
            chunk = images[lo:lo + batch]
            valid = len(chunk)
            if valid < batch or keep:         # all features back to the host (a short batch is padded)
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - valid, 0)])
                f = feats_step(aux, chunk[rows])[:valid]
                sums = streaming.update(sums, f)
                if keep:
                    kept.append(f)
            else:                             # device sums only
                sums = streaming.add(sums, *sums_step(aux, chunk[rows]))
            if (i + 1) % max(1, (n // batch) // 10) == 0 or lo + batch >= n:
                log.info("Inception features of %s: %d / %d", name, min(lo + batch, n), n)
        return sums, (np.concatenate(kept) if keep else None), variables["checksum"]

    return run


def _reference_stats(run, ref, config, checksum):
    from genjax.metrics import streaming

    path = _get(config, "fid_reference", "")
    if path and os.path.exists(os.path.expanduser(path)):
        stats = streaming.load_reference(path)
        if stats["weights_checksum"] not in (None, checksum):
            log.warning("%s was computed with other Inception weights (checksum %s, now %s)", path,
                        stats["weights_checksum"], checksum)
        return stats["mu"], stats["sigma"]
    sums, _, _ = run(ref, "the data", False)
    if path and jax.process_index() == 0:
        streaming.save_reference(os.path.expanduser(path), sums, checksum)
        log.info("saved the data's Inception statistics (%d samples) to %s", sums.count, path)
    return streaming.statistics(sums)


def _inception_metrics(x, ref, names, key, config, mesh) -> dict:
    from genjax.metrics import fid, inception_score, kid, precision_recall, streaming

    run = _featurizer(config, mesh)
    keep = any(n in names for n in ("kid", "inception_score", "precision", "recall"))
    sums, feats, checksum = run(x, "the samples", keep)
    out = {}
    if "fid" in names:
        out["fid"] = fid.frechet_distance(*streaming.statistics(sums), *_reference_stats(run, ref, config, checksum))
    if "inception_score" in names:
        variables = fid.cached_variables(_get(config, "inception_weights", "") or None)
        out["inception_score"], out["inception_score_std"] = inception_score.inception_score(
            np.asarray(fid.logits(variables, jnp.asarray(feats))), 10)
    if any(n in names for n in ("kid", "precision", "recall")):
        _, ref_feats, _ = run(ref, "the data", True)
        if "kid" in names:
            out["kid"], out["kid_std"] = kid.kid(feats, ref_feats, key)
        if "precision" in names or "recall" in names:
            out["precision"], out["recall"] = precision_recall.precision_recall(ref_feats, feats)
    return out


def periodic_metrics(config, x, data, step: int, key, mesh=None) -> dict:
    """``{"eval/<name>": value}`` of the training loop's periodic samples ``x``, or {} when off.

    On when ``config.eval.periodic`` is true (absent: off): the metrics of ``config.eval.sample_metrics``
    against ``len(x)`` reference samples drawn with ``fold_in(key, step)``, for the loop to hand to its
    MetricWriter at its sample boundaries (``config.training.sample_every``).
    """
    names = tuple(config.eval.sample_metrics)
    if not bool(config.eval.get("periodic", False)) or not names:
        return {}
    k = jax.random.fold_in(key, step)
    ref = data.reference(len(x), jax.random.fold_in(k, 0))
    out = sample_metrics(x, ref, names, jax.random.fold_in(k, 1), config=config, mesh=mesh)
    return {f"eval/{name}": v for name, v in out.items()}


def draw(sample, params, n: int, batch: int, key) -> np.ndarray:
    """n samples [n, ...] on the host: ceil(n / b) calls ``sample(params, b, fold_in(key, i))``, b = min(batch, n).

    Every chunk has the same size b (one compiled shape); the last one is cut to the n left.
    """
    if int(batch) < 1:
        raise ValueError(f"config.eval.sample_batch={batch!r}: must be an int >= 1")
    n, b = int(n), min(int(batch), int(n))
    chunks, done = [], 0
    for i in range(-(-n // b) if n else 0):
        x = np.asarray(jax.device_get(sample(params, b, jax.random.fold_in(key, i))))
        chunks.append(x[: n - done])
        done += len(chunks[-1])
        if b < n:
            log.info("eval samples: %d / %d", done, n)
    return np.concatenate(chunks) if chunks else np.zeros((0,))


def log_eval(workdir: str, step: int, out: dict) -> None:
    """Appends the eval results to workdir/metrics.jsonl and TensorBoard as ``eval/<name>`` at ``step``."""
    from experiments.tasks import _outputs

    writer = _outputs.MetricWriter(workdir)
    try:
        writer.write(step, {f"eval/{k}": v for k, v in out.items() if k != "step"})
    finally:
        writer.close()
