"""Tests for genjax/metrics/sample.py: null behaviour, closed forms for Gaussians, monotonicity."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from genjax import metrics

R = 16  # independent replicate pairs for estimating a statistic's mean and standard error


def _replicates(stat, n, d, shift, key):
    """R values of stat(x, y), x ~ N(0, I_d), y ~ N(shift e_1, I_d), n points each (vmapped)."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)))
    xs = rng.normal(size=(R, n, d)).astype(np.float32)
    ys = (rng.normal(size=(R, n, d)) + np.eye(d)[0] * shift).astype(np.float32)
    return np.asarray(jax.jit(jax.vmap(stat))(xs, ys), np.float64)


def _assert_mean(vals, expected, n_se=4.0):
    """The replicate mean lies within n_se standard errors of `expected` (false alarm ~6e-5)."""
    se = vals.std(ddof=1) / math.sqrt(len(vals))
    assert abs(vals.mean() - expected) < n_se * se, (vals.mean(), expected, se)


def _mmd2_gaussians(delta, d, h, scales=metrics.DEFAULT_SCALES):
    """MMD^2 of N(0, I) vs N(delta, I): E k(X, Y) = (b^2 / (b^2 + 2))^(d/2) exp(-|delta|^2 / (2 (b^2 + 2)))
    per bandwidth b, so MMD^2 = sum_b 2 (b^2/(b^2+2))^(d/2) (1 - exp(-|delta|^2 / (2 (b^2 + 2))))."""
    total = 0.0
    for s in scales:
        b2 = (s * h) ** 2
        total += 2 * (b2 / (b2 + 2)) ** (d / 2) * (1 - math.exp(-delta**2 / (2 * (b2 + 2))))
    return total


def test_mmd2_unbiased_under_null_and_matches_closed_form(key):
    stat = lambda x, y: metrics.mmd2(x, y, bandwidth=1.0)  # noqa: E731 - fixed kernel: exact expectation
    null = _replicates(stat, 200, 2, 0.0, key)
    _assert_mean(null, 0.0)
    # the biased V-statistic would sit at about 2 (k(0) - E k) / n = 0.02 here: far outside
    assert abs(null.mean()) < 0.004
    alt = _replicates(stat, 200, 2, 1.0, jax.random.fold_in(key, 1))
    _assert_mean(alt, _mmd2_gaussians(1.0, 2, 1.0))


def test_energy_distance_1d_closed_form(key):
    """N(0, 1) vs N(delta, 1): 2 E|Z| - 2 * 2/sqrt(pi), Z ~ N(delta, 2),
    E|Z| = sqrt(2) sqrt(2/pi) exp(-delta^2/4) + delta (1 - 2 Phi(-delta / sqrt(2)))."""
    for i, delta in enumerate((0.0, 1.5)):
        ez = math.sqrt(2) * math.sqrt(2 / math.pi) * math.exp(-delta**2 / 4) + delta * (1 - 2 * norm.cdf(-delta / math.sqrt(2)))
        exact = 2 * ez - 2 * (2 / math.sqrt(math.pi))
        _assert_mean(_replicates(metrics.energy_distance, 200, 1, delta, jax.random.fold_in(key, i)), exact)


def test_sliced_wasserstein_closed_forms(key):
    """Shifting a point cloud by delta moves every projection by theta . delta, so
    SW_2(x, x + delta) = (E_theta (theta . delta)^2)^(1/2) = |delta| / sqrt(d), up to the
    Monte-Carlo error of 1024 directions: (theta_1)^2 ~ Beta(1/2, (d-1)/2) has relative sd
    <= 1.1 / sqrt(1024) = 3.4 % (d <= 5), i.e. < 1.7 % on the root; tolerance 6 %."""
    rng, kp = np.random.default_rng(0), jax.random.key(1)
    for d, delta in ((1, 1.0), (2, 2.0), (5, 2.0)):
        x = rng.normal(size=(500, d)).astype(np.float32)
        y = rng.permutation(x) + np.eye(d, dtype=np.float32)[0] * delta
        sw = float(metrics.sliced_wasserstein(x, y, kp, num_projections=1024))
        assert abs(sw - delta / math.sqrt(d)) < 0.06 * delta / math.sqrt(d), (d, sw)
    # independent samples, N(0, 1) vs N(1, 1), n = 20000: W_2 = 1 up to the sd of the sample-mean
    # difference sqrt(2 / n) = 0.01 plus the O(n^-1/2) quantile noise; tolerance 0.05
    x = rng.normal(size=(20000, 1)).astype(np.float32)
    y = rng.normal(size=(20000, 1)).astype(np.float32) + 1.0
    assert abs(float(metrics.sliced_wasserstein(x, y, kp, num_projections=1)) - 1.0) < 0.05


