"""Time grids (genjax/schedules/grids.py): uniform, Karras rho, log-SNR, to_zero; dtype follows x64."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import schedules
from tests.schedules.cases import ALL, NAMES


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


@pytest.mark.parametrize("call, match", [
    (lambda: schedules.time_grid(ALL["vp_linear"], 0), "num_steps"),
    (lambda: schedules.time_grid(ALL["vp_linear"], 10, kind="cosine"), "kind"),
    # rectified with t_max = 1 has log-SNR = -inf at t_max: a log-SNR grid would be NaN inside.
    (lambda: schedules.time_grid(schedules.rectified(t_max=1.0), 10, "karras"), "log-SNR"),
    (lambda: schedules.time_grid(schedules.rectified(t_max=1.0), 10, "log_snr"), "log-SNR"),
    (lambda: schedules.time_grid(ALL["vp_linear"], 10, "karras", rho=float("nan")), "rho"),
    (lambda: schedules.time_grid(ALL["vp_linear"], 10, "karras", rho=float("inf")), "rho"),
    (lambda: schedules.time_grid(ALL["vp_linear"], True), "num_steps"),
    (lambda: schedules.time_grid(ALL["vp_linear"], 4.0), "num_steps"),
    # sigma(0) of the cosine schedule is 1.8e-4 in float32, not 0: the samplers would reject the grid
    (lambda: schedules.time_grid(schedules.vp_cosine(), 10, to_zero=True), "sigma\\(0\\)"),
], ids=["num_steps-zero", "kind", "rectified-karras", "rectified-log_snr", "rho-nan", "rho-inf", "num_steps-bool",
        "num_steps-float", "vp_cosine-to_zero"])
def test_time_grid_rejects_silently_wrong_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_time_grid_accepts_numpy_ints():
    s = ALL["edm"]
    np.testing.assert_array_equal(schedules.time_grid(s, np.int64(4), "karras"), schedules.time_grid(s, 4, "karras"))


def test_time_grid_follows_x64(x64):
    ts = schedules.time_grid(ALL["edm"], 8, "karras", to_zero=True)
    assert ts.dtype == jnp.float64 and float(ts[0]) == 80.0 and float(ts[-1]) == 0.0
