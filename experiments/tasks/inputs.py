"""Input pipelines built from ``config.data``: every batch is a pure function of the step.

``build(config, mesh, key) -> Data``. Sources (``config.data.source``):

- ``"toy2d"``: 2-D toy sets (``genjax.data.toy2d``), drawn *inside* the jitted train step with
  ``fold_in(key, step)``: no host work, nothing to prefetch.
- ``"digits"``: the bundled 8x8 digits (``genjax.data.digits``), in memory.
- ``"tfds"``: a TensorFlow Datasets split (MNIST, CIFAR-10, ...) through
  ``genjax.data.tfds_loader.batches`` (grain, each host reads its own shard, ``start_step``
  resumes exactly); host pipeline, pixels k mapped to ``2 k / 255 - 1`` by the loader.

``config.data.random_flip`` mirrors images left-right with probability 1/2 inside the jitted step
(``with_random_flip``), for any image source.

The digits are read in the order of ``genjax.data.batching.batch_iterator`` (seeded epoch
permutations, ``start_step`` resumes exactly), applied to the row *indices*: the host produces the
global indices of a step, keeps its own rows (``sharding.local_batch_slice``) and the trainer
assembles them with ``jax.make_array_from_process_local_data``. Pipelines (``config.data.pipeline``):

- ``"device"``: the data set sits on every device; the host feeds only int32 indices (B * 4
  bytes a step) and the gather runs inside the jitted step.
- ``"host"``: the host gathers its rows and feeds the uint8 pixels; a background thread
  prefetches (tfds sets always use this pipeline).

Both give the same batches. Digit intensities with K levels map to the model space [-1, 1] at the bin
centres ``x = 2 (k + 1/2) / K - 1``, the convention of ``genjax.data.digits`` and of uniform
dequantization (bits/dim then bounds the discrete likelihood).
"""
from __future__ import annotations

from typing import Callable, Iterator, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from experiments.tasks import config_error
from genjax.data import batching
from genjax.train import sharding

SOURCES = ("toy2d", "digits", "tfds")
PIPELINES = ("auto", "device", "host")


class Data(NamedTuple):
    """A data source for the trainer.

    Attributes:
      shape: shape of one example in model space, e.g. (2,) or (28, 28, 1).
      num_classes: number of labels when ``config.data.use_labels`` (batches then carry "label").
      feeds: ``feeds(start_step) -> iterator`` of host-local numpy pytrees (this process's rows of
        steps start, start + 1, ...), or None when batches are generated on device.
      to_batch: ``(step, key, feed) -> {"x": [B, ...], ("label": [B])}``, jit-able, run inside the
        train step on the global feed.
      reference: ``(n, key) -> np [n, ...]``: data samples in model space (for sample metrics).
      levels: ``(x [n, ...] model space) -> int levels`` for bits/dim, or None for continuous data.
      num_levels: K, the number of discrete levels (None: continuous).
      pipeline: "device" or "host" (what ``feeds`` carries).
    """

    shape: tuple
    num_classes: Optional[int]
    feeds: Optional[Callable[[int], Iterator]]
    to_batch: Callable
    reference: Callable
    levels: Optional[Callable] = None
    num_levels: Optional[int] = None
    pipeline: str = "device"


def build(config, mesh, key) -> Data:
    """The Data of ``config.data`` for the global batch ``config.training.batch_size``."""
    source, pipeline = config.data.source, config.data.pipeline
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r} (config.data.source); choose one of {SOURCES}")
    if pipeline not in PIPELINES:
        raise ValueError(f"config.data.pipeline must be one of {PIPELINES}, got {pipeline!r}")
    batch_size = int(config.training.batch_size)
    if source == "toy2d":
        if pipeline == "host":
            raise ValueError("config.data.pipeline='host': toy2d batches are drawn on device; use 'auto'")
        return _toy2d(config.data.name, batch_size, key)
    use_labels = bool(config.data.use_labels)
    if source == "digits":
        from genjax.data import digits
        with config_error("config.data.split"):
            images, labels = digits.load(config.data.split)
        data = array_source(images, labels, digits.NUM_LEVELS, batch_size, mesh, key, use_labels,
                            on_device=pipeline != "host")
    else:
        data = _tfds(config, batch_size, mesh, key, use_labels)
    return with_random_flip(data) if bool(config.data.get("random_flip", False)) else data


def with_random_flip(data: Data) -> Data:
    """Mirror each image left-right with probability 1/2 (score_sde's and EDM's ``random_flip``).

    The coin of row i at step s is ``bernoulli(fold_in(fold_in(data_key, s), 1))[i]``: a pure
    function of the step, drawn inside the jitted step, so resumed runs see the same batches.
    """
    if len(data.shape) != 3:
        raise ValueError(f"config.data.random_flip needs images [H, W, C], got examples of shape {data.shape}")
    inner = data.to_batch

    def to_batch(step, data_key, feed):
        batch = inner(step, data_key, feed)
        x = batch["x"]
        coin = jax.random.bernoulli(jax.random.fold_in(jax.random.fold_in(data_key, step), 1), 0.5, (x.shape[0],))
        return dict(batch, x=jnp.where(coin[:, None, None, None], x[:, :, ::-1, :], x))

    return data._replace(to_batch=to_batch)


