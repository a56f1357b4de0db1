"""Schedules: the convention every other module stands on."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import schedules
from genjax.losses import timesteps

ALL = {
    "vp_linear": schedules.vp_linear(),
    "vp_cosine": schedules.vp_cosine(),
    "sub_vp": schedules.sub_vp(),
    "ve": schedules.ve(),
    "edm": schedules.edm(),
    "rectified": schedules.rectified(),
}
NAMES = sorted(ALL)


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
def test_f_and_g2_match_finite_differences(name):
    s = ALL[name]
    with jax.enable_x64(True):
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


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", schedules.GRID_KINDS)
def test_time_grid(name, kind):
    s = ALL[name]
    ts = schedules.time_grid(s, 12, kind)
    assert ts.shape == (13,) and ts.dtype == jnp.float32
    assert float(ts[0]) == pytest.approx(s.t_max) and float(ts[-1]) == pytest.approx(s.t_min)
    assert bool(jnp.all(jnp.diff(ts) < 0)), "grid must run from t_max down to t_min"
    for fn in (s.alpha, s.sigma, s.log_snr, s.f, s.g2):
        assert bool(jnp.all(jnp.isfinite(fn(ts))))


def test_karras_grid_is_edm_formula():
    s = ALL["edm"]
    n, rho = 18, 7.0
    i = np.arange(n + 1)
    ref = (80.0 ** (1 / rho) + i / n * (0.002 ** (1 / rho) - 80.0 ** (1 / rho))) ** rho
    np.testing.assert_allclose(schedules.time_grid(s, n, "karras", rho), ref, rtol=1e-5)


def test_log_snr_grid_is_uniform_in_lambda():
    s = ALL["vp_linear"]
    lam = s.log_snr(schedules.time_grid(s, 20, "log_snr"))
    d = jnp.diff(lam)
    np.testing.assert_allclose(d, d.mean(), rtol=1e-3)


def test_to_zero_grid():
    s = ALL["edm"]
    ts = schedules.time_grid(s, 10, "karras", to_zero=True)
    assert ts.shape == (11,) and float(ts[-1]) == 0.0 and float(ts[-2]) == pytest.approx(0.002)
    with pytest.raises(ValueError, match="sigma\\(0\\)"):
        schedules.time_grid(ALL["ve"], 10, to_zero=True)


def test_prior():
    s = ALL["ve"]
    x = s.prior_sample((4096, 2), jax.random.key(1))
    # std of 8192 draws: relative standard error 1/sqrt(2*8192) ~ 0.8%; 4% is 5 sigma.
    assert float(jnp.std(x)) == pytest.approx(50.0, rel=0.04)
    lp = s.prior_log_prob(jnp.zeros((3, 2)))
    np.testing.assert_allclose(lp, -2 * (np.log(50.0) + 0.5 * np.log(2 * np.pi)), rtol=1e-6)


@pytest.mark.parametrize("kind", ["uniform", "lognormal", "logit_normal"])
@pytest.mark.parametrize("name", ["vp_linear", "edm", "rectified"])
def test_sample_t_in_range(kind, name):
    # training-time t samplers moved to genjax.losses.timesteps (one factory per variant)
    s = ALL[name]
    t, _ = timesteps.get(kind)(s, (2048,), jax.random.key(2))
    assert bool(jnp.all((t >= s.t_min) & (t <= s.t_max)))


def test_lognormal_t_matches_edm():
    # For EDM t = sigma, so log t ~ N(-1.2, 1.2^2) (inside the clipping range for most draws).
    t, _ = timesteps.lognormal()(ALL["edm"], (20000,), jax.random.key(3))
    # standard errors: mean 1.2/sqrt(2e4) ~ 0.008; 0.03 is ~4 sigma (clipping moves it < 1e-3).
    assert float(jnp.mean(jnp.log(t))) == pytest.approx(-1.2, abs=0.03)


def test_invalid_arguments():
    s = ALL["vp_linear"]
    with pytest.raises(ValueError, match="num_steps"):
        schedules.time_grid(s, 0)
    with pytest.raises(ValueError, match="kind"):
        schedules.time_grid(s, 10, kind="cosine")
    # rectified with t_max = 1 has log-SNR = -inf at t_max: a log-SNR grid would be NaN inside.
    for kind in ("karras", "log_snr"):
        with pytest.raises(ValueError, match="log-SNR"):
            schedules.time_grid(schedules.rectified(t_max=1.0), 10, kind)
    assert np.isfinite(schedules.time_grid(schedules.rectified(t_max=1.0), 10)).all()
    with pytest.raises(ValueError, match="beta_min"):
        schedules.vp_linear(beta_min=-1.0)
    with pytest.raises(ValueError, match="sigma_min"):
        schedules.edm(sigma_min=0.0)
    with pytest.raises(ValueError, match="unknown schedule"):
        schedules.get("vpp")
    with pytest.raises(ValueError, match=r"t must lie in \[t_min, t_max\]"):
        s.check_t(jnp.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="t_sampler"):
        timesteps.get("beta")


def test_schedules_hash_by_value():
    # Static jit arguments: equal settings must hit the same compiled function.
    assert schedules.vp_linear() == schedules.vp_linear()
    assert hash(schedules.edm()) == hash(schedules.edm())
    assert schedules.vp_linear(beta_max=10.0) != schedules.vp_linear()


@pytest.mark.parametrize("call, match", [
    (lambda: schedules.time_grid(ALL["vp_linear"], 10, "karras", rho=float("nan")), "rho"),
    (lambda: schedules.time_grid(ALL["vp_linear"], 10, "karras", rho=float("inf")), "rho"),
    (lambda: schedules.time_grid(ALL["vp_linear"], True), "num_steps"),
    (lambda: schedules.time_grid(ALL["vp_linear"], 4.0), "num_steps"),
    # sigma(0) of the cosine schedule is 1.8e-4 in float32, not 0: the samplers would reject the grid
    (lambda: schedules.time_grid(schedules.vp_cosine(), 10, to_zero=True), "sigma\\(0\\)"),
], ids=["rho-nan", "rho-inf", "num_steps-bool", "num_steps-float", "vp_cosine-to_zero"])
def test_time_grid_rejects_silently_wrong_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_time_grid_accepts_numpy_ints_and_follows_x64():
    s = ALL["edm"]
    np.testing.assert_array_equal(schedules.time_grid(s, np.int64(4), "karras"), schedules.time_grid(s, 4, "karras"))
    with jax.enable_x64(True):
        ts = schedules.time_grid(s, 8, "karras", to_zero=True)
        assert ts.dtype == jnp.float64 and float(ts[0]) == 80.0 and float(ts[-1]) == 0.0
