"""solve: every parallel method reproduces the sequential lax.scan (tanh RNN, GRU, LSTM)."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import fixedpoint
from genjax.fixedpoint import cells

CELLS = {"tanh_rnn": cells.tanh_rnn, "gru": cells.gru, "lstm": cells.lstm}


def _methods(cell):
    return {
        "newton": fixedpoint.newton(),
        "quasi_newton": fixedpoint.quasi_newton(cell.diagonal),
        "quasi_fused": fixedpoint.quasi_newton(value_and_diagonal=cell.value_and_diagonal),
        "damped": fixedpoint.damped(1e-3, fixedpoint.quasi_newton(cell.diagonal)),
        "damped_dense": fixedpoint.damped(1e-3),
        "picard": fixedpoint.picard(),
        "jacobi": fixedpoint.jacobi(),
    }


def _system(cell_name, n, T, dtype, batch=2, n_in=3, seed=0):
    """A batch of random systems of one cell: (params, h0 [B, d], xs [B, T, n_in])."""
    cell = CELLS[cell_name]
    k_p, k_h, k_x = jax.random.split(jax.random.key(seed), 3)
    params = jax.tree.map(lambda a: a.astype(dtype), cell.init(n_in, n, k_p))
    d = cell.state_size(n)
    h0 = 0.5 * jax.random.normal(k_h, (batch, d), dtype)
    xs = jax.random.normal(k_x, (batch, T, n_in), dtype)
    return cell, params, h0, xs


@functools.lru_cache(maxsize=None)
def _batched_solver(cell_name, method_name, tol):
    """jit(vmap(solve)) for one (cell, method): compiled once per shape and dtype."""
    cell = CELLS[cell_name]
    method = _methods(cell)[method_name] if method_name != "sequential" else \
        fixedpoint.sequential()

    def one(params, h0, xs):
        return fixedpoint.solve(cell.step, h0, xs, params, method, tol=tol)

    return jax.jit(jax.vmap(one, in_axes=(None, 0, 0)))


def _compare(cell_name, method_name, n, T, dtype, tol):
    cell, params, h0, xs = _system(cell_name, n, T, dtype)
    ref, _ = _batched_solver(cell_name, "sequential", None)(params, h0, xs)
    hs, info = _batched_solver(cell_name, method_name, tol)(params, h0, xs)
    assert hs.shape == ref.shape == (2, T, cell.state_size(n))
    assert hs.dtype == jnp.dtype(dtype)
    return np.asarray(hs), np.asarray(ref), info


# float32: solver tol 1e-5 on the relative residual/update. Linearly converging methods
# (quasi-Newton, damped, Jacobi, Picard) can sit up to update / (1 - rate) from the solution, and
# float32 rounding of the O(1) states is ~1e-7 per step, so every method must match the scan to
# 1e-4 (a wrong recurrence, shift or Jacobian gives O(1e-1) errors). Every method runs at a
# small size per cell (and at a third size in float64 below); Newton and quasi-Newton also at a
# larger one.
SMALL = [("tanh_rnn", 4, 16), ("gru", 4, 16), ("lstm", 3, 16)]
LARGE = [("tanh_rnn", 8, 48), ("gru", 16, 40), ("lstm", 6, 33)]


@pytest.mark.parametrize("cell_name,n,T,method_name", [
    size + (method,) for size in SMALL
    for method in ("newton", "quasi_newton", "quasi_fused", "damped", "picard", "jacobi")] + [
    size + (method,) for size in LARGE for method in ("newton", "quasi_newton")])
def test_every_method_matches_sequential_float32(cell_name, n, T, method_name):
    hs, ref, info = _compare(cell_name, method_name, n, T, jnp.float32, None)
    assert bool(np.all(info.converged)), (info.num_iters, info.residual)
    np.testing.assert_allclose(hs, ref, atol=1e-4, rtol=0)


# float64: tol 1e-10; the same argument gives 1e-8 (no float32 rounding floor any more).
# "damped" is quasi-ELK (diagonal); ELK with the dense Jacobian ("damped_dense", slow to
# compile) runs on the GRU only.
@pytest.mark.parametrize("cell_name,method_name", [
    (cell, method) for cell in ("tanh_rnn", "gru", "lstm")
    for method in ("newton", "quasi_newton", "damped", "picard", "jacobi")] + [
    ("gru", "damped_dense")])
def test_every_method_matches_sequential_float64(cell_name, method_name):
    with jax.enable_x64(True):
        hs, ref, info = _compare(cell_name, method_name, 5, 24, jnp.float64, None)
        assert bool(np.all(info.converged)), (info.num_iters, info.residual)
        np.testing.assert_allclose(hs, ref, atol=1e-8, rtol=0)


def test_newton_converges_in_a_handful_of_sweeps_on_a_random_gru():
    # DEER's claim: Newton on a random (contractive) GRU converges quadratically, in a few
    # sweeps independent of T. "Handful" = at most 8 sweeps at T = 40.
    _, _, info = _compare("gru", "newton", 16, 40, jnp.float32, None)
    assert bool(np.all(info.converged))
    assert int(np.max(info.num_iters)) <= 8, info.num_iters


@pytest.mark.parametrize("gain", [1.0, 3.0])
def test_newton_never_needs_more_than_T_sweeps(gain):
    # Every undamped method is exact after T sweeps (prefix property); Newton is much faster on
    # contractive systems and still within T on an expanding tanh RNN (gain 3, chaotic).
    with jax.enable_x64(True):
        cell, params, h0, xs = _system("tanh_rnn", 6, 24, jnp.float64, batch=3, seed=3)
        params = {**params, "W": gain * params["W"]}
        solver = jax.jit(jax.vmap(lambda h0, xs: fixedpoint.solve(
            cell.step, h0, xs, params, fixedpoint.newton(), max_iters=24), in_axes=(0, 0)))
        hs, info = solver(h0, xs)
        ref = jax.vmap(lambda h0, xs: fixedpoint.sequential_scan(cell.step, h0, xs, params))(
            h0, xs)
        assert bool(np.all(info.converged)) and int(np.max(info.num_iters)) <= 24, info
        np.testing.assert_allclose(np.asarray(hs), np.asarray(ref), atol=1e-8, rtol=0)


def test_sequential_method_is_lax_scan(key):
    cell, params, h0, xs = _system("gru", 4, 10, jnp.float32, batch=1)
    hs, info = fixedpoint.solve(cell.step, h0[0], xs[0], params, fixedpoint.sequential())
    h, want, step = h0[0], [], jax.jit(cell.step)
    for t in range(10):                         # a Python loop: the definition of the recurrence
        h = step(h, xs[0, t], params)
        want.append(h)
    np.testing.assert_allclose(np.asarray(hs), np.asarray(jnp.stack(want)), atol=1e-6)
    assert bool(info.converged) and int(info.num_iters) == 1


def test_warm_start_from_solution_converges_in_one_sweep():
    cell, params, h0, xs = _system("gru", 8, 40, jnp.float32, batch=1)
    ref = jax.jit(fixedpoint.sequential_scan, static_argnums=0)(cell.step, h0[0], xs[0], params)
    solver = jax.jit(lambda init: fixedpoint.solve(cell.step, h0[0], xs[0], params, init=init))
    hs, info = solver(ref)
    # The guess is the solution: the first sweep's residual and update are both at rounding
    # level, so one sweep suffices; a cold start needs several.
    assert bool(info.converged) and int(info.num_iters) == 1
    _, cold = solver(jnp.broadcast_to(h0[0], ref.shape))
    assert int(cold.num_iters) > 1
    np.testing.assert_allclose(np.asarray(hs), np.asarray(ref), atol=1e-5)


def test_fixed_iteration_mode_runs_exactly_K_sweeps():
    cell, params, h0, xs = _system("gru", 8, 40, jnp.float32, batch=1)
    ref = fixedpoint.sequential_scan(cell.step, h0[0], xs[0], params)
    errors = []
    for K in (2, 8):
        hs, info = jax.jit(lambda: fixedpoint.solve(cell.step, h0[0], xs[0], params,
                                                    num_iters=K))()
        assert int(info.num_iters) == K
        errors.append(float(jnp.max(jnp.abs(hs - ref))))
    # Two Newton sweeps from h0 repeated leave an O(1e-2) error; after 8 the error is at
    # float32 rounding (< 1e-5).
    assert errors[0] > 1e-3 > 1e-5 > errors[1], errors


def test_method_factories_are_memoised():
    # Methods hold closures (compared by identity): without memoisation each call of a factory
    # would be a new static argument and a new compilation of every jitted caller.
    gru = cells.gru
    assert fixedpoint.newton() is fixedpoint.newton()
    assert fixedpoint.quasi_newton(gru.diagonal) is fixedpoint.quasi_newton(diagonal=gru.diagonal)
    assert fixedpoint.damped(1e-2) is fixedpoint.damped(0.01, None)
    assert fixedpoint.picard() is fixedpoint.picard()
    assert fixedpoint.quasi_newton() is fixedpoint.quasi_newton(None, None)
    assert fixedpoint.quasi_newton(num_probes=8) is fixedpoint.quasi_newton(None, 8)
    assert fixedpoint.fallback(fixedpoint.newton()) is fixedpoint.fallback(fixedpoint.newton())
    assert fixedpoint.newton_blocks(2) is fixedpoint.newton_blocks(2)
    assert fixedpoint.quasi_newton(num_probes=4) is not fixedpoint.quasi_newton(num_probes=8)
    cell, params, h0, xs = _system("gru", 4, 12, jnp.float32, batch=1)
    run = jax.jit(lambda method, xs: fixedpoint.solve(cell.step, h0[0], xs, params, method)[0],
                  static_argnums=0)
    for _ in range(2):
        run(fixedpoint.quasi_newton(gru.diagonal), xs[0])
    assert run._cache_size() == 1
    # validation still runs: True is not taken for a cached num_probes of 1
    fixedpoint.quasi_newton(num_probes=1)
    with pytest.raises(ValueError, match="num_probes"):
        fixedpoint.quasi_newton(num_probes=True)
