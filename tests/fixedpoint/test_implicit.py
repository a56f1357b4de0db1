"""Implicit-differentiation gradients of solve == autodiff through lax.scan (float64)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from genjax import fixedpoint
from genjax.fixedpoint import cells

CELLS = {"tanh_rnn": cells.tanh_rnn, "gru": cells.gru, "lstm": cells.lstm}


def _setup(cell_name, n=4, T=20, n_in=3):
    cell = CELLS[cell_name]
    k_p, k_h, k_x, k_w = jax.random.split(jax.random.key(1), 4)
    params = jax.tree.map(lambda a: a.astype(jnp.float64), cell.init(n_in, n, k_p))
    d = cell.state_size(n)
    h0 = 0.3 * jax.random.normal(k_h, (d,), jnp.float64)
    xs = jax.random.normal(k_x, (T, n_in), jnp.float64)
    weights = jax.random.normal(k_w, (T, d), jnp.float64)
    return cell, params, h0, xs, weights


def _loss(cell, method, weights):
    def loss(params, xs, h0):
        hs, _ = fixedpoint.solve(cell.step, h0, xs, params, method)
        return jnp.sum(weights * jnp.sin(hs)) + 0.5 * jnp.sum(hs[-1] ** 2)
    return loss


@pytest.mark.parametrize("cell_name,method_name", [("tanh_rnn", "newton"), ("gru", "newton"),
                                                   ("lstm", "newton"), ("gru", "quasi_newton")])
def test_gradients_match_autodiff_through_lax_scan(cell_name, method_name):
    with jax.enable_x64(True):
        cell, params, h0, xs, weights = _setup(cell_name)
        method = (fixedpoint.newton() if method_name == "newton"
                  else fixedpoint.quasi_newton(cell.diagonal))
        grad = jax.jit(jax.grad(_loss(cell, method, weights), argnums=(0, 1, 2)))
        grad_ref = jax.jit(jax.grad(_loss(cell, fixedpoint.sequential(), weights),
                                    argnums=(0, 1, 2)))
        got, want = grad(params, xs, h0), grad_ref(params, xs, h0)
        # Both are exact derivatives of the same function at a solution converged to 1e-10;
        # the implicit adjoint and backprop through the scan differ only by rounding and by
        # the O(tol) distance to the solution: 1e-8 relative to each gradient's scale.
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            scale = max(1.0, float(jnp.max(jnp.abs(w))))
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-8 * scale, rtol=0)


def test_gradients_pass_numerical_check_grads():
    with jax.enable_x64(True):
        cell, params, h0, xs, weights = _setup("gru", n=3, T=6)
        loss = _loss(cell, fixedpoint.newton(), weights)
        # check_grads compares reverse-mode VJPs with central finite differences (eps 1e-4,
        # float64): error O(eps^2) ~ 1e-8, tolerance 1e-5 as in jax's own tests.
        check_grads(jax.jit(loss), (params, xs, h0), order=1, modes=["rev"], atol=1e-5,
                    rtol=1e-5)


def test_gradient_reaches_arrays_closed_over_by_step_fn():
    with jax.enable_x64(True):
        cell, params, h0, xs, weights = _setup("tanh_rnn", T=12)

        def loss(scale, method):
            hs, _ = fixedpoint.solve(lambda h, x, p: cell.step(h, scale * x, p), h0, xs, params,
                                     method)
            return jnp.sum(weights * hs)

        got = jax.jit(jax.grad(lambda s: loss(s, fixedpoint.newton())))(jnp.asarray(1.3))
        want = jax.jit(jax.grad(lambda s: loss(s, fixedpoint.sequential())))(jnp.asarray(1.3))
        np.testing.assert_allclose(float(got), float(want), rtol=1e-9)


def test_gradients_under_vmap_and_fixed_iterations():
    with jax.enable_x64(True):
        cell, params, h0, xs, weights = _setup("gru", T=16)
        xs_b = jnp.stack([xs, 0.5 * xs])

        def loss(params, method, **kw):
            hs, _ = jax.vmap(lambda x: fixedpoint.solve(cell.step, h0, x, params, method, **kw))(
                xs_b)
            return jnp.sum(jnp.tanh(hs))

        want = jax.jit(jax.grad(lambda p: loss(p, fixedpoint.sequential())))(params)
        # 12 fixed Newton sweeps: converged to rounding on this contractive GRU, so the
        # implicit gradient at the returned iterate is the exact one (1e-8 relative).
        got = jax.jit(jax.grad(lambda p: loss(p, fixedpoint.newton(), num_iters=12)))(params)
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w),
                                       atol=1e-8 * max(1.0, float(jnp.max(jnp.abs(w)))))


def test_adjoint_is_one_reverse_linear_scan():
    # The backward pass on a *linear* recurrence h_t = a_t * h_{t-1} + x_t reduces to the
    # closed form dL/dx_t = sum_{s >= t} w_s prod_{t < r <= s} a_r.
    with jax.enable_x64(True):
        a = jnp.linspace(0.5, 0.9, 10)
        w = jnp.linspace(-1.0, 1.0, 10)
        xs = (jnp.ones(10), a)

        def loss(u):
            hs, _ = fixedpoint.solve(lambda h, x, p: x[1] * h + x[0] * p, jnp.zeros(1),
                                     xs, u)
            return jnp.sum(w * hs[:, 0])

        got = float(jax.jit(jax.grad(loss))(jnp.asarray(1.0)))
        want = sum(w[s] * float(jnp.prod(a[t + 1:s + 1])) for t in range(10) for s in range(t, 10))
        np.testing.assert_allclose(got, want, rtol=1e-12)
