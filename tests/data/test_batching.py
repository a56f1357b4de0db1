"""Tests for genjax/data/batching.py."""
import itertools

import numpy as np
import pytest

from genjax.data import batching


def test_batch_iterator_epochs_are_permutations_and_resume():
    n = 10
    data = {"x": np.arange(n) * 10, "label": np.arange(n)}
    it = batching.batch_iterator(data, 3, seed=0, drop_remainder=False, num_epochs=2)
    batches = list(it)
    assert [len(b["x"]) for b in batches] == [3, 3, 3, 1] * 2
    for b in batches:  # rows stay aligned across arrays
        np.testing.assert_array_equal(b["x"], 10 * b["label"])
    first = np.concatenate([b["label"] for b in batches[:4]])
    second = np.concatenate([b["label"] for b in batches[4:]])
    assert sorted(first) == list(range(n)) and sorted(second) == list(range(n))
    assert not np.array_equal(first, second)  # reshuffled each epoch
    # drop_remainder: 3 full batches per epoch; start_step resumes the same stream
    full = list(itertools.islice(batching.batch_iterator(data, 3, seed=5), 7))
    assert all(len(b["x"]) == 3 for b in full)
    resumed = list(itertools.islice(batching.batch_iterator(data, 3, seed=5, start_step=4), 3))
    for a, b in zip(full[4:], resumed):
        np.testing.assert_array_equal(a["x"], b["x"])
    ordered = next(batching.batch_iterator(data, 4, seed=0, shuffle=False))
    np.testing.assert_array_equal(ordered["label"], [0, 1, 2, 3])


_DATA = {"x": np.zeros(5), "y": np.zeros(5)}


@pytest.mark.parametrize("data, batch_size, match", [
    pytest.param(_DATA, 6, "batch_size", id="batch_larger_than_data"),
    pytest.param(_DATA, 0, "batch_size", id="batch_zero"),
    pytest.param({"x": np.zeros(5), "y": np.zeros(4)}, 2, "leading dimension", id="ragged"),
])
def test_batch_iterator_errors(data, batch_size, match):
    with pytest.raises(ValueError, match=match):
        next(batching.batch_iterator(data, batch_size, seed=0))
