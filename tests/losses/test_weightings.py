"""Weightings and targets (genjax/losses/weightings.py) against closed forms."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import losses, predictions
from genjax.losses import strategies as wt
from tests.losses.oracles import S_VP, SCHEDULES


# --- weightings and targets: closed forms -----------------------------------------------------------
def test_likelihood_weight_vp_closed_form():
    # VP linear: g^2 = beta(t), sigma^2 = 1 - exp(-int beta); eps-form weight (T/2) g^2 / sigma^2.
    t = jnp.array([0.01, 0.1, 0.5, 0.9, 1.0])
    beta = 0.1 + t * (20.0 - 0.1)
    sigma2 = 1.0 - jnp.exp(-(0.1 * t + 0.5 * t**2 * (20.0 - 0.1)))
    expect = 0.5 * (1.0 - 1e-3) * beta / sigma2
    got = losses.weighting("likelihood")(S_VP, t, "eps")
    # rtol 1e-5: float32 autodiff of log-SNR vs the closed form
    np.testing.assert_allclose(got, expect, rtol=1e-5)


@pytest.mark.parametrize("target", ["eps", "x0", "v"])
def test_min_snr_weights(target):
    t = jnp.linspace(0.01, 0.99, 9)
    snr = S_VP.alpha(t) ** 2 / S_VP.sigma(t) ** 2
    base = jnp.minimum(snr, 5.0)
    expect = {"eps": base / snr, "x0": base, "v": base / (snr + 1.0)}[target]  # Hang et al. 2023, Sec. 3.4
    np.testing.assert_allclose(losses.weighting("min_snr", gamma=5.0)(S_VP, t, target), expect, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("target", losses.TARGETS)
def test_target_factor_and_conditional_target(name, target, key):
    # (1) the exact ratio ||target(D) - target(x0)||^2 / ||D - x0||^2 from predictions.from_denoiser
    #     at fixed (x_t, t) equals exp(log_target_factor): conversions are affine in D.
    # (2) conditional_target(x0, eps) equals the prediction implied by the clean x0 itself.
    s = SCHEDULES[name]
    t = jnp.linspace(s.t_min + 0.05 * (s.t_max - s.t_min), s.t_max - 0.05 * (s.t_max - s.t_min), 6)
    k1, k2, k3 = jax.random.split(key, 3)
    x0, eps, dx = (jax.random.normal(k, (6, 3)) for k in (k1, k2, k3))
    xt = wt.bcast(s.alpha(t), x0) * x0 + wt.bcast(s.sigma(t), x0) * eps
    d = x0 + 0.1 * dx
    diff = predictions.from_denoiser(target, s, d, xt, t) - predictions.from_denoiser(target, s, x0, xt, t)
    ratio = jnp.sum(diff**2, -1) / jnp.sum((d - x0) ** 2, -1)
    # rtol 1e-3: float32 conversions divide by sigma (EDM sigma up to 80, VE down to 1e-2)
    np.testing.assert_allclose(ratio, jnp.exp(losses.log_target_factor(target, s, t)), rtol=1e-3)
    tgt = losses.conditional_target(target, s, x0, eps, t)
    ref = predictions.from_denoiser(target, s, x0, xt, t)
    scale = 1.0 + jnp.abs(ref)
    assert np.all(np.abs(np.asarray(tgt - ref)) <= 1e-3 * np.asarray(scale)), target
