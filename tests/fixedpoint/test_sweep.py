"""newton_sweep (DEER's eqs. 5-7), the exact-diagonal quasi-Newton and the per-backend linear solver.

Oracles: a Python loop over t in float64 numpy (the linearised recurrence written out), lax.scan
(the recurrence itself) and jax.jacfwd (the Jacobian).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import fixedpoint
from genjax.fixedpoint import cells

N_IN = 2


def _user_gru(h, x, p):
    """A GRU written here, not taken from ``cells``: quasi_newton() must need nothing from it."""
    z = jax.nn.sigmoid(p["Wz"] @ x + p["Uz"] @ h)
    r = jax.nn.sigmoid(p["Wr"] @ x + p["Ur"] @ h)
    c = jnp.tanh(p["Wc"] @ x + p["Uc"] @ (r * h))
    return (1.0 - z) * h + z * c


def _user_params(n, key):
    keys = jax.random.split(key, 6)
    shapes = {"Wz": (n, N_IN), "Uz": (n, n), "Wr": (n, N_IN), "Ur": (n, n), "Wc": (n, N_IN), "Uc": (n, n)}
    return {name: jax.random.normal(k, shape) / np.sqrt(shape[1])
            for k, (name, shape) in zip(keys, shapes.items())}


def _problem(n, T, seed=0):
    k_p, k_x = jax.random.split(jax.random.key(seed))
    return _user_params(n, k_p), jax.random.normal(k_x, (T, N_IN)), jnp.zeros(n)


def test_newton_sweep_is_the_linearised_recurrence():
    """One sweep from a guess == h_t = J_t h_{t-1} + f_t - J_t g_{t-1}, written out in numpy."""
    params, xs, h0 = _problem(4, 12)
    guess = 0.3 * jax.random.normal(jax.random.key(5), (12, 4))
    hs_new, f = jax.jit(lambda g: fixedpoint.newton_sweep(_user_gru, g, h0, xs, params))(guess)
    g = np.asarray(jnp.concatenate([h0[None], guess[:-1]]), np.float64)
    J = np.asarray(jax.vmap(jax.jacfwd(_user_gru), in_axes=(0, 0, None))(g.astype(np.float32), xs, params), np.float64)
    f_want = np.asarray(jax.vmap(_user_gru, in_axes=(0, 0, None))(g.astype(np.float32), xs, params), np.float64)
    h, want = np.zeros(4), []
    for t in range(12):
        h = J[t] @ h + f_want[t] - J[t] @ g[t]
        want.append(h)
    # float32 sweep vs float64 loop over 12 contractive steps: 1e-5 (a shift or sign error is O(0.1)).
    np.testing.assert_allclose(np.asarray(hs_new), np.stack(want), atol=1e-5)
    np.testing.assert_allclose(np.asarray(f), f_want, atol=1e-6)
    # solve runs this very sweep: one fixed sweep of solve from the same guess is the same array.
    hs1, _ = jax.jit(lambda g: fixedpoint.solve(_user_gru, h0, xs, params, num_iters=1, init=g))(guess)
    np.testing.assert_allclose(np.asarray(hs1), np.asarray(hs_new), atol=1e-6)


def test_quasi_newton_without_key_converges_on_a_user_gru():
    params, xs, h0 = _problem(6, 200)
    method = fixedpoint.quasi_newton()
    assert not method.needs_key
    hs, info = jax.jit(lambda xs: fixedpoint.solve(_user_gru, h0, xs, params, method))(xs)
    ref = jax.jit(fixedpoint.sequential_scan, static_argnums=0)(_user_gru, h0, xs, params)
    assert bool(info.converged), info
    # float32, tol 1e-5 per entry; linear convergence can sit a few tol from the answer: 1e-4.
    np.testing.assert_allclose(np.asarray(hs), np.asarray(ref), atol=1e-4)
    # its A_t is the exact diagonal: one linearize call against diag(jacfwd)
    f, d = method.linearize(lambda v: _user_gru(v, xs[0], params), ref[3], xs[0], params, None)
    np.testing.assert_allclose(np.asarray(d), np.diagonal(jax.jacfwd(_user_gru)(ref[3], xs[0], params)),
                               atol=1e-6)


@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_fused_value_and_diagonal_gives_the_jvp_paths_iterates(name):
    """quasi_newton(value_and_diagonal=cell's) and quasi_newton() (n JVPs on cell.step) run the
    same sweeps: the same A_t = diag J_t and f_t, so the same iterate after every sweep."""
    cell = getattr(cells, name)
    with jax.enable_x64(True):
        params = jax.tree.map(lambda a: a.astype(jnp.float64), cell.init(N_IN, 5, jax.random.key(3)))
        d = cell.state_size(5)
        xs = jax.random.normal(jax.random.key(4), (40, N_IN), jnp.float64)
        h0 = jnp.zeros(d, jnp.float64)
        sweep = jax.jit(lambda hs, m: fixedpoint.newton_sweep(cell.step, hs, h0, xs, params, m)[0],
                        static_argnums=1)
        fused = fixedpoint.quasi_newton(value_and_diagonal=cell.value_and_diagonal)
        a = b = jnp.zeros((40, d), jnp.float64)
        for _ in range(6):
            a, b = sweep(a, fused), sweep(b, fixedpoint.quasi_newton())
            # float64, both exact: 1e-12 (a wrong diagonal entry changes the iterate by O(1e-2)).
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-12, rtol=0)
        assert float(jnp.max(jnp.abs(a - b))) < 1e-12 < float(jnp.max(jnp.abs(a)))


def _temp_bytes(method, n, T=1024):
    params, xs, h0 = _problem(n, T)
    run = jax.jit(lambda p, xs: fixedpoint.solve(_user_gru, h0, xs, p, method)[0])
    return run.lower(params, xs).compile().memory_analysis().temp_size_in_bytes


def test_quasi_newton_memory_grows_like_T_n_not_T_n_squared():
    # XLA's buffer assignment for the compiled solve at n = 8 and 32 (T = 1024): O(T n) memory
    # grows 4x, O(T n^2) 16x. The exact diagonal (n JVPs one at a time) must stay below 8x;
    # dense Newton, which holds J [T, n, n], is the check that the measure sees n^2.
    quasi = _temp_bytes(fixedpoint.quasi_newton(), 32) / _temp_bytes(fixedpoint.quasi_newton(), 8)
    newton = _temp_bytes(fixedpoint.newton(), 32) / _temp_bytes(fixedpoint.newton(), 8)
    assert quasi < 8.0 < newton, (quasi, newton)


def test_closed_form_jacobian_gives_the_same_newton_iterates():
    cell = cells.gru
    params = cell.init(N_IN, 8, jax.random.key(1))
    xs = jax.random.normal(jax.random.key(2), (64, N_IN))
    run = jax.jit(lambda m: fixedpoint.solve(cell.step, jnp.zeros(8), xs, params, m), static_argnums=0)
    hs_ad, info_ad = run(fixedpoint.newton())
    hs_cf, info_cf = run(fixedpoint.newton(cell.jacobian))
    assert int(info_cf.num_iters) == int(info_ad.num_iters) and bool(info_cf.converged)
    np.testing.assert_allclose(np.asarray(hs_cf), np.asarray(hs_ad), atol=1e-6)


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_and_sequential_linear_solvers_agree(diagonal, reverse):
    """The per-backend choice must not change the answer: both == each other to float32 round-off."""
    k_a, k_b, k_h = jax.random.split(jax.random.key(4), 3)
    T, n = 300, 5
    A = (0.9 * jnp.tanh(jax.random.normal(k_a, (T, n))) if diagonal
         else 0.9 * jax.random.normal(k_a, (T, n, n)) / np.sqrt(n))
    b, h0 = jax.random.normal(k_b, (T, n)), jax.random.normal(k_h, (n,))
    par = fixedpoint.linear_scan_associative(A, b, h0, reverse)
    seq = fixedpoint.linear_scan_sequential(A, b, h0, reverse)
    auto = fixedpoint.linear_scan(A, b, h0, reverse)
    # different summation orders of O(1) values over 300 contractive steps: 1e-5 is ~100 ulp.
    np.testing.assert_allclose(np.asarray(par), np.asarray(seq), atol=1e-5, rtol=1e-5)
    chosen = par if jax.default_backend() != "cpu" else seq
    np.testing.assert_array_equal(np.asarray(auto), np.asarray(chosen))
