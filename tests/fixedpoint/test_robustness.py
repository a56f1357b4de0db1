"""Never a wrong answer flagged converged: chaotic systems, NaN mid-iteration, fallback."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import fixedpoint
from genjax.fixedpoint import cells


def _chaotic(gain, T, n=8, batch=3, dtype=jnp.float32):
    """tanh RNNs h' = tanh(gain W h + U x), W ~ N(0, 1/n): chaotic for gain >~ 2."""
    cell = cells.tanh_rnn
    params = jax.tree.map(lambda a: a.astype(dtype), cell.init(2, n, jax.random.key(7)))
    params = {**params, "W": gain * params["W"]}
    xs = jax.random.normal(jax.random.key(8), (batch, T, 2), dtype)
    h0 = jnp.full((batch, n), 0.5, dtype)
    ref = jax.jit(jax.vmap(lambda h, x: fixedpoint.sequential_scan(cell.step, h, x, params)))(
        h0, xs)
    return cell, params, h0, xs, ref


METHODS = {
    "newton": fixedpoint.newton(),
    "quasi_newton": fixedpoint.quasi_newton(cells.tanh_rnn.diagonal),
    "damped": fixedpoint.damped(1e-2, fixedpoint.quasi_newton(cells.tanh_rnn.diagonal)),
    "picard": fixedpoint.picard(),
    "jacobi": fixedpoint.jacobi(),
}


@pytest.mark.parametrize("method_name", list(METHODS))
def test_chaotic_system_is_never_wrong_but_converged(method_name):
    # gain 3, T = 200, at most 30 sweeps (float32): the parallel methods cannot resolve this
    # unpredictable system. Whatever each one returns, a converged flag must come with the
    # sequential answer (1e-4: float32 rounding of O(1) states amplified over a few steps).
    cell, params, h0, xs, ref = _chaotic(3.0, 200)
    solver = jax.jit(jax.vmap(lambda h, x: fixedpoint.solve(
        cell.step, h, x, params, METHODS[method_name], max_iters=30)))
    hs, info = solver(h0, xs)
    err = np.max(np.abs(np.asarray(hs) - np.asarray(ref)), axis=(1, 2))
    ok = ~np.asarray(info.converged) | (err <= 1e-4)
    assert ok.all(), (info.converged, err)
    assert np.all(np.isfinite(np.asarray(hs)))      # contained: never NaN passed back


def test_fallback_returns_the_sequential_answer_on_a_chaotic_system():
    # float64: on a chaotic system two *sequential* scans compiled differently (fusion order)
    # differ by rounding amplified ~e-fold every ~11 steps; in float32 that reaches 1e-2 by
    # T = 200, in float64 it stays below 1e-8. The fallback result is that scan: 1e-6.
    with jax.enable_x64(True):
        cell, params, h0, xs, ref = _chaotic(3.0, 200, dtype=jnp.float64)
        method = fixedpoint.fallback(fixedpoint.newton())
        hs, info = jax.jit(jax.vmap(lambda h, x: fixedpoint.solve(
            cell.step, h, x, params, method, max_iters=30)))(h0, xs)
        assert np.all(np.asarray(info.converged)) and np.all(np.asarray(info.fell_back))
        assert np.all(np.asarray(info.num_iters) == 30)
        np.testing.assert_allclose(np.asarray(hs), np.asarray(ref), atol=1e-6, rtol=0)


def test_fallback_is_not_used_when_the_parallel_solve_converges():
    cell, params, h0, xs, ref = _chaotic(0.5, 64, batch=1)
    hs, info = jax.jit(lambda: fixedpoint.solve(
        cell.step, h0[0], xs[0], params, fixedpoint.fallback(fixedpoint.newton())))()
    assert bool(info.converged) and not bool(info.fell_back) and int(info.num_iters) < 10
    np.testing.assert_allclose(np.asarray(hs), np.asarray(ref[0]), atol=1e-5)


