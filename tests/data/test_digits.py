"""Tests for genjax/data/digits.py."""
import jax
import numpy as np
import pytest

from genjax.data import digits


def test_load_shapes_levels_and_split():
    x_all, y_all = digits.load("all")
    assert x_all.shape == (1797, 8, 8, 1) and x_all.dtype == np.uint8
    assert x_all.min() == 0 and x_all.max() == 16 and set(np.unique(y_all)) == set(range(10))
    x_tr, y_tr = digits.load("train")
    x_te, y_te = digits.load("test")
    assert len(x_tr) + len(x_te) == 1797 and len(x_te) == 359
    # the split is a partition of the images (rows are identified by their pixel + label bytes)
    rows = lambda x, y: {a.tobytes() + bytes([b]) for a, b in zip(x, y)}  # noqa: E731
    assert rows(x_tr, y_tr) | rows(x_te, y_te) == rows(x_all, y_all)
    # fixed seed: the same split every call; another seed gives another split
    np.testing.assert_array_equal(digits.load("test")[0], x_te)
    assert not np.array_equal(digits.load("test", seed=1)[0], x_te)


def test_dequantize_quantize_roundtrip_and_mean():
    x, _ = digits.load("train")
    y = np.asarray(digits.dequantize(x, jax.random.key(0)))
    assert y.dtype == np.float32 and y.min() >= 0.0 and y.max() < 1.0
    # u = 17 y - x ~ U[0, 1) up to float32 rounding of (x + u) / 17 (<= 16 ulp(1) ~ 2e-6):
    # mean 1/2, variance 1/12, standard errors ~ 1e-3 and ~ 3e-4 over 92032 pixels
    u = 17.0 * y.astype(np.float64) - x
    assert u.min() >= -1e-5 and u.max() <= 1 + 1e-5
    assert abs(u.mean() - 0.5) < 5e-3 and abs(u.var() - 1 / 12) < 5e-3
    np.testing.assert_allclose(np.asarray(digits.to_unit(x)), (x + 0.5) / 17, rtol=1e-6)
    # quantize inverts the map to bin centres exactly
    np.testing.assert_array_equal(np.asarray(digits.quantize(digits.to_unit(x))), x.astype(np.int32))


def test_binarize():
    x = np.array([0, 8, 9, 16], np.uint8)
    np.testing.assert_array_equal(np.asarray(digits.binarize(x)), [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda: digits.load("valid"), "split", id="split"),
    pytest.param(lambda: digits.load("train", test_fraction=1.5), "test_fraction", id="test_fraction"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


