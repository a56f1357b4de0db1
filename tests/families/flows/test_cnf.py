"""FFJORD CNF: the log-density of a linear flow equals the change-of-variables closed form;
Hutchinson's trace is unbiased; the solve inverts; bad input raises."""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from genjax import integrators
from genjax.families import flows


class LinearField(nn.Module):
    """f(t, x) = x A^T (time-independent): the flow map over [0, T] is expm(A T)."""

    dim: int

    @nn.compact
    def __call__(self, x, t):
        del t
        return nn.Dense(self.dim, use_bias=False)(x)


def test_linear_cnf_matches_change_of_variables(key):
    dim, t1 = 3, 0.7
    a = np.array([[-0.3, 0.8, 0.1], [-0.5, 0.2, 0.4], [0.3, -0.2, 0.5]], np.float32)
    f = flows.cnf(dim, divergence="exact", num_steps=16, t1=t1, net=LinearField(dim))
    x = jax.random.normal(key, (6, dim))
    params = f.init(x, key)
    params = {"Dense_0": {"kernel": jnp.asarray(a.T)}}
    # Closed form: z = expm(A t1) x, log|det dz/dx| = t1 tr(A), log p(x) = log N(z) + t1 tr(A).
    m = scipy.linalg.expm(a.astype(np.float64) * t1)
    z_exact = np.asarray(x, np.float64) @ m.T
    logp_exact = (-0.5 * np.sum(z_exact**2, -1) - 0.5 * dim * math.log(2 * math.pi) + t1 * np.trace(a))
    z, logdet = jax.jit(f.forward)(params, x)
    # RK4 with h = 0.044 on ||A|| ~ 1: local error ~ h^5 / 120, global ~ 1e-7; float32 rounding dominates.
    np.testing.assert_allclose(z, z_exact, atol=1e-5)
    np.testing.assert_allclose(logdet, t1 * np.trace(a), atol=1e-5)
    np.testing.assert_allclose(jax.jit(f.log_prob)(params, x), logp_exact, atol=1e-4, rtol=1e-5)
    # The inverse solve (t1 -> 0) recovers x and the negated logdet.
    xr, ld_inv = jax.jit(f.inverse)(params, z)
    np.testing.assert_allclose(xr, x, atol=1e-5)
    np.testing.assert_allclose(ld_inv, -logdet, atol=1e-5)
    # With a logit preprocessing of data in (0, 1): y = logit(a + (1 - 2a) w) enters through its
    # own logdet, log p(w) = log p_cnf(y) + sum log|dy/dw|.
    pre = flows.logit_transform(0.05)
    fp = flows.cnf(dim, divergence="exact", num_steps=16, t1=t1, net=LinearField(dim), preprocess=pre)
    w = jax.nn.sigmoid(x)
    y, ld_pre = pre.forward(None, w)
    z_y = np.asarray(y, np.float64) @ m.T
    expected = (-0.5 * np.sum(z_y**2, -1) - 0.5 * dim * math.log(2 * math.pi) + t1 * np.trace(a) + ld_pre)
    np.testing.assert_allclose(jax.jit(fp.log_prob)(params, w), expected, atol=1e-4, rtol=1e-5)


def test_hutchinson_is_unbiased_and_sampling_inverts(key):
    dim = 3
    exact = flows.cnf(dim, hidden=(16,), divergence="exact", num_steps=8)
    hutch = flows.cnf(dim, hidden=(16,), divergence="hutchinson", num_steps=8)
    x = jax.random.normal(key, (4, dim))
    params = exact.init(x, key)                       # same params for both estimators
    lp_exact = jax.jit(exact.log_prob)(params, x)
    keys = jax.random.split(jax.random.fold_in(key, 1), 2000)
    lp_h = jax.jit(jax.vmap(lambda k: hutch.log_prob(params, x, k)))(keys)   # [2000, 4]
    se = np.std(lp_h, axis=0) / math.sqrt(len(keys))
    assert np.all(np.std(lp_h, axis=0) > 0)           # a real estimator, not the exact trace
    # Unbiased: the Monte Carlo mean lies within 4 standard errors of the exact value.
    assert np.all(np.abs(np.mean(lp_h, axis=0) - lp_exact) < 4 * se + 1e-5)
    # sample() integrates t1 -> 0; forward maps the samples back to the drawn latents.
    z = jax.random.normal(jax.random.fold_in(key, 2), (5, dim))
    xs = jax.jit(exact.sample, static_argnums=1)(params, 5, jax.random.fold_in(key, 2))
    # Forward RK4 is not the exact inverse of backward RK4: O(h^4) with h = 1/8 on a smooth field.
    np.testing.assert_allclose(jax.jit(exact.forward)(params, xs)[0], z, atol=1e-3)


def _hutchinson_cnf(key):
    f = flows.cnf(2, hidden=(4,), divergence="hutchinson", num_steps=2)
    return f, f.init(jnp.zeros((3, 2)), key)