def test_unconverged_solve_reports_failure():
    # Jacobi needs ~T sweeps on a slowly mixing system; with 3 sweeps it cannot converge and
    # must say so, with a residual above tol.
    cell, params, h0, xs, ref = _chaotic(1.0, 100, batch=1)
    hs, info = jax.jit(lambda: fixedpoint.solve(
        cell.step, h0[0], xs[0], params, fixedpoint.jacobi(), max_iters=3))()
    assert not bool(info.converged) and int(info.num_iters) == 3
    assert float(info.residual) > 1e-5
    assert float(jnp.max(jnp.abs(hs - ref[0]))) > 1e-5


def _domain_step(h, x, W):
    """tanh RNN that returns NaN outside |h| <= 2 (the trajectory itself stays in (-1, 1))."""
    out = jnp.tanh(W @ h + x)
    return jnp.where(jnp.max(jnp.abs(h)) <= 2.0, out, jnp.nan)


def _domain_diagonal(h, x, W):
    return (1.0 - jnp.tanh(W @ h + x) ** 2) * jnp.diagonal(W)


@pytest.mark.parametrize("method", [
    fixedpoint.newton(),
    fixedpoint.quasi_newton(_domain_diagonal),
    fixedpoint.damped(1e-3, fixedpoint.quasi_newton(_domain_diagonal))])
def test_nan_produced_mid_iteration_is_contained_and_the_solve_converges(method):
    n, T = 4, 40
    W = 0.8 * jax.random.normal(jax.random.key(3), (n, n)) / np.sqrt(n)
    xs = 0.5 * jax.random.normal(jax.random.key(4), (T, n))
    h0 = jnp.zeros(n)
    ref = jax.jit(fixedpoint.sequential_scan, static_argnums=0)(_domain_step, h0, xs, W)
    # Warm start at the solution with three steps knocked out of the domain: the step
    # function then returns NaN after each of them in the first sweep.
    guess = ref.at[jnp.array([5, 17, 30])].set(3.0)
    f_at_guess = jax.jit(jax.vmap(_domain_step, in_axes=(0, 0, None)))(
        jnp.concatenate([h0[None], guess[:-1]]), xs, W)
    assert int(jnp.sum(jnp.isnan(f_at_guess[:, 0]))) == 3   # the system does produce NaN
    hs, info = jax.jit(lambda g: fixedpoint.solve(_domain_step, h0, xs, W, method, init=g))(guess)
    assert bool(info.converged), info
    # From an almost exact guess a contained solve needs a few sweeps; 20 (= T / 2) still
    # rules out the NaN resetting the whole solve to a one-step-per-sweep crawl.
    assert int(info.num_iters) <= 20, info
    np.testing.assert_allclose(np.asarray(hs), np.asarray(ref), atol=1e-4)


def test_overflowing_linear_scan_is_contained():
    # Picard on an expanding system: the cumulative sums grow like binomial coefficients and
    # overflow float32 within a few dozen sweeps. The iterate must stay finite and the solve
    # must report non-convergence rather than return inf/NaN.
    cell, params, h0, xs, _ = _chaotic(3.0, 300, batch=1)
    hs, info = jax.jit(lambda: fixedpoint.solve(
        cell.step, h0[0], xs[0], params, fixedpoint.picard(), max_iters=60))()
    assert np.all(np.isfinite(np.asarray(hs)))
    assert not bool(info.converged)


def test_recurrence_that_truly_produces_nan_is_not_converged():
    # If the sequential trajectory itself contains NaN there is no finite solution: the
    # residual is NaN and converged must be False.
    def step(h, x, p):
        return jnp.where(x[0] > 0.5, jnp.nan, 0.5 * h + x)

    xs = jnp.linspace(0.0, 1.0, 20)[:, None]
    hs, info = jax.jit(lambda xs: fixedpoint.solve(step, jnp.zeros(1), xs, None))(xs)
    assert not bool(info.converged)
