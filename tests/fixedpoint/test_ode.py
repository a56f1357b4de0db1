"""DEER for ODEs: exact on linear ODEs, second order on non-linear ones (vs a fine RK4)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from genjax import fixedpoint

M = np.array([[-0.5, 2.0], [-2.0, -0.5]])          # float64 numpy: cast where used


def _linear(y, t, p):
    return p @ y


def _pendulum(y, t, p):
    """Forced damped pendulum: theta'' = -sin(theta) - c theta' + a cos(t)."""
    return jnp.stack([y[1], -jnp.sin(y[0]) - p[0] * y[1] + p[1] * jnp.cos(t)])


def _rk4_reference(f, y0, ts, p, substeps=200):
    """Classical RK4 with `substeps` steps per grid interval (error ~1e-13 here)."""
    def interval(y, t01):
        t0, t1 = t01
        h = (t1 - t0) / substeps

        def step(y, i):
            t = t0 + i * h
            k1 = f(y, t, p)
            k2 = f(y + 0.5 * h * k1, t + 0.5 * h, p)
            k3 = f(y + 0.5 * h * k2, t + 0.5 * h, p)
            k4 = f(y + h * k3, t + h, p)
            return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

        y, _ = jax.lax.scan(step, y, jnp.arange(substeps))
        return y, y

    _, ys = jax.lax.scan(interval, y0, (ts[:-1], ts[1:]))
    return jnp.concatenate([y0[None], ys])


def test_linear_ode_is_solved_exactly():
    with jax.enable_x64(True):
        ts = jnp.linspace(0.0, 5.0, 26)
        y0 = jnp.array([1.0, 0.0])
        ys, info = jax.jit(lambda: fixedpoint.solve_ode(_linear, y0, ts, jnp.asarray(M)))()
        assert ys.dtype == jnp.float64
        want = np.stack([scipy.linalg.expm(M * float(t)) @ np.asarray(y0) for t in ts])
        # The linearisation of a linear ODE is the ODE: exact up to expm rounding (1e-12), and
        # Newton needs one sweep plus one confirming sweep.
        assert bool(info.converged) and int(info.num_iters) <= 2
        np.testing.assert_allclose(np.asarray(ys), np.asarray(want), atol=1e-12)


@pytest.fixture(scope="module")
def pendulum_reference():
    """Fine RK4 on the 160-interval grid of [0, 8] (float64); coarser grids subsample it."""
    with jax.enable_x64(True):
        p = jnp.array([0.3, 0.5])
        y0 = jnp.array([1.5, 0.0])
        ts = jnp.linspace(0.0, 8.0, 161)
        ref = jax.jit(_rk4_reference, static_argnums=0)(_pendulum, y0, ts, p)
        return p, y0, ts, ref


def test_nonlinear_ode_converges_at_second_order(pendulum_reference):
    with jax.enable_x64(True):
        p, y0, ts_fine, ref = pendulum_reference
        solver = jax.jit(lambda ts: fixedpoint.solve_ode(_pendulum, y0, ts, p))
        errors = []
        for stride in (4, 2):                   # 40 and 80 intervals
            ys, info = solver(ts_fine[::stride])
            assert bool(info.converged) and int(info.num_iters) < 15, info
            errors.append(float(jnp.max(jnp.abs(ys - ref[::stride]))))
        slope = np.log(errors[1] / errors[0]) / np.log(2.0)
        # Midpoint-frozen exponential scheme: order 2, so the error drops ~4x when dt halves;
        # slope within 0.3 of -2 (DESIGN.md convergence-order rule).
        assert abs(slope + 2.0) < 0.3, (errors, slope)
        assert errors[-1] < 1e-2


def test_quasi_newton_ode_uses_the_diagonal_and_converges(pendulum_reference):
    with jax.enable_x64(True):
        p, y0, ts, ref = pendulum_reference

        def diagonal(y, t, p):                 # diag of d f / d y for the pendulum
            return jnp.array([0.0, -p[0]])

        ys, info = jax.jit(lambda: fixedpoint.solve_ode(
            _pendulum, y0, ts, p, fixedpoint.quasi_newton(diagonal), max_iters=100))()
        # A different (diagonal) exponential scheme, still second order: error of the same
        # size as Newton's at this dt (< 1e-2), reached without any dense Jacobian.
        assert bool(info.converged), info
        assert float(jnp.max(jnp.abs(ys - ref))) < 1e-2


def test_ode_float32_matches_float64_reference():
    ts = jnp.linspace(0.0, 4.0, 101)
    ys, info = jax.jit(lambda: fixedpoint.solve_ode(
        _pendulum, jnp.array([1.0, 0.0]), ts, jnp.array([0.3, 0.5])))()
    with jax.enable_x64(True):
        ref = jax.jit(_rk4_reference, static_argnums=(0, 4))(
            _pendulum, jnp.array([1.0, 0.0], jnp.float64),
            jnp.linspace(0.0, 4.0, 101, dtype=jnp.float64), jnp.array([0.3, 0.5], jnp.float64),
            20)
    assert ys.dtype == jnp.float32 and bool(info.converged)
    # dt = 0.04: discretisation error ~1e-4 plus float32 rounding; 1e-3 bound.
    np.testing.assert_allclose(np.asarray(ys), np.asarray(ref), atol=1e-3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(ts=jnp.array([0.0, 1.0, 0.5])), "monotone"),
    (dict(ts=jnp.array([0.0])), "T >= 2"),
    (dict(y0=jnp.array([jnp.nan, 0.0])), "non-finite"),
    (dict(method=fixedpoint.picard()), "method"),
    (dict(method=fixedpoint.fallback(fixedpoint.newton())), "fallback"),
    (dict(tol=0.0), "tol"),
])
def test_solve_ode_validates_input(kwargs, match):
    args = dict(y0=jnp.array([1.0, 0.0]), ts=jnp.linspace(0, 1, 5), method=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fixedpoint.solve_ode(_linear, args.pop("y0"), args.pop("ts"), jnp.asarray(M, jnp.float32),
                             args.pop("method"),
                             **args)
