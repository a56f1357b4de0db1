"""Schedules (genjax/schedules/paths.py, base.py): the convention every other module stands on."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import schedules
from tests.schedules.cases import ALL, NAMES


def _dense_t(s, n=257):
    # log-spaced for EDM (t spans 4.6 decades), uniform otherwise; float32 as used in practice.
    if s.name == "edm":
        return jnp.exp(jnp.linspace(np.log(s.t_min), np.log(s.t_max), n)).astype(jnp.float32)
    return jnp.linspace(s.t_min, s.t_max, n, dtype=jnp.float32)


@pytest.mark.parametrize("name", NAMES)
def test_alpha_sigma_positive_finite(name):
    s = ALL[name]
    t = _dense_t(s)
    for fn in (s.alpha, s.sigma, s.log_snr, s.f, s.g2):
        v = fn(t)
        assert bool(jnp.all(jnp.isfinite(v))), (name, fn.__name__)
    assert bool(jnp.all(s.alpha(t) > 0)) and bool(jnp.all(s.sigma(t) > 0))
    assert bool(jnp.all(s.g2(t) > 0)), "g^2 must be positive: noise is added forward in time"


@pytest.mark.parametrize("name", ["vp_linear", "vp_cosine"])
def test_vp_preserves_variance(name):
    s = ALL[name]
    t = _dense_t(s)
    # float32: alpha^2 + sigma^2 is a sum of two numbers <= 1, rounding ~ 2 ulp.
    np.testing.assert_allclose(s.alpha(t) ** 2 + s.sigma(t) ** 2, 1.0, atol=3e-7)


def test_sub_vp_sigma():
    s = ALL["sub_vp"]
    t = _dense_t(s)
    t64 = np.asarray(t, np.float64)
    ref = 1.0 - np.exp(-0.5 * t64**2 * 19.9 - t64 * 0.1)  # 1 - alpha^2 in float64
    # float32 log-space evaluation: a few ulp relative even where 1 - alpha^2 cancels.
    np.testing.assert_allclose(s.sigma(t), ref, rtol=2e-6)


@pytest.mark.parametrize("name", NAMES)
def test_log_snr_strictly_decreasing(name):
    lam = ALL[name].log_snr(_dense_t(ALL[name]))
    assert bool(jnp.all(jnp.diff(lam) < 0))


@pytest.mark.parametrize("name", NAMES)
def test_inverse_log_snr_returns_t(name):
    s = ALL[name]
    t = _dense_t(s)
    t_back = s.t_from_log_snr(s.log_snr(t))
    # float32: lambda carries ~1e-7 relative error, d t / d lambda amplifies it by at most
    # |t / (t dlambda/dt)|; 2e-3 absolute on t in [0, 1] (and relative for EDM) covers the flat
    # ends (VP at t_max, where lambda changes slowly) with margin.
    scale = t if s.name == "edm" else 1.0
    np.testing.assert_array_less(jnp.abs(t_back - t) / scale, 2e-3)
    # generic bisection agrees with the closed forms where both exist
    generic = schedules.Schedule.t_from_log_snr(s, s.log_snr(t))
    np.testing.assert_array_less(jnp.abs(generic - t) / scale, 2e-3)


@pytest.mark.parametrize("name", NAMES)
def test_f_and_g2_match_finite_differences(name, x64):
    s = ALL[name]
    t = jnp.linspace(s.t_min, s.t_max, 41, dtype=jnp.float64)[1:-1]
    h = 1e-6 * (s.t_max - s.t_min)
    dlog_alpha = (s.log_alpha(t + h) - s.log_alpha(t - h)) / (2 * h)
    dsig2 = (s.sigma(t + h) ** 2 - s.sigma(t - h) ** 2) / (2 * h)
    g2_fd = dsig2 - 2 * dlog_alpha * s.sigma(t) ** 2
    # central differences in float64 with h ~ 1e-6: truncation O(h^2), rounding O(1e-16/h).
    np.testing.assert_allclose(s.f(t), dlog_alpha, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(s.g2(t), g2_fd, rtol=1e-6, atol=1e-8)


def test_known_closed_forms():
    # VP linear: f = -beta(t)/2, g2 = beta(t) (Song et al. 2021, eq. 11)
    s = ALL["vp_linear"]
    t = jnp.array([0.1, 0.5, 0.9])
    beta = 0.1 + t * (20.0 - 0.1)
    np.testing.assert_allclose(s.f(t), -beta / 2, rtol=1e-5)
    np.testing.assert_allclose(s.g2(t), beta, rtol=1e-4)
    # EDM: g2 = d sigma^2/dt = 2 t ; VE: g2 = d sigma^2 / dt = 2 sigma^2 log(smax/smin)
    np.testing.assert_allclose(ALL["edm"].g2(t * 10), 2 * t * 10, rtol=1e-5)
    v = ALL["ve"]
    np.testing.assert_allclose(v.g2(t), 2 * v.sigma(t) ** 2 * np.log(50.0 / 0.01), rtol=1e-5)
    # rectified: alpha = 1 - t, sigma = t
    r = ALL["rectified"]
    np.testing.assert_allclose(r.alpha(t), 1 - t, rtol=1e-6)
    np.testing.assert_allclose(r.sigma(t), t, rtol=1e-6)


def test_prior():
    s = ALL["ve"]
    x = s.prior_sample((4096, 2), jax.random.key(1))
    # std of 8192 draws: relative standard error 1/sqrt(2*8192) ~ 0.8%; 4% is 5 sigma.
    assert float(jnp.std(x)) == pytest.approx(50.0, rel=0.04)
    lp = s.prior_log_prob(jnp.zeros((3, 2)))
    np.testing.assert_allclose(lp, -2 * (np.log(50.0) + 0.5 * np.log(2 * np.pi)), rtol=1e-6)


def test_rectified_t_max_one_uniform_grid_is_finite():
    # rectified with t_max = 1 has log-SNR = -inf at t_max; a uniform grid is still finite
    assert np.isfinite(schedules.time_grid(schedules.rectified(t_max=1.0), 10)).all()


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda: schedules.vp_linear(beta_min=-1.0), "beta_min", id="beta_min"),
    pytest.param(lambda: schedules.edm(sigma_min=0.0), "sigma_min", id="sigma_min"),
    pytest.param(lambda: schedules.get("vpp"), "unknown schedule", id="unknown_schedule"),
    pytest.param(lambda: ALL["vp_linear"].check_t(jnp.array([0.5, 1.5])), r"t must lie in \[t_min, t_max\]",
                 id="check_t"),
])
def test_invalid_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_schedules_hash_by_value():
    # Static jit arguments: equal settings must hit the same compiled function.
    assert schedules.vp_linear() == schedules.vp_linear()
    assert hash(schedules.edm()) == hash(schedules.edm())
    assert schedules.vp_linear(beta_max=10.0) != schedules.vp_linear()


