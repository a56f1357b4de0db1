"""KID against the direct formula and its unbiasedness."""
import itertools

import jax
import numpy as np
import pytest

from genjax.metrics import kid


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


@pytest.mark.parametrize("y, kwargs, match", [
    pytest.param(np.zeros((4, 2)), {}, "one d", id="feature_size"),
    pytest.param(np.zeros((4, 3)), {"num_subsets": 0}, "num_subsets", id="num_subsets"),
])
def test_kid_input_checks(key, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kid.kid(np.zeros((4, 3)), y, key, **kwargs)


