"""Real image data sets (MNIST, CIFAR-10, ...) from TensorFlow Datasets, batched with grain.

``tfds.data_source(name, split=...)`` opens the prepared ArrayRecord files for random access
(no TensorFlow needed; on a fresh machine it downloads and prepares the set first, as tfds always
does). The pipeline is a ``grain.MapDataset``:

    source -> this host's shard (rows shard_index, shard_index + shard_count, ...)
           -> shuffle(seed), reshuffled every epoch -> repeat(num_epochs)
           -> to float32 in ``image_range`` -> batch(batch_size / shard_count)

Each host reads a disjoint shard (default: ``jax.process_index()`` of ``jax.process_count()``,
like ``grain.sharding.ShardByJaxProcess``) and yields its ``batch_size / process_count`` rows of
every global batch, ready for ``jax.make_array_from_process_local_data``; with one process the
yielded batch *is* the global batch. Batches are ``{"image": float32 [B, H, W, C] in
image_range (default [-1, 1]: x = -1 + 2 k / 255), "label": int32 [B]}``. The stream is a pure
function of (seed, step): ``start_step`` resumes exactly.

References: TensorFlow Datasets (``tfds.data_source``); Google grain (``grain.MapDataset``).
"""
from __future__ import annotations

from typing import Iterator, Optional

import jax
import numpy as np

# name -> image shape of the sets this loader knows (all uint8 images with integer labels)
DATASETS = {
    "mnist": (28, 28, 1),
    "fashion_mnist": (28, 28, 1),
    "kmnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
    "cifar100": (32, 32, 3),
    "svhn_cropped": (32, 32, 3),
    "imagenet_resized/64x64": (64, 64, 3),
}
NUM_LEVELS = 256


def check_batch_size(batch_size: int, num_devices: Optional[int] = None, num_processes: Optional[int] = None) -> None:
    """ValueError naming ``batch_size`` unless it is a positive multiple of the device count."""
    num_devices = jax.device_count() if num_devices is None else num_devices
    num_processes = jax.process_count() if num_processes is None else num_processes
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if batch_size % num_devices or batch_size % num_processes:
        raise ValueError(f"batch_size={batch_size} (the global batch) must divide evenly across "
                         f"{num_devices} devices and {num_processes} processes")


def open_source(name: str, split: str, data_dir: Optional[str] = None, download: bool = True):
    """``tfds.data_source(name, split=split, data_dir=data_dir)`` with a clear error for unknown names."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    import tensorflow_datasets as tfds

    return tfds.data_source(name, split=split, data_dir=data_dir, download=download)


def make_dataset(source, batch_size: int, seed: int, *, shard_index: Optional[int] = None,
                 shard_count: Optional[int] = None, num_epochs: Optional[int] = None,
                 shuffle: bool = True, drop_remainder: bool = True, image_range=(-1.0, 1.0),
                 num_devices: Optional[int] = None):
    """The grain ``MapDataset`` of this host's batches over a random-access ``source``.

    Args:
      source: a random-access sequence of {"image": uint8 [H, W, C], "label": int} (a tfds data
        source, or any sequence of such dicts).
      batch_size: the *global* batch; each host's batches have batch_size / shard_count rows.
      seed: shuffle seed (the same on every host; each host shuffles its own shard).
      shard_index / shard_count: this host's shard; default jax.process_index() / process_count().
      num_epochs: None repeats forever.
      shuffle: shuffle each epoch with a fresh permutation.
      drop_remainder: drop the last incomplete batch (only reachable with finite num_epochs).
      image_range: (lo, hi): pixel k maps to lo + (hi - lo) k / 255.
      num_devices: devices the global batch is split across (default jax.device_count()).
    """
    import grain

    shard_index = jax.process_index() if shard_index is None else shard_index
    shard_count = jax.process_count() if shard_count is None else shard_count
    if not 0 <= shard_index < shard_count:
        raise ValueError(f"shard_index must lie in [0, shard_count={shard_count}), got {shard_index}")
    check_batch_size(batch_size, num_devices, shard_count)
    lo, hi = map(float, image_range)
    if not hi > lo:
        raise ValueError(f"image_range must be (lo, hi) with hi > lo, got {image_range}")
    per_host = batch_size // shard_count

    ds = grain.MapDataset.source(source)[shard_index::shard_count]
    if len(ds) < per_host:
        raise ValueError(f"batch_size={batch_size} needs {per_host} rows per host, but the shard has {len(ds)}")
    if shuffle:
        ds = ds.shuffle(seed=seed)
    ds = ds.repeat(num_epochs)  # reseeds the shuffle each epoch
    scale = (hi - lo) / (NUM_LEVELS - 1)

    def convert(example):
        image = np.asarray(example["image"], np.float32) * scale + lo
        return {"image": image, "label": np.asarray(example["label"], np.int32)}

    return ds.map(convert).batch(per_host, drop_remainder=drop_remainder)


def batches(name: str, split: str, batch_size: int, seed: int, *, data_dir: Optional[str] = None,
            start_step: int = 0, num_threads: int = 4, download: bool = True, **kwargs) -> Iterator[dict]:
    """Iterate this host's share of the global batches of a tfds image set.

    ``batches("mnist", "train", 128, seed=0)`` yields {"image": [128 / P, 28, 28, 1] float32 in
    [-1, 1], "label": [128 / P] int32} forever (P = jax.process_count()). ``kwargs`` go to
    ``make_dataset`` (shard_index, shard_count, num_epochs, shuffle, drop_remainder, image_range,
    num_devices); ``num_threads`` reads ahead in background threads.
    """
    if start_step < 0:
        raise ValueError(f"start_step must be >= 0, got {start_step}")
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    check_batch_size(batch_size, kwargs.get("num_devices"), kwargs.get("shard_count"))
    import grain

    ds = make_dataset(open_source(name, split, data_dir, download), batch_size, seed, **kwargs)
    ds = ds[start_step:]
    if num_threads > 0:
        return iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=2 * num_threads)))
    return (ds[i] for i in range(len(ds)))
