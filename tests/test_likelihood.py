"""Tests for genjax.likelihood against the exact log-density of Gaussian(-mixture) data.

With the exact mixture denoiser the probability-flow ODE transports p_{t_min} exactly, so
log_prob(x) must equal the mixture's closed-form ``noised_log_prob(s)(x, t_min)`` up to the ODE
solver's error (and, with the default prior N(0, sigma_max^2), the neglected alpha(t_max) x_0).
"""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import divergence, integrators, likelihood, schedules
from genjax.data import mixture

S = schedules.vp_linear()
B = 64


def _two_component():
    return mixture.GaussianMixture(np.array([[-1.5, 0.0], [1.5, 0.5]], np.float32),
                                   np.array([[0.5, 0.6], [0.7, 0.4]], np.float32),
                                   np.array([0.3, 0.7], np.float32))


def _gaussian_as_mixture():
    # N([1, -0.5], diag([0.5, 1.2]^2)) written as two identical components, so that both
    # data sets share one compiled function (the mixture is a jit argument with K = 2).
    return mixture.GaussianMixture(np.array([[1.0, -0.5], [1.0, -0.5]], np.float32),
                                   np.array([[0.5, 1.2], [0.5, 1.2]], np.float32),
                                   np.array([0.5, 0.5], np.float32))


@functools.partial(jax.jit, static_argnames=("divergence",))
def _log_prob_exact_prior(mix, x, key, divergence):
    # Exact prior p_{t_max} (the mixture pushed to t_max) isolates the ODE solve.
    return likelihood.log_prob_and_info(
        mix.denoiser(S), S, x, key, divergence=divergence, stepping=integrators.adaptive(rtol=1e-5, atol=1e-5),
        prior_log_prob=lambda z: mix.noised_log_prob(S)(z, S.t_max))


@pytest.mark.parametrize("make", [_gaussian_as_mixture, _two_component], ids=["gaussian", "mixture"])
def test_exact_divergence_matches_true_log_density(make):
    mix = make()
    x = mix.sample(B, jax.random.key(1))
    truth = mix.noised_log_prob(S)(x, S.t_min)
    logp, info = _log_prob_exact_prior(mix, x, None, "exact")
    assert bool(info.converged) and int(info.nfe) > 0
    # dopri5 with rtol = atol = 1e-5 over a span where |delta logp| ~ 5: global error ~1e-4;
    # 1e-3 absolute leaves margin for float32 (observed ~1e-5).
    np.testing.assert_allclose(logp, truth, atol=1e-3)
    np.testing.assert_allclose(info.prior_logp + info.delta_logp, logp, rtol=1e-6)


def test_hutchinson_exact_for_diagonal_jacobian():
    """For diagonal-covariance Gaussian data the ODE Jacobian is diagonal, and a Rademacher
    probe gives z^T J z = sum_i J_ii z_i^2 = tr J exactly: Hutchinson == truth to ODE error."""
    mix = _gaussian_as_mixture()
    x = mix.sample(B, jax.random.key(2))
    truth = mix.noised_log_prob(S)(x, S.t_min)
    logp, info = _log_prob_exact_prior(mix, x, jax.random.key(3), "hutchinson")
    assert bool(info.converged)
    np.testing.assert_allclose(logp, truth, atol=1e-3)  # same ODE tolerance as the exact test


