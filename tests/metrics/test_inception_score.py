"""Inception Score against closed forms."""
import numpy as np
import pytest

from genjax.metrics import inception_score


def test_inception_score_closed_forms():
    # One-hot predictions over k equiprobable classes: IS = k exactly, with every split balanced.
    k = 7
    labels = np.tile(np.arange(k), 100)                               # 700 rows, splits of 70 = 10 per class
    logits = np.where(np.arange(k)[None] == labels[:, None], 50.0, -50.0)
    mean, std = inception_score.inception_score(logits, num_splits=10)
    assert mean == pytest.approx(k, rel=1e-5) and std < 1e-5
    # Constant predictions: p(y|x) = p(y), IS = 1.
    assert inception_score.inception_score(np.random.default_rng(0).normal(size=(1, 5)).repeat(40, 0), 4)[0] \
        == pytest.approx(1.0, rel=1e-6)
    # Two classes, p(y|x) = (a, 1 - a) for half the rows and (1 - a, a) for the rest: exp(log 2 - H(a)).
    a = 0.8
    la = np.log([a, 1 - a])
    logits = np.concatenate([np.tile(la, (5, 1)), np.tile(la[::-1], (5, 1))])
    want = np.exp(np.log(2) + a * np.log(a) + (1 - a) * np.log(1 - a))
    assert inception_score.inception_score(logits, num_splits=1)[0] == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="num_splits"):
        inception_score.inception_score(logits, num_splits=11)
