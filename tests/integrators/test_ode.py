"""Fixed-step ODE solvers (genjax/integrators/ode.py): orders on a linear ODE against expm, pytree states,
backward grids, trajectories, exact NFE."""
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import integrators
from tests.integrators.linear_ode import A, X0, T, linear, exact


def _order(solver, steps, t_end=T):
    errs = []
    for n in steps:
        x, info = integrators.integrate(linear, solver, jnp.linspace(0.0, t_end, n + 1), X0)
        assert int(info.nfe) == n * {1: 1, 2: 2, 4: 4}[solver.order]  # exact evaluation count
        errs.append(np.linalg.norm(np.asarray(x, np.float64) - exact(t_end)))
    return np.polyfit(np.log(steps), np.log(errs), 1)[0]


@pytest.mark.parametrize("name,steps", [("euler", (16, 32, 64)), ("heun", (8, 16, 32)),
                                        ("midpoint", (8, 16, 32)), ("rk4", (4, 8, 16))])
def test_fixed_step_order_on_linear_ode(name, steps):
    # Step counts keep the error well above float32 round-off (~1e-7) and in the asymptotic
    # regime; the fitted slope of log error vs log N must be -order within 0.3 (DESIGN.md).
    solver = getattr(integrators, name)()
    slope = _order(solver, steps)
    assert abs(slope + solver.order) < 0.3, slope


def test_pytree_state_backward_and_trajectory():
    # Augmented state (x, logp) with d logp/dt = -tr(A): logp(T) = -T tr(A) exactly for any
    # Runge-Kutta method (constant field); backward integration T -> 0 recovers expm(-A T) x0.
    field = lambda t, z: (A @ z[0], -jnp.trace(A))
    ts = jnp.linspace(0.0, T, 41)
    (x, logp), info = integrators.integrate(field, integrators.rk4(), ts, (X0, 0.0), save_trajectory=True)
    np.testing.assert_allclose(x, exact(T), atol=1e-5)  # rk4, h = 0.05: error ~ 1e-7
    np.testing.assert_allclose(logp, -T * float(jnp.trace(A)), rtol=1e-5)
    assert info.trajectory[0].shape == (41, 2) and info.trajectory[1].shape == (41,)
    np.testing.assert_allclose(info.trajectory[0][0], X0)
    np.testing.assert_allclose(info.trajectory[0][-1], x)
    xb, _ = integrators.integrate(linear, integrators.rk4(), ts[::-1], X0)
    np.testing.assert_allclose(xb, exact(-T), rtol=1e-5, atol=1e-5)


