"""Training-time t samplers (genjax/losses/timesteps.py): range, EDM's lognormal law, importance sampling."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import losses
from genjax.losses import timesteps
from tests.losses.oracles import S_VP
from tests.schedules.cases import ALL


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


def test_unknown_t_sampler_raises():
    with pytest.raises(ValueError, match="t_sampler"):
        timesteps.get("beta")


def test_importance_and_uniform_sampling_agree_in_expectation():
    # E_{t~U}[w l] = E_{t~p}[iw w l]: integrate a smooth l(t) = t^2 both ways by quadrature of
    # the sampler itself (inverse CDF on a fine uniform grid of the lambda variable).
    s = S_VP
    w = losses.weighting("likelihood")
    sampler = losses.time_sampler("importance")

    @jax.jit
    def run():
        t, iw = sampler(s, (100_000,), jax.random.key(7))
        tt = jnp.linspace(s.t_min, s.t_max, 100_001)
        return jnp.mean(iw * w(s, t, "eps") * t**2), jnp.mean(w(s, tt, "eps") * tt**2), iw * w(s, t, "eps")

    est, ref, const = run()
    # importance weighting makes iw * w constant (= Delta lambda), so the estimate has the variance
    # of mean(t^2) under p: ~0.5% here; 3% is ~6 standard errors.
    np.testing.assert_allclose(est, ref, rtol=0.03)
    dlam = s.log_snr(jnp.float32(s.t_min)) - s.log_snr(jnp.float32(s.t_max))
    np.testing.assert_allclose(const, jnp.full_like(const, dlam), rtol=1e-3)