def _log_prob_without_key(key):
    f, params = _hutchinson_cnf(key)
    return f.log_prob(params, jnp.zeros((3, 2)))


def _log_prob_of_wrong_shape(key):
    f, params = _hutchinson_cnf(key)
    return f.log_prob(params, jnp.zeros((3, 3)), key)


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda k: flows.cnf(2, divergence="trace"), "divergence", id="divergence"),
    pytest.param(_log_prob_without_key, "needs a key", id="hutchinson_key"),
    pytest.param(_log_prob_of_wrong_shape, r"x must have shape \[B, 2\]", id="x_shape"),
])
def test_cnf_bad_input(call, match, key):
    with pytest.raises(ValueError, match=match):
        call(key)


def test_dopri5_evaluation_matches_closed_form_and_reports_failure(key):
    """stepping=integrators.adaptive (FFJORD's dopri5 evaluation): the linear flow's log-density to the tolerance, and a
    solve cut off by max_steps is NaN, never a truncated number."""
    dim, t1 = 3, 0.7
    a = np.array([[-0.3, 0.8, 0.1], [-0.5, 0.2, 0.4], [0.3, -0.2, 0.5]], np.float32)
    params = {"Dense_0": {"kernel": jnp.asarray(a.T)}}
    x = jax.random.normal(key, (6, dim))
    m = scipy.linalg.expm(a.astype(np.float64) * t1)
    z_exact = np.asarray(x, np.float64) @ m.T
    logp_exact = (-0.5 * np.sum(z_exact**2, -1) - 0.5 * dim * math.log(2 * math.pi) + t1 * np.trace(a))
    f = flows.cnf(dim, stepping=integrators.adaptive(1e-6, 1e-6), t1=t1, net=LinearField(dim))
    # rtol = atol = 1e-6 per step over ~10 steps, then float32 rounding: 1e-4 on log p (|log p| ~ 5)
    np.testing.assert_allclose(jax.jit(f.log_prob)(params, x), logp_exact, atol=1e-4, rtol=1e-5)
    np.testing.assert_allclose(jax.jit(f.forward)(params, x)[0], z_exact, atol=1e-5)
    np.testing.assert_allclose(jax.jit(f.inverse)(params, jnp.asarray(z_exact, jnp.float32))[0], x, atol=1e-5)
    cut = flows.cnf(dim, stepping=integrators.adaptive(1e-6, 1e-6, max_steps=2), t1=t1, net=LinearField(dim))
    assert np.all(np.isnan(jax.jit(cut.log_prob)(params, x)))
    with pytest.raises(TypeError, match="stepping"):
        flows.cnf(dim, stepping="rk45")
    with pytest.raises(ValueError, match="max_steps"):
        flows.cnf(dim, stepping=integrators.adaptive(max_steps=0))


def test_dopri5_agrees_with_a_fine_rk4_grid_on_a_nonlinear_field(key):
    """A random (non-linear, time-dependent) field: the adaptive solve and 64 RK4 steps agree."""
    dim = 2
    rk = flows.cnf(dim, hidden=(32, 32), num_steps=64)
    dp = flows.cnf(dim, hidden=(32, 32), stepping=integrators.adaptive(1e-6, 1e-6))
    x = 2.0 * jax.random.normal(key, (16, dim))
    params = rk.init(x, key)
    # RK4 with h = 1/64: global error ~1e-8 on an O(1) field; dopri5 to 1e-6 per step; float32
    # rounding of |log p| ~ 5 adds ~1e-6.
    np.testing.assert_allclose(jax.jit(dp.log_prob)(params, x), jax.jit(rk.log_prob)(params, x),
                               atol=2e-5)
    np.testing.assert_allclose(jax.jit(dp.sample, static_argnums=1)(params, 4, key),
                               jax.jit(rk.sample, static_argnums=1)(params, 4, key), atol=2e-5)


def test_task_eval_solver_key(key):
    """config.flow.eval_solver = "dopri5" gives an adaptive evaluation flow; a bad value names
    the key."""
    from experiments.tasks import inputs
    from experiments.configs import toy2d_cnf
    from experiments.tasks import flows as flows_task
    from genjax.train import sharding

    cfg = toy2d_cnf.get_config("runlocal")
    cfg.flow.eval_solver = "dopri5"
    data = inputs.build(cfg, sharding.data_mesh(jax.devices()[:1]), key)
    task = flows_task.build(cfg, data)
    x = jax.random.normal(key, (8, 2))
    params = task.extras["flow"].init(x, key)
    lp_dp = jax.jit(task.extras["eval_flow"].log_prob)(params, x)
    lp_fine = jax.jit(flows.cnf(2, **dict(cfg.flow.kwargs, num_steps=64, divergence="exact")).log_prob)(params, x)
    np.testing.assert_allclose(lp_dp, lp_fine, atol=1e-4)   # dopri5 to eval_tol 1e-5 per step
    cfg.flow.eval_solver = "euler"
    with pytest.raises(ValueError, match="config.flow.eval_solver"):
        flows_task.build(cfg, data)
