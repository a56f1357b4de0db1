"""genjax.sde: the PF-ODE velocity and reverse-SDE drift against the score forms with the exact
mixture score, and the forward SDE's marginals against the closed form (fine Euler-Maruyama)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import integrators, schedules, sde
from genjax.data import mixture

GM = mixture.GaussianMixture(np.array([[-1.5, 0.5], [1.0, -1.0]], np.float32), np.array([0.4, 0.6], np.float32),
                             np.array([0.4, 0.6], np.float32))


@pytest.mark.parametrize("name", ["vp_linear", "vp_cosine", "sub_vp", "ve", "edm", "rectified"])
def test_velocity_and_drift_match_score_forms(name, key):
    # v = f x - g^2/2 score and drift = f x - g^2 score (Song et al. 2021) with the exact mixture
    # score, at interior times and both ends. Both sides are float32 evaluations of the same
    # quantity through different formulas: tolerance 2e-4 of the largest term (the score form
    # multiplies g^2 ~ 1e3 for VE by a score ~ 1e-3) plus the round-off of the denoiser form,
    # (sigma'/sigma) (x - alpha D) with x ~ D at small noise: 16 eps32 |sigma'/sigma| max|x|
    # (5e-4 absolute at VP t_min = 1e-3, where sigma'/sigma = 500).
    s = schedules.get(name)
    x = 3.0 * jax.random.normal(key, (64, 2))
    field = sde.pf_ode(s, GM.denoiser(s))
    rsde = sde.reverse_sde(s, GM.denoiser(s))
    score = GM.score(s)
    for t in np.linspace(s.t_min, s.t_max, 5):
        t = jnp.float32(t)
        f, g2 = s.f(t), s.g2(t)
        sc = score(x, t)
        v_ref = f * x - 0.5 * g2 * sc
        d_ref = f * x - g2 * sc
        scale = float(jnp.max(jnp.abs(f * x)) + jnp.max(jnp.abs(g2 * sc)))
        c = sde.coefficients(s, t)
        roundoff = 16 * 1.2e-7 * float(jnp.abs(c.dlog_sigma) * jnp.max(jnp.abs(x)))
        np.testing.assert_allclose(field(t, x), v_ref, atol=2e-4 * scale + roundoff)
        np.testing.assert_allclose(rsde.drift(t, x), d_ref, atol=2e-4 * scale + 2 * roundoff)
        np.testing.assert_allclose(rsde.diffusion(t) ** 2, g2, rtol=1e-4)
        assert bool(jnp.all(jnp.isfinite(field(t, x))))


def test_velocity_finite_at_alpha_to_zero():
    # Rectified flow up to t = 1 (alpha = 0): the velocity form alpha' D + (sigma'/sigma)(x - alpha D)
    # = -D + (x - (1 - t) D) / t stays finite; at t = 1, D = E[x_0] and v = x - E[x_0] exactly.
    s = schedules.rectified(t_min=1e-3, t_max=1.0)
    x = jnp.array([[0.3, -1.2], [2.0, 0.5]], jnp.float32)
    v = sde.pf_ode(s, GM.denoiser(s))(jnp.float32(1.0), x)
    np.testing.assert_allclose(v, x - GM.mean()[None], atol=1e-5)  # D(x, 1) = E[x_0]


@pytest.mark.parametrize("name", ["vp_linear", "ve"])
def test_forward_sde_marginals(name, key):
    # Data x_0 ~ N(m, s0^2) in 1-D, started exactly at t_min, pushed by fine Euler-Maruyama of
    # dx = f x dt + g dW: at every saved t the sample mean / variance must match alpha m and
    # alpha^2 s0^2 + sigma^2. n = 20000: standard errors sqrt(var/n) for the mean and
    # var sqrt(2/n) = 1% for the variance; 1000 steps make the O(h) bias ~1e-3 relative.
    # Tolerance: 5 standard errors + 1% (bias).
    s = schedules.get(name)
    m, s0, n = 1.5, 0.5, 20000
    k0, k1, k2 = jax.random.split(key, 3)
    ts = jnp.linspace(s.t_min, s.t_max, 1001)
    t0 = ts[0]
    x0 = m + s0 * jax.random.normal(k0, (n, 1))
    x_tmin = s.alpha(t0) * x0 + s.sigma(t0) * jax.random.normal(k1, (n, 1))
    _, info = integrators.integrate(sde.forward_sde(s), integrators.euler_maruyama(), ts, x_tmin, k2,
                                    save_trajectory=True)
    for i in (100, 300, 600, 1000):
        t = ts[i]
        mean, var = float(s.alpha(t)) * m, float(s.alpha(t) ** 2 * s0**2 + s.sigma(t) ** 2)
        xs = info.trajectory[i]
        np.testing.assert_allclose(float(xs.mean()), mean, atol=5 * np.sqrt(var / n) + 0.01 * np.sqrt(var))
        np.testing.assert_allclose(float(xs.var()), var, rtol=5 * np.sqrt(2 / n) + 0.01)


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda: sde.pf_ode("vp", GM.denoiser(schedules.vp_linear())), "Schedule", id="pf_ode_schedule"),
    pytest.param(lambda: sde.reverse_sde(schedules.vp_linear(), 3.0), "callable", id="reverse_sde_denoiser"),
    pytest.param(lambda: sde.forward_sde(None), "Schedule", id="forward_sde_schedule"),
])
def test_constructors_reject_bad_input(call, match):
    with pytest.raises(TypeError, match=match):
        call()
