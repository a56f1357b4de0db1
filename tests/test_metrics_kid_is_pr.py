"""KID, Inception Score and improved precision / recall against closed forms and direct formulas."""
import itertools

import jax
import numpy as np
import pytest

from genjax.metrics import inception_score, kid, precision_recall


def _mmd2_direct(x, y):
    """The unbiased cubic-kernel MMD^2 by explicit loops in float64 (independent of genjax.metrics.kid)."""
    d, m = x.shape[1], len(x)
    k = lambda a, b: (np.dot(a, b) / d + 1.0) ** 3  # noqa: E731
    kxx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return kxx + kyy - 2 * kxy


def test_kid_equals_direct_formula(key):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 5)), rng.normal(size=(20, 5)) + 0.4
    # One subset of all rows: a permutation of each set, which the statistic does not see.
    mean, std = kid.kid(x, y, key, num_subsets=1, subset_size=1000)
    assert mean == pytest.approx(_mmd2_direct(x, y), rel=1e-5) and std == 0.0   # float32 kernel sums


def test_kid_is_unbiased(key):
    # 300 subset pairs of 32 rows drawn from two samples of ONE distribution: the mean is ~0 (within 3
    # standard errors), while the biased (V-statistic) estimate is clearly positive.
    rng = np.random.default_rng(1)
    f1, f2 = rng.normal(size=(3000, 8)), rng.normal(size=(3000, 8))
    mean, std = kid.kid(f1, f2, key, num_subsets=300, subset_size=32)
    assert abs(mean) < 3 * std / np.sqrt(300), (mean, std)
    x, y = f1[:32], f2[:32]
    biased = np.mean(((x @ x.T) / 8 + 1) ** 3) + np.mean(((y @ y.T) / 8 + 1) ** 3) - 2 * np.mean(((x @ y.T) / 8 + 1) ** 3)
    assert biased > 10 * std / np.sqrt(300)
    shifted, _ = kid.kid(f1, f2 + 0.5, jax.random.fold_in(key, 1), num_subsets=300, subset_size=32)
    assert shifted > 10 * std / np.sqrt(300)


def test_kid_input_checks(key):
    with pytest.raises(ValueError, match="one d"):
        kid.kid(np.zeros((4, 3)), np.zeros((4, 2)), key)
    with pytest.raises(ValueError, match="num_subsets"):
        kid.kid(np.zeros((4, 3)), np.zeros((4, 3)), key, num_subsets=0)


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


def _embed(t, seed=0, d=5):
    """Points t on a line, rotated into d dimensions and shifted (distances unchanged)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return np.outer(t, q[0]) + rng.normal(size=d)


def test_precision_recall_known_answer():
    # Real 0..9 on a line: 3rd-NN radius 3 at the ends, 2 inside. Generated {4.5 .. 7.5} (radii 3, 2, 2, 3:
    # covering [1.5, 10.5]) and {40 .. 43}. Precision: 4.5..7.5 are in the real manifold, 40..43 are not
    # -> 4/8. Recall: reals 2..9 lie in the generated manifold (2 is 2.5 from 4.5 < 3), 0 and 1 do not -> 8/10.
    real = _embed(np.arange(10.0))
    gen = _embed(np.array([4.5, 5.5, 6.5, 7.5, 40, 41, 42, 43]))
    p, r = precision_recall.precision_recall(real, gen, k=3, block=3)   # block 3: exercises padding
    assert p == pytest.approx(0.5) and r == pytest.approx(0.8)
    np.testing.assert_allclose(precision_recall.knn_radii(real.astype(np.float32), 3, 4),
                               [9, 4, 4, 4, 4, 4, 4, 4, 4, 9], rtol=1e-4)   # squared radii
    assert precision_recall.precision_recall(real, real) == (1.0, 1.0)
    with pytest.raises(ValueError, match="k must be"):
        precision_recall.precision_recall(real, gen, k=8)
