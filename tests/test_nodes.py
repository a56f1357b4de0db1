"""Tests for genjax.nodes: the coefficient table against closed forms, the probability-flow velocity
against f x - g^2/2 score."""
import jax
import jax.numpy as jnp
import numpy as np

from genjax import nodes, schedules


def test_coefficients_match_the_rectified_closed_forms():
    # Rectified flow alpha = 1 - t, sigma = t: alpha' = -1, f = -1/(1 - t), p = 1/t,
    # lambda = log((1 - t)/t). float32 autodiff of exact formulas: rtol 1e-6.
    t = jnp.array([0.1, 0.5, 0.9])
    c = jax.jit(nodes.coefficients, static_argnums=0)(schedules.rectified(), t)
    np.testing.assert_allclose(c.alpha, 1 - t, rtol=1e-6)
    np.testing.assert_allclose(c.sigma, t, rtol=1e-6)
    np.testing.assert_allclose(c.dalpha, -1.0, rtol=1e-6)
    np.testing.assert_allclose(c.dlog_alpha, -1 / (1 - t), rtol=1e-6)
    np.testing.assert_allclose(c.dlog_sigma, 1 / t, rtol=1e-6)
    np.testing.assert_allclose(c.log_snr, np.log((1 - t) / t), rtol=1e-6)


def test_finite_clips_only_the_infinite_ends():
    # rectified(t_max=1) at t = 1: alpha = 0, so log_snr = f = -inf; alpha' = -1 stays exact.
    c = nodes.coefficients(schedules.rectified(t_max=1.0), jnp.array([0.5, 1.0]))
    assert not np.isfinite(c.log_snr[1]) and not np.isfinite(c.dlog_alpha[1])
    f = nodes.finite(c)
    assert np.all(np.isfinite(f.log_snr)) and np.all(np.isfinite(f.dlog_alpha))
    np.testing.assert_array_equal(f.log_snr[0], c.log_snr[0])
    np.testing.assert_array_equal(f.dalpha, c.dalpha)


def test_pf_velocity_is_the_probability_flow_field(key):
    """p x + q D == f x - g^2/2 * score(D), score = (alpha D - x) / sigma^2, for an arbitrary D."""
    t = jnp.array([0.2, 0.5, 0.8])
    x, d = jax.random.normal(key, (2, 3, 3))
    for s in (schedules.vp_linear(), schedules.ve(), schedules.rectified()):
        @jax.jit
        def run(x, d, t):
            a, sg = s.alpha(t)[:, None], s.sigma(t)[:, None]
            score = (a * d - x) / sg**2
            want = s.f(t)[:, None] * x - 0.5 * s.g2(t)[:, None] * score
            return nodes.pf_velocity(nodes.coefficients(s, t), x, d), want

        u, pf = run(x, d, t)
        # float32; VE's g^2 / sigma^2 terms reach O(10): relative 1e-4 of the largest entry
        np.testing.assert_allclose(u, pf, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(pf))))


def test_per_sample_and_broadcast_time_shapes():
    x = jnp.zeros((4, 2, 3))
    assert nodes.per_sample(jnp.ones(4), x).shape == (4, 1, 1)
    assert nodes.per_sample(jnp.float32(2.0), x).shape == ()
    t = nodes.broadcast_time(jnp.arange(4), x)
    assert t.shape == (4, 1, 1) and jnp.issubdtype(t.dtype, jnp.floating)
