"""A generic, seeded, epoch-shuffled batch iterator over in-memory numpy arrays.

Epoch e reads the rows in the order ``np.random.default_rng([seed, e]).permutation(N)``, so the
stream depends only on (seed, step): ``start_step`` resumes a run exactly where an uninterrupted
run would be, without iterator state in the checkpoint. With ``drop_remainder=True`` an epoch has
``N // batch_size`` batches (the last ``N % batch_size`` rows of each permutation are skipped),
otherwise ``ceil(N / batch_size)`` with a smaller last batch.
"""
from __future__ import annotations

from typing import Iterator, Mapping, Optional

import numpy as np


def num_batches(n: int, batch_size: int, drop_remainder: bool = True) -> int:
    """Batches per epoch of n rows."""
    return n // batch_size if drop_remainder else -(-n // batch_size)


def batch_iterator(arrays: Mapping[str, np.ndarray], batch_size: int, seed: int, *, drop_remainder: bool = True,
                   shuffle: bool = True, num_epochs: Optional[int] = None,
                   start_step: int = 0) -> Iterator[dict]:
    """Yield ``{name: array[idx]}`` batches of ``batch_size`` rows, epoch after epoch.

    Args:
      arrays: dict of numpy arrays sharing the leading dimension N (e.g. {"x": ..., "label": ...}).
      batch_size: rows per batch.
      seed: seed of the per-epoch permutations.
      drop_remainder: skip the incomplete last batch of each epoch (all batches full).
      shuffle: permute each epoch; False reads rows 0..N-1 in order every epoch.
      num_epochs: stop after this many epochs; None iterates forever.
      start_step: index of the first batch to yield (resume).
    """
    if not isinstance(arrays, Mapping) or not arrays:
        raise ValueError("batch_iterator: arrays must be a non-empty dict of arrays")
    lengths = {k: len(v) for k, v in arrays.items()}
    n = next(iter(lengths.values()))
    if len(set(lengths.values())) != 1:
        raise ValueError(f"batch_iterator: arrays must share their leading dimension, got {lengths}")
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_iterator: batch_size must be a positive int, got {batch_size!r}")
    if drop_remainder and batch_size > n:
        raise ValueError(f"batch_iterator: batch_size={batch_size} exceeds the number of rows {n} "
                         "(with drop_remainder=True no batch would be produced)")
    if num_epochs is not None and num_epochs < 0:
        raise ValueError(f"batch_iterator: num_epochs must be >= 0 or None, got {num_epochs}")
    if start_step < 0:
        raise ValueError(f"batch_iterator: start_step must be >= 0, got {start_step}")
    per_epoch = num_batches(n, batch_size, drop_remainder)
    epoch, first = divmod(int(start_step), per_epoch)
    while num_epochs is None or epoch < num_epochs:
        order = np.random.default_rng([int(seed), epoch]).permutation(n) if shuffle else np.arange(n)
        for b in range(first, per_epoch):
            idx = order[b * batch_size:(b + 1) * batch_size]
            yield {k: np.asarray(v)[idx] for k, v in arrays.items()}
        epoch, first = epoch + 1, 0
