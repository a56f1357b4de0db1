"""Tests for genjax.analytic_dpm on Gaussian data with the exact denoiser.

For x_0 ~ N(m, s0^2 I) everything is closed-form: eps_hat(x_t) = sigma (x_t - alpha m) / V_t with
V_t = alpha^2 s0^2 + sigma^2, so Gamma_t = sigma_t^2 / V_t; and the true reverse kernel q(x_s | x_t)
is Gaussian with a linear mean and a constant variance, so the optimal Gaussian reverse step is
exact and ancestral sampling with it reproduces the data law at any number of steps.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import analytic_dpm, samplers, schedules
from genjax.data import mixture

S = schedules.vp_linear()
MEAN, STD = np.array([1.0, -0.5], np.float32), 0.5
N_STEPS = 8


@pytest.fixture(scope="module")
def setup():
    g = mixture.gaussian(MEAN, STD)
    ts = schedules.time_grid(S, N_STEPS, "uniform")
    return g, ts


def _gamma_exact(s, t):
    a2, s2 = np.exp(2 * np.asarray(s.log_alpha(t), np.float64)), np.exp(2 * np.asarray(s.log_sigma(t), np.float64))
    return s2 / (a2 * STD**2 + s2)


def test_gamma_monte_carlo_matches_closed_form(setup):
    g, ts = setup
    m = 4096
    gam = analytic_dpm.gamma(g.denoiser(S), S, ts, g.sample(m, jax.random.key(1)), jax.random.key(2),
                             num_repeats=2)
    # ||eps_hat||^2 / d = Gamma * chi2_{d M R} / (d M R): relative sd sqrt(2 / (2 * 4096 * 2)) = 1.1%,
    # 5 sd = 5.5% (a false alarm is ~1e-6 per time).
    np.testing.assert_allclose(gam, _gamma_exact(S, ts[:-1]), rtol=0.055)


def test_optimal_variance_is_true_posterior_variance(setup):
    """eta = 1 (DDPM): v* equals Var[x_s | x_t] of the Markov forward process, computed
    independently from the joint Gaussian of (x_s, x_t)."""
    _, ts = setup
    var = np.asarray(analytic_dpm.optimal_variances(S, ts, _gamma_exact(S, ts[:-1])), np.float64)
    t, u = np.asarray(ts[:-1], np.float64), np.asarray(ts[1:], np.float64)
    a = lambda tt: np.exp(np.asarray(S.log_alpha(jnp.asarray(tt, jnp.float32)), np.float64))
    sg = lambda tt: np.exp(np.asarray(S.log_sigma(jnp.asarray(tt, jnp.float32)), np.float64))
    a_tu = a(t) / a(u)                               # x_t | x_u ~ N(a_tu x_u, s2_tu)
    s2_tu = sg(t) ** 2 - a_tu**2 * sg(u) ** 2
    v_u = a(u) ** 2 * STD**2 + sg(u) ** 2            # Var x_u
    true = v_u - (a_tu * v_u) ** 2 / (a_tu**2 * v_u + s2_tu)
    np.testing.assert_allclose(var, true, rtol=2e-3)  # float32 schedule arithmetic, relative


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_optimal_variance_eta_family_by_regression(eta):
    """DDIM-eta family: sample (x_0, x_t, x_s) from q_lambda, regress x_s on x_t (1-D, linear is
    exact for Gaussian data): the residual variance is Var[x_s | x_t] = v*."""
    s = S
    t, u = jnp.float32(0.6), jnp.float32(0.35)
    ts = jnp.array([t, u])
    n = 400_000
    k1, k2, k3 = jax.random.split(jax.random.key(5), 3)
    x0 = MEAN[0] + STD * jax.random.normal(k1, (n,))
    xt = s.alpha(t) * x0 + s.sigma(t) * jax.random.normal(k2, (n,))
    h = s.log_snr(u) - s.log_snr(t)
    lam2 = eta**2 * s.sigma(u) ** 2 * -jnp.expm1(-2 * h)
    xs = (s.alpha(u) * x0 + jnp.sqrt(s.sigma(u) ** 2 - lam2) * (xt - s.alpha(t) * x0) / s.sigma(t)
          + jnp.sqrt(lam2) * jax.random.normal(k3, (n,)))
    xt_, xs_ = np.asarray(xt, np.float64), np.asarray(xs, np.float64)
    slope = np.cov(xt_, xs_)[0, 1] / np.var(xt_)
    resid = np.var(xs_ - slope * xt_)
    v = float(analytic_dpm.optimal_variances(s, ts, _gamma_exact(s, ts[:1]), eta=eta)[0])
    # residual-variance estimate: relative sd sqrt(2 / n) = 0.22%; 1.5% is > 6 sd
    np.testing.assert_allclose(v, resid, rtol=0.015)


def test_ancestral_with_analytic_variances_matches_target(setup):
    """At 8 steps DDPM's beta-tilde variance gives far too little spread (~0.1 vs 0.25); the
    Analytic-DPM variances reproduce the data law (exact reverse kernels for Gaussian data)."""
    g, ts = setup
    var = analytic_dpm.analytic_variances(g.denoiser(S), S, ts, g.sample(4096, jax.random.key(1)),
                                          jax.random.key(2), num_repeats=4)
    n = 40000
    x_init = S.prior_sample((n, 2), jax.random.key(3))
    target_var = float(S.alpha(S.t_min) ** 2 * STD**2 + S.sigma(S.t_min) ** 2)
    err = {}
    for name, solver in (("default", samplers.ancestral()), ("analytic", samplers.ancestral(variances=var))):
        x, info = samplers.sample(g.denoiser(S), S, solver, ts, x_init, jax.random.key(4))
        assert int(info.nfe) == N_STEPS
        x = np.asarray(x, np.float64)
        err[name] = np.max(np.abs(x.var(0) / target_var - 1.0))
        # means are right either way (exact denoiser): sd 0.5 / sqrt(n) = 0.0025 per dim, 6 sd
        np.testing.assert_allclose(x.mean(0), MEAN * float(S.alpha(S.t_min)), atol=0.015)
    # sample variance: relative sd sqrt(2 / n) = 0.7%; Gamma's MC error (sd 0.8% with 4096 x 4
    # draws) enters the variance at most at that size; 5% is > 4 combined sd.
    assert err["analytic"] < 0.05, err
    assert err["default"] > 0.3 and err["default"] > 5 * err["analytic"], err


def test_clipping(setup):
    _, ts = setup
    zeros = jnp.zeros((N_STEPS,))  # Gamma = 0: a model that predicts eps_hat = 0 everywhere
    raw = analytic_dpm.optimal_variances(S, ts, zeros)
    clipped = analytic_dpm.optimal_variances(S, ts, zeros, data_range=(-1.0, 1.0), max_last_std=0.01)
    t, u = ts[:-1], ts[1:]
    h = S.log_snr(u) - S.log_snr(t)
    beta_tilde = S.sigma(u) ** 2 * -jnp.expm1(-2 * h)
    c2 = (S.alpha(u) * -jnp.expm1(-2 * h)) ** 2
    # Cov[x_0 | x_t] / d clipped to ((1 - (-1)) / 2)^2 = 1: v = beta_tilde + c^2 (at large t)
    np.testing.assert_allclose(clipped[:-1], jnp.minimum(raw, beta_tilde + c2)[:-1], rtol=1e-5)
    assert float(raw[0]) > float(beta_tilde[0] + c2[0]) * 10  # the clip really binds at t_max
    np.testing.assert_allclose(clipped[-1], 1e-4, rtol=1e-5)
    assert np.all(np.asarray(raw) >= np.asarray(beta_tilde) * (1 - 1e-6))  # lower bound lambda^2


def _edm_grid_to_zero(ts):
    e = schedules.edm()
    return analytic_dpm.optimal_variances(e, schedules.time_grid(e, 4, "karras", to_zero=True), jnp.zeros((4,)))


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda ts: analytic_dpm.optimal_variances(S, ts, jnp.zeros((N_STEPS,)), eta=1.5), "eta", id="eta"),
    pytest.param(lambda ts: analytic_dpm.optimal_variances(S, ts, jnp.zeros((N_STEPS + 1,))), "gammas", id="gammas"),
    pytest.param(lambda ts: analytic_dpm.optimal_variances(S, ts[::-1], jnp.zeros((N_STEPS,))), "decreasing",
                 id="decreasing"),
    pytest.param(_edm_grid_to_zero, "sigma > 0", id="sigma_zero"),
    pytest.param(lambda ts: analytic_dpm.gamma(lambda x, t: x, S, ts, jnp.zeros((4, 2)), jax.random.key(0),
                                               num_repeats=0), "num_repeats", id="num_repeats"),
])
def test_bad_arguments_raise(setup, call, match):
    _, ts = setup
    with pytest.raises(ValueError, match=match):
        call(ts)


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_ddim_with_analytic_variances_matches_target(setup, eta):
    """Analytic-DDIM: the DDIM-eta mean with the optimal variance of the eta family. For Gaussian
    data the eta-family reverse kernel q_lambda(x_s | x_t) is Gaussian with exactly this mean and
    variance, and every member has the marginals of q, so 8 steps reproduce the data law; plain
    DDIM(eta) at 8 steps does not."""
    g, ts = setup
    # exact Gamma: this tests the sampler (Gamma's Monte Carlo is tested above; at eta = 0 all of
    # v* is c^2 (1 - Gamma) sigma^2 / alpha^2, where Gamma ~ 1 amplifies its MC error)
    var = analytic_dpm.optimal_variances(S, ts, _gamma_exact(S, ts[:-1]), eta=eta)
    n = 40000
    x_init = S.prior_sample((n, 2), jax.random.key(3))
    target_var = float(S.alpha(S.t_min) ** 2 * STD**2 + S.sigma(S.t_min) ** 2)
    err = {}
    for name, solver in (("default", samplers.ddim(eta)), ("analytic", samplers.ddim(eta, variances=var))):
        x, info = samplers.sample(g.denoiser(S), S, solver, ts, x_init, jax.random.key(4))
        assert int(info.nfe) == N_STEPS
        x = np.asarray(x, np.float64)
        err[name] = np.max(np.abs(x.var(0) / target_var - 1.0))
        np.testing.assert_allclose(x.mean(0), MEAN * float(S.alpha(S.t_min)), atol=0.015)  # 6 sd
    # sample variance: relative sd sqrt(2 / n) = 0.7%, the max over 2 dims; 3% is > 4 sd.
    # Plain DDIM(eta) is off by 50-60% at 8 steps (observed).
    assert err["analytic"] < 0.03, err
    assert err["default"] > 5 * err["analytic"], err
    with pytest.raises(ValueError, match="variances has"):
        samplers.sample(g.denoiser(S), S, samplers.ddim(eta, variances=var[:-1]), ts, x_init, jax.random.key(4))
