"""The digits classifier metric: accuracy of the shipped weights and the ordering of its Frechet distances.

Measured with the shipped weights (experiments/tools/train_digits_classifier.py prints them):
test accuracy 98.3 %, FD(train, test) = 3.56 (the floor), FD(train, test + noise std 0.5) = 13.5,
FD(train, blurred test) = 120, FD(train, uniform noise) = 153.
"""
import os
import sys

import jax
import numpy as np
import pytest

from genjax import metrics
from genjax.data import digits as digits_data
from genjax.metrics import digits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "tools"))
import train_digits_classifier as tool  # noqa: E402  (the degradations the README's numbers use)


@pytest.fixture(scope="module")
def test_digits():
    return digits.to_model_space(digits_data.load("test")[0])


def test_shipped_weights_are_small_and_accurate():
    assert os.path.getsize(digits.WEIGHTS) < 300_000
    assert digits.accuracy(split="test") >= 0.97          # measured 0.983 on the 359 held-out digits


def test_fd_orders_degradations(test_digits):
    key = jax.random.key(1)
    floor = metrics.digits_fd(test_digits)                # test split against the training statistics
    noisy = metrics.digits_fd(np.asarray(tool.noisy(test_digits, 0.5, key)))
    blurred = metrics.digits_fd(np.asarray(tool.blur(test_digits)))
    # What an untrained diffusion model draws: its prior, N(0, I) clipped to the data range.
    untrained = metrics.digits_fd(np.clip(np.asarray(jax.random.normal(key, test_digits.shape)), -1, 1))
    assert floor == pytest.approx(3.56, abs=0.05)         # the shipped weights' measured floor
    assert 3 * floor < noisy < blurred and 10 * floor < blurred < untrained, (floor, noisy, blurred, untrained)


def test_fd_against_samples_and_score(test_digits):
    train = digits.to_model_space(digits_data.load("train")[0])
    assert metrics.digits_fd(train) == pytest.approx(0.0, abs=1e-6)    # the reference itself
    assert metrics.digits_fd(test_digits, ref=test_digits) == pytest.approx(0.0, abs=1e-6)
    # Classifier score: ~10 on real digits (10 balanced classes, confident), ~1 on one class only.
    assert metrics.digits_score(test_digits) > 8.5
    labels = digits_data.load("test")[1]
    assert metrics.digits_score(test_digits[labels == 3]) < 1.2


def test_params_roundtrip_and_checks():
    p = digits.load_params()
    again = digits.unflatten_params(digits.flatten_params(p))
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(lambda a, b: np.array_equal(a, b), p, again))
    with pytest.raises(ValueError, match=r"\[n, 8, 8, 1\]"):
        metrics.digits_fd(np.zeros((4, 28, 28, 1)))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.digits_fd(np.zeros((1, 8, 8, 1)))
