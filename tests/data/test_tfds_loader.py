"""Tests for genjax/data/tfds_loader.py on mocked tfds data (nothing is downloaded).

``tfds.testing.mock_data(policy=MockPolicy.USE_CODE)`` generates random examples from the data
set's feature spec and serves them through the same ArrayRecord data-source class; it needs neither
TensorFlow nor metadata files.
"""
import itertools

import numpy as np
import pytest
import tensorflow_datasets as tfds

from genjax.data import tfds_loader as L

N = 24


@pytest.fixture
def mock():
    with tfds.testing.mock_data(num_examples=N, policy=tfds.testing.MockPolicy.USE_CODE):
        yield


def _to_levels(images):
    """Invert x = -1 + 2 k / 255 (exact to < 1e-3 levels in float32)."""
    k = (np.asarray(images, np.float64) + 1.0) * 127.5
    np.testing.assert_allclose(k, np.round(k), atol=1e-3)
    return np.round(k).astype(np.uint8)


def _source_rows(name):
    src = L.open_source(name, "train")
    return {np.asarray(src[i]["image"], np.uint8).tobytes() for i in range(len(src))}


def test_mnist_epoch_is_a_shuffled_permutation(mock):
    it = L.batches("mnist", "train", 8, seed=0, shard_count=1, shard_index=0, num_epochs=2, num_threads=0)
    got = list(it)
    assert len(got) == 2 * N // 8
    b = got[0]
    assert b["image"].shape == (8, 28, 28, 1) and b["image"].dtype == np.float32
    assert b["label"].shape == (8,) and b["label"].dtype == np.int32
    assert b["image"].min() >= -1.0 and b["image"].max() <= 1.0
    per_epoch = N // 8
    epochs = [np.concatenate([_to_levels(g["image"]) for g in got[e * per_epoch:(e + 1) * per_epoch]]) for e in (0, 1)]
    rows = _source_rows("mnist")
    for ep in epochs:  # every example exactly once per epoch
        assert len(ep) == N and {r.tobytes() for r in ep} == rows
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled between epochs


def test_hosts_read_disjoint_shards_with_half_batches(mock):
    """Two processes (shard_count=2): per-host batch 4, shards disjoint and together the data set."""
    shards = []
    for index in (0, 1):
        it = L.batches("mnist", "train", 8, seed=1, shard_index=index, shard_count=2, num_epochs=1, num_threads=0)
        got = list(it)
        assert all(g["image"].shape == (4, 28, 28, 1) for g in got)
        shards.append({r.tobytes() for g in got for r in _to_levels(g["image"])})
    assert not shards[0] & shards[1]
    assert shards[0] | shards[1] == _source_rows("mnist")


def test_resume_and_threads_give_the_same_stream(mock):
    ref = list(itertools.islice(L.batches("cifar10", "train", 8, seed=2, shard_count=1, shard_index=0,
                                          num_threads=0, image_range=(0.0, 1.0)), 6))
    assert ref[0]["image"].shape == (8, 32, 32, 3)
    assert 0.0 <= min(r["image"].min() for r in ref) and max(r["image"].max() for r in ref) <= 1.0
    resumed = L.batches("cifar10", "train", 8, seed=2, shard_count=1, shard_index=0, start_step=4,
                        num_threads=2, image_range=(0.0, 1.0))
    for a, b in zip(ref[4:], itertools.islice(resumed, 2)):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["label"], b["label"])


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda: L.batches("imagenette_typo", "train", 8, seed=0), "unknown data set", id="name"),
    # conftest gives 8 devices: a global batch of 12 does not split across them
    pytest.param(lambda: L.batches("mnist", "train", 12, seed=0), "batch_size", id="batch_vs_devices"),
    pytest.param(lambda: L.check_batch_size(6, num_devices=4, num_processes=1), "batch_size", id="check_batch_size"),
    pytest.param(lambda: L.make_dataset(L.open_source("mnist", "train"), 8, 0, shard_index=2, shard_count=2),
                 "shard_index", id="shard_index"),
])
def test_bad_input(mock, call, match):
    with pytest.raises(ValueError, match=match):
        call()
