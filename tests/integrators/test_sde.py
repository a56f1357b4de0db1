"""Euler-Maruyama (genjax/integrators/sde.py): Ornstein-Uhlenbeck moments."""
import jax.numpy as jnp
import numpy as np

from genjax import integrators


def test_euler_maruyama_ornstein_uhlenbeck_moments(key):
    # dx = -theta x dt + s dW from x0 = 1: mean e^{-theta t}, var s^2 (1 - e^{-2 theta t}) / (2 theta).
    # EM's weak error is O(h) = O(1e-2 * ...) with 200 steps over [0, 1]; with n = 20000 samples
    # the standard errors are ~0.004 (mean) and ~0.003 (var); tolerances 0.02 cover both.
    theta, s = 1.5, 0.8
    sde = integrators.SDE(drift=lambda t, x: -theta * x, diffusion=lambda t: s)
    ts = jnp.linspace(0.0, 1.0, 201)
    x, info = integrators.integrate(sde, integrators.euler_maruyama(), ts, jnp.ones((20000,)), key)
    assert int(info.nfe) == 200
    np.testing.assert_allclose(float(x.mean()), np.exp(-theta), atol=0.02)
    np.testing.assert_allclose(float(x.var()), s**2 * (1 - np.exp(-2 * theta)) / (2 * theta), atol=0.02)
    x2, _ = integrators.integrate(sde, integrators.euler_maruyama(), ts, jnp.ones((20000,)), key)
    np.testing.assert_array_equal(x, x2)  # per-step keys are fold_in(key, i): reproducible