def test_hutchinson_unbiased_on_mixture():
    """On a mixture the Jacobian is not diagonal: per-probe estimates scatter (sd 0.3-1.1 nats);
    their mean over 32 independent probes must match the truth within 4 standard errors."""
    mix = _two_component()
    pts = jnp.array([[0.0, 0.2], [1.0, 0.0]])  # between the components: strongest off-diagonal
    x = jnp.repeat(pts, B // 2, axis=0)
    truth = mix.noised_log_prob(S)(pts, S.t_min)
    logp, info = _log_prob_exact_prior(mix, x, jax.random.key(4), "hutchinson")
    assert bool(info.converged)
    est = np.asarray(logp).reshape(2, B // 2)
    se = est.std(1, ddof=1) / math.sqrt(B // 2)
    assert np.all(est.std(1) > 1e-3)  # genuinely stochastic here (else the test below is vacuous)
    # 4 SE: two-sided false-alarm rate ~6e-5 per point; + 1e-3 for the ODE error.
    assert np.all(np.abs(est.mean(1) - np.asarray(truth)) < 4 * se + 1e-3), (est.mean(1), truth, se)


def test_fixed_rk4_default_prior_and_public_log_prob():
    """log_prob with a fixed RK4 grid (64 log-SNR steps) and the default N(0, sigma_max^2) prior."""
    mix = _two_component()
    x = mix.sample(B, jax.random.key(5))
    truth = mix.noised_log_prob(S)(x, S.t_min)
    f = jax.jit(lambda x: likelihood.log_prob(mix.denoiser(S), S, x, None,
                                                  stepping=integrators.fixed(integrators.rk4())))
    logp = f(x)
    # Default prior neglects alpha(1) x_0 with alpha(1) = exp(-5.025) = 6.6e-3: the log-density
    # of x_T ~ N(0, 1) changes by about |x_T| alpha |m| + alpha^2 (s^2 - 1) / 2 <= 0.05 for
    # |x_T| <= 4, |m| <= 1.6; RK4 error at 64 steps is ~1e-5.
    np.testing.assert_allclose(logp, truth, atol=0.05)
    assert float(jnp.max(jnp.abs(logp - truth))) > 1e-5  # the prior mismatch is really there


def test_not_converged_is_nan():
    mix = mixture.two_gaussians_1d()
    x = mix.sample(4, jax.random.key(6))
    den = mix.denoiser(S)

    @jax.jit
    def both(x):  # two attempts cannot reach t_max
        return (likelihood.log_prob_and_info(den, S, x, stepping=integrators.adaptive(max_steps=2)),
                likelihood.log_prob(den, S, x, stepping=integrators.adaptive(max_steps=2)))

    (raw, info), logp = both(x)
    assert not bool(info.converged) and float(info.nfe) <= 2 + 2 * 6
    assert np.all(np.isfinite(np.asarray(raw)))  # the raw value is returned by the _and_info form
    assert np.all(np.isnan(np.asarray(logp)))  # and flagged as NaN by log_prob


_X = jnp.zeros((2, 1))


# (error, x, key, keyword arguments of log_prob, match); the denoiser is that of mixture.two_gaussians_1d
@pytest.mark.parametrize("error, x, key, kwargs, match", [
    pytest.param(ValueError, _X, None, {"divergence": "skilling"}, "divergence", id="divergence"),
    pytest.param(ValueError, _X, None, {"divergence": "hutchinson"}, "PRNG key", id="hutchinson_key"),
    pytest.param(ValueError, jnp.zeros((3,)), None, {}, "x must be", id="x_rank"),
    pytest.param(TypeError, jnp.zeros((2, 1), jnp.int32), None, {}, "dequantize", id="integer_x"),
    pytest.param(TypeError, _X, None, {"stepping": "rk4"}, "stepping", id="stepping_type"),
    pytest.param(ValueError, _X, None, {"stepping": integrators.fixed(ts=jnp.array([1.0, 0.5, 0.001]))}, "increase",
                 id="grid_direction"),
])
def test_bad_arguments_raise(error, x, key, kwargs, match):
    den = mixture.two_gaussians_1d().denoiser(S)
    with pytest.raises(error, match=match):
        likelihood.log_prob(den, S, x, key, **kwargs)


def test_hutchinson_num_probes_must_be_positive():
    den = mixture.two_gaussians_1d().denoiser(S)
    with pytest.raises(ValueError, match="num_probes"):
        likelihood.log_prob(den, S, _X, jax.random.key(0), divergence=divergence.hutchinson(0))


def test_adaptive_max_steps_must_be_positive():
    with pytest.raises(ValueError, match="max_steps"):
        integrators.adaptive(max_steps=0)


def test_dequantized_bits_per_dim_end_to_end():
    """8-level data on [-1, 1]^2: bpd from the ODE equals the closed form at the same dequantized
    points, -(log p_{t_min}(z) + d log(2 / 8)) / (d ln 2)."""
    mix = mixture.GaussianMixture(np.array([[-0.5, -0.3], [0.4, 0.5]], np.float32),
                                  np.array([0.3, 0.25], np.float32), np.array([0.5, 0.5], np.float32))
    levels = jax.random.randint(jax.random.key(7), (16, 2), 0, 8)
    key = jax.random.key(8)
    f = jax.jit(lambda lv, key: likelihood.dequantized_bits_per_dim(
        mix.denoiser(S), S, lv, key, num_levels=8, data_range=(-1.0, 1.0), stepping=integrators.fixed(),
        prior_log_prob=lambda z: mix.noised_log_prob(S)(z, S.t_max)))
    bpd, logp = f(levels, key)
    z = likelihood.dequantize(levels, jax.random.split(key)[0], num_levels=8, data_range=(-1.0, 1.0))
    truth = mix.noised_log_prob(S)(z, S.t_min)
    np.testing.assert_allclose(logp, truth, atol=1e-3)  # RK4, 64 log-SNR steps: error ~1e-5
    bpd_true = -(truth + 2 * math.log(2.0 / 8)) / (2 * math.log(2.0))
    np.testing.assert_allclose(bpd, bpd_true, atol=1e-3 / (2 * math.log(2.0)))
    with pytest.raises(TypeError, match="integers"):
        likelihood.dequantized_bits_per_dim(mix.denoiser(S), S, z, key)
    with pytest.raises(ValueError, match="num_levels"):
        likelihood.dequantized_bits_per_dim(mix.denoiser(S), S, levels, key, num_levels=1)


def test_dequantize_stays_in_its_bin(key):
    k = jnp.array([[0, 255], [17, 128]])
    z = likelihood.dequantize(k, key, num_levels=256, data_range=(-1.0, 1.0))
    y = (np.asarray(z) + 1.0) / 2.0 * 256  # back to level units: k <= y < k + 1
    assert np.all(y >= np.asarray(k) - 1e-4) and np.all(y < np.asarray(k) + 1 + 1e-4)
    assert z.dtype == jnp.float32