def test_wasserstein2_1d_exact_for_unequal_sizes():
    """Against a numpy quadrature of the two empirical quantile functions (1e6 midpoints)."""
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=7), rng.normal(size=5) + 0.3
    q = (np.arange(10**6) + 0.5) / 10**6
    ref = np.mean((np.quantile(u, q, method="inverted_cdf") - np.quantile(v, q, method="inverted_cdf")) ** 2)
    np.testing.assert_allclose(float(metrics.wasserstein2_1d(jnp.asarray(u), jnp.asarray(v))), ref, rtol=1e-4)
    # a sample and itself repeated twice are the same empirical measure
    assert float(metrics.wasserstein2_1d(jnp.asarray(u), jnp.asarray(np.tile(u, 2)))) < 1e-10


def test_all_distances_grow_with_a_mean_shift(key):
    rng, kp = np.random.default_rng(2), jax.random.key(3)
    x = rng.normal(size=(300, 2)).astype(np.float32)
    y0 = rng.normal(size=(300, 2)).astype(np.float32)
    shifts = (0.0, 0.5, 1.0, 2.0)
    for fn in (metrics.mmd2, metrics.energy_distance, lambda a, b: metrics.sliced_wasserstein(a, b, kp)):
        vals = [float(fn(x, y0 + np.float32([s, 0.0]))) for s in shifts]
        assert all(b > a for a, b in zip(vals, vals[1:])), vals


def test_jit_and_gradients_are_finite():
    x = jnp.asarray(np.random.default_rng(4).normal(size=(64, 3)), jnp.float32)
    y = x.at[:10].set(x[:10])  # repeated points: zero distances inside the sqrt
    np.testing.assert_allclose(jax.jit(metrics.mmd2)(x, y + 1.0), metrics.mmd2(x, y + 1.0), rtol=1e-5)
    g = jax.grad(lambda a: metrics.energy_distance(a, y))(x)
    assert np.all(np.isfinite(np.asarray(g)))


def test_bits_per_dim_convention():
    d = 64
    # uniform density on the data interval scores log2(17) bits/dim for 17 levels, whatever the interval
    assert math.isclose(float(metrics.bits_per_dim(0.0, d, 17)), math.log2(17), rel_tol=1e-6)
    nll_sym = d * math.log(2.0)  # uniform on [-1, 1]^D
    assert math.isclose(float(metrics.bits_per_dim(nll_sym, d, 17, (-1.0, 1.0))), math.log2(17), rel_tol=1e-6)
    assert math.isclose(float(metrics.bits_per_dim(d * math.log(2.0), d)), 1.0, rel_tol=1e-6)
    back = metrics.nll_from_bits_per_dim(metrics.bits_per_dim(123.0, 784, 256, (-1, 1)), 784, 256, (-1, 1))
    assert math.isclose(float(back), 123.0, rel_tol=1e-5)


_X = jnp.zeros((5, 2))


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda: metrics.mmd2(_X, jnp.zeros((5, 3))), "event size", id="event_size"),
    pytest.param(lambda: metrics.energy_distance(jnp.zeros((1, 2)), _X), "n >= 2", id="n"),
    pytest.param(lambda: metrics.mmd2(_X, _X, bandwidth=0.0), "bandwidth", id="bandwidth"),
    pytest.param(lambda: metrics.sliced_wasserstein(_X, _X, jax.random.key(0), num_projections=0),
                 "num_projections", id="num_projections"),
    pytest.param(lambda: metrics.bits_per_dim(1.0, 0), "num_dims", id="num_dims"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