# --- 2-D toy sets ---------------------------------------------------------------------------------
def _toy2d(name: str, batch_size: int, key) -> Data:
    from genjax.data import toy2d

    if name not in toy2d.NAMES:
        raise ValueError(f"unknown toy data set {name!r} (config.data.name); choose one of {list(toy2d.NAMES)}")

    def to_batch(step, data_key, feed):
        del feed
        return {"x": toy2d.sample(name, batch_size, jax.random.fold_in(data_key, step))}

    def reference(n, ref_key):
        return np.asarray(toy2d.sample(name, n, ref_key))

    return Data(shape=(2,), num_classes=None, feeds=None, to_batch=to_batch, reference=reference)


# --- arrays ---------------------------------------------------------------------------------------
def _seed(key) -> int:
    """A Python int seed for numpy from a JAX key (deterministic)."""
    return int(np.asarray(jax.random.key_data(key)).ravel()[-1])


def array_source(images: np.ndarray, labels: Optional[np.ndarray], num_levels: int, batch_size: int, mesh, key,
                 use_labels: bool = False, on_device: bool = True) -> Data:
    """Epoch-shuffled batches of in-memory integer images [N, ...] with levels 0..num_levels-1."""
    images = np.asarray(images)
    n = len(images)
    if batch_size > n:
        raise ValueError(f"config.training.batch_size={batch_size} exceeds the data set size {n}")
    if use_labels and labels is None:
        raise ValueError("config.data.use_labels=True but the data set has no labels")
    num_classes = int(np.max(labels)) + 1 if use_labels else None
    scale = 2.0 / num_levels

    def to_model(k):
        return (k.astype(jnp.float32) + 0.5) * scale - 1.0

    rows = sharding.local_batch_slice(batch_size, mesh)
    seed = _seed(key)

    def index_stream(start):
        it = batching.batch_iterator({"index": np.arange(n, dtype=np.int32)}, batch_size, seed, start_step=start)
        return (b["index"][rows] for b in it)

    if on_device:
        rep = sharding.replicated(mesh)
        x_dev = jax.device_put(images, rep)
        y_dev = jax.device_put(np.asarray(labels, np.int32), rep) if num_classes else None

        def feeds(start):
            return ({"index": idx} for idx in index_stream(start))

        def to_batch(step, data_key, feed):
            out = {"x": to_model(x_dev[feed["index"]])}
            if y_dev is not None:
                out["label"] = y_dev[feed["index"]]
            return out
    else:
        def feeds(start):
            for idx in index_stream(start):
                out = {"x": images[idx]}
                if num_classes:
                    out["label"] = np.asarray(labels[idx], np.int32)
                yield out

        def to_batch(step, data_key, feed):
            return dict(feed, x=to_model(feed["x"]))

    def reference(m, ref_key):
        idx = np.sort(np.asarray(jax.random.permutation(ref_key, n))[: min(m, n)])
        return np.asarray(to_model(jnp.asarray(images[idx])))

    def levels(x):
        return jnp.clip(jnp.floor((jnp.asarray(x) + 1.0) / scale), 0, num_levels - 1).astype(jnp.int32)

    return Data(shape=tuple(images.shape[1:]), num_classes=num_classes, feeds=feeds, to_batch=to_batch,
                reference=reference, levels=levels, num_levels=num_levels, pipeline="device" if on_device else "host")


# --- TensorFlow Datasets --------------------------------------------------------------------------
def _tfds(config, batch_size: int, mesh, key, use_labels: bool) -> Data:
    from genjax.data import tfds_loader

    name, split = config.data.name, config.data.split
    if name not in tfds_loader.DATASETS:
        raise ValueError(f"unknown tfds data set {name!r} (config.data.name); choose one of {sorted(tfds_loader.DATASETS)}")
    if config.data.pipeline == "device":
        raise ValueError("config.data.pipeline='device': tfds data sets are read on the host; use 'auto' or 'host'")
    data_dir = config.data.data_dir or None
    try:
        source = tfds_loader.open_source(name, split, data_dir, download=False)
    except Exception as e:  # noqa: BLE001 - tfds raises several types for missing data
        raise ValueError(f"cannot open the tfds data set {name!r} (config.data.name), split {split!r} "
                         f"(config.data.split), data_dir {data_dir!r}: {type(e).__name__}: {e}") from e
    seed = _seed(key)
    num_levels = tfds_loader.NUM_LEVELS
    scale = 2.0 / (num_levels - 1)  # the loader maps k -> 2 k / 255 - 1
    num_classes = int(source.dataset_info.features["label"].num_classes) if use_labels else None

    def feeds(start):
        for b in tfds_loader.batches(name, split, batch_size, seed, data_dir=data_dir, start_step=start,
                                     download=False, num_devices=mesh.size):
            yield {"x": b["image"], "label": b["label"]} if use_labels else {"x": b["image"]}

    def to_batch(step, data_key, feed):
        return feed

    def reference(m, ref_key):
        idx = np.sort(np.asarray(jax.random.permutation(ref_key, len(source)))[: min(m, len(source))])
        return np.stack([np.asarray(source[int(i)]["image"], np.float32) * scale - 1.0 for i in idx])

    def levels(x):
        return jnp.clip(jnp.round((jnp.asarray(x) + 1.0) / scale), 0, num_levels - 1).astype(jnp.int32)

    shape = tfds_loader.DATASETS[name]
    return Data(shape=shape, num_classes=num_classes, feeds=feeds,
                to_batch=to_batch, reference=reference, levels=levels, num_levels=num_levels, pipeline="host")
