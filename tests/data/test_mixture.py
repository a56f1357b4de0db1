"""Tests for genjax/data/mixture.py: the GaussianMixture type, its sampling and constructors.

Oracles: sample moments against the closed-form mean and covariance, label counts against the
binomial law, Bayes' rule for the class posterior, jit / vmap of the pytree, and the constructors'
closed-form parameters. The noised quantities are tested in test_mixture_exact.py.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import schedules as S
from genjax.data import mixture as M


def test_sample_moments(key):
    """Mean within 4 standard errors, covariance within 5% of its largest entry (n = 40000)."""
    gm = M.random_mixture(3, 2, key)
    x = np.asarray(gm.sample(40000, jax.random.key(7)), np.float64)
    cov = np.asarray(gm.cov(), np.float64)
    se = np.sqrt(np.diag(cov) / len(x))
    assert np.all(np.abs(x.mean(0) - np.asarray(gm.mean())) < 4 * se)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.05 * np.abs(cov).max())


def test_labels_and_class_posterior(key):
    """Bayes: log p(k | x_t) = log w_k + log p_t(x | k) - log p_t(x); labels match at t_min."""
    means = np.array([[-5.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    gm = M.GaussianMixture(means, np.full(3, 0.3), np.array([0.2, 0.3, 0.5]))
    x, labels = gm.sample_with_labels(400, key)
    assert labels.shape == (400,) and labels.dtype == jnp.int32
    # label counts ~ Bin(400, w_k): within 5 sd
    counts = np.bincount(np.asarray(labels), minlength=3)
    sd = np.sqrt(400 * np.array([0.16, 0.21, 0.25]))
    assert np.all(np.abs(counts - 400 * np.array([0.2, 0.3, 0.5])) < 5 * sd)
    s = S.ve()
    post = gm.class_log_prob(s)
    # at t_min the components are > 15 stds apart: the posterior argmax recovers every label
    assert np.mean(np.argmax(post(x, s.t_min), -1) == np.asarray(labels)) == 1.0
    t = 0.4
    logp = gm.noised_log_prob(s)(x, t)
    manual = jnp.stack([jnp.log(gm.weights[k]) + gm.component(k).noised_log_prob(s)(x, t) for k in range(3)], -1)
    np.testing.assert_allclose(post(x, t), manual - logp[:, None], atol=1e-4)
    np.testing.assert_allclose(jax.nn.logsumexp(post(x, t), -1), 0.0, atol=1e-5)


def test_pytree_jit_vmap(key):
    gm = M.random_mixture(2, 3, key)
    s = S.edm()
    x = jnp.asarray(np.random.default_rng(9).normal(size=(6, 3)), jnp.float32)
    ts = jnp.linspace(0.1, 5.0, 6)
    f = jax.jit(lambda g, x, t: g.score(s)(x, t))  # the mixture is a pytree argument
    np.testing.assert_allclose(f(gm, x, ts), gm.score(s)(x, ts), rtol=1e-5, atol=1e-6)
    per_row = jax.vmap(lambda xi, ti: gm.score(s)(xi[None], ti)[0])(x, ts)
    np.testing.assert_allclose(per_row, gm.score(s)(x, ts), rtol=1e-5, atol=1e-6)


def test_constructors():
    g = M.gaussian([1.0, -2.0], 0.5)
    assert g.means.shape == (1, 2) and g.stds.shape == (1, 2)
    x = jnp.array([[1.0, -2.0]])
    np.testing.assert_allclose(g.log_prob(x), -np.log(2 * np.pi * 0.25), rtol=1e-6)
    gm = M.grid_mixture()
    assert gm.num_components == 25 and gm.dim == 2
    np.testing.assert_allclose(gm.mean(), 0.0, atol=1e-6)
    two = M.two_gaussians_1d(separation=4.0, std=0.5)
    np.testing.assert_allclose(two.cov(), [[4.0 + 0.25]], rtol=1e-6)  # var = s^2 + (sep/2)^2


_M = np.zeros((2, 2))
_HALF = np.array([0.5, 0.5])
_GM = lambda: M.GaussianMixture(_M, np.ones(2), _HALF)  # noqa: E731  (a valid mixture)


@pytest.mark.parametrize("error, call, match", [
    pytest.param(ValueError, lambda: M.GaussianMixture(_M, np.array([1.0, 0.0]), _HALF), "stds", id="std_zero"),
    pytest.param(ValueError, lambda: M.GaussianMixture(_M, -np.ones((2, 2)), _HALF), "stds", id="std_negative"),
    pytest.param(ValueError, lambda: M.GaussianMixture(_M, np.ones(2), np.array([0.5, 0.6])), "weights",
                 id="weights_sum"),
    pytest.param(ValueError, lambda: M.GaussianMixture(_M, np.ones(2), np.array([1.5, -0.5])), "weights",
                 id="weights_negative"),
    pytest.param(ValueError, lambda: M.GaussianMixture(_M, np.ones(2), np.array([1.0])), "weights",
                 id="weights_shape"),
    pytest.param(ValueError, lambda: M.GaussianMixture(_M, np.ones(3), _HALF), "stds", id="stds_shape"),
    pytest.param(ValueError, lambda: M.GaussianMixture(np.zeros(2), np.ones(2), _HALF), "means", id="means_rank"),
    pytest.param(ValueError, lambda: _GM().log_prob(jnp.zeros((4, 3))), "x must have shape", id="log_prob_x"),
    pytest.param(ValueError, lambda: _GM().component(2), "k must be", id="component_k"),
    pytest.param(ValueError, lambda: _GM().sample(0, jax.random.key(0)), "n must be", id="sample_n"),
    pytest.param(TypeError, lambda: _GM().score("vp_linear"), "Schedule", id="score_schedule"),
])
def test_bad_input_raises(error, call, match):
    with pytest.raises(error, match=match):
        call()
