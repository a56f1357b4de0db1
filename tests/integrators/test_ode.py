"""genjax.integrators: orders on a linear ODE against expm, pytree states, exact NFE, SDE moments,
and the adaptive Dormand-Prince solve (tolerance, status values, argument checks)."""
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import pytest

from genjax import integrators

A = jnp.array([[-0.5, 1.0], [-1.0, -0.3]], jnp.float32)
X0 = jnp.array([1.0, 0.5], jnp.float32)
T = 2.0


def linear(t, x):
    return A @ x


def exact(t):
    return np.asarray(jax.scipy.linalg.expm(np.asarray(A, np.float64) * t) @ np.asarray(X0, np.float64))


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


def test_integrate_rejects_bad_input():
    with pytest.raises(ValueError, match="monotone|increasing"):
        integrators.integrate(linear, integrators.euler(), jnp.array([0.0, 1.0, 0.5]), X0)
    with pytest.raises(ValueError, match="1-D"):
        integrators.integrate(linear, integrators.euler(), jnp.zeros((2, 3)), X0)
    with pytest.raises(TypeError, match="Solver"):
        integrators.integrate(linear, object(), jnp.linspace(0, 1, 3), X0)


# --- adaptive Dormand-Prince ---------------------------------------------------------------------
@pytest.mark.parametrize("tol", [1e-3, 1e-5])
def test_dopri5_meets_tolerance_forward_and_backward(tol):
    # Global error of a tolerance-controlled solve is a modest multiple of the tolerance on this
    # smooth, non-stiff problem (observed ~0.1-0.3 x tol); assert < 10 x tol.
    for t0, t1 in ((0.0, T), (T, 0.0)):
        x, info = integrators.dopri5(linear, t0, t1, X0, rtol=tol, atol=tol)
        ref = exact(t1 - t0)
        assert bool(info.converged) and float(info.t) == t1
        assert np.linalg.norm(np.asarray(x) - ref) < 10 * tol
        # NFE = 1 (f(t0, x0)) + 1 (starting-step heuristic) + 6 per attempt (FSAL).
        assert int(info.nfe) == 2 + 6 * int(info.num_steps)
        assert int(info.num_steps) == int(info.num_accepted) + int(info.num_rejected)


def test_dopri5_pytree_and_tighter_tolerance_costs_more():
    field = lambda t, z: {"x": A @ z["x"], "logp": -jnp.trace(A)}
    z, info_tight = integrators.dopri5(field, 0.0, T, {"x": X0, "logp": jnp.float32(0.0)}, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(z["x"], exact(T), atol=1e-5)
    np.testing.assert_allclose(z["logp"], -T * float(jnp.trace(A)), rtol=1e-5)
    _, info_loose = integrators.dopri5(field, 0.0, T, {"x": X0, "logp": jnp.float32(0.0)}, rtol=1e-3, atol=1e-3)
    assert int(info_tight.nfe) > int(info_loose.nfe)


def test_dopri5_reports_failure_instead_of_a_wrong_answer():
    # max_steps exhausted: not converged, and t tells where it stopped.
    _, info = integrators.dopri5(linear, 0.0, T, X0, rtol=1e-7, atol=1e-7, max_steps=3)
    assert not bool(info.converged) and float(info.t) < T and int(info.num_steps) == 3
    # finite-time blow-up of dx/dt = x^2 at t = 1: the step size collapses, never converges.
    _, info = integrators.dopri5(lambda t, x: x * x, 0.0, 2.0, jnp.float32(1.0), max_steps=500)
    assert not bool(info.converged)
    # vmap over initial states: per-sample status values.
    xs, info = jax.vmap(lambda x: integrators.dopri5(linear, 0.0, T, x))(jnp.stack([X0, 2 * X0]))
    assert info.converged.shape == (2,) and bool(jnp.all(info.converged))
    np.testing.assert_allclose(xs[1], 2 * xs[0], rtol=1e-4)


def test_dopri5_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_steps"):
        integrators.dopri5(linear, 0.0, 1.0, X0, max_steps=0)
    with pytest.raises(ValueError, match="rtol"):
        integrators.dopri5(linear, 0.0, 1.0, X0, rtol=-1.0)
    with pytest.raises(ValueError, match="both be 0"):
        integrators.dopri5(linear, 0.0, 1.0, X0, rtol=0.0, atol=0.0)
    with pytest.raises(ValueError, match="dt0"):
        integrators.dopri5(linear, 0.0, 1.0, X0, dt0=-0.1)


def test_stepping_strategies_solve_a_linear_ode():
    # dx/dt = A x on [0, 1]: x(1) = expm(A) x0. fixed(rk4, 32 steps): global error ~ h^4 ~ 1e-6;
    # adaptive(1e-7, 1e-7): ~1e-6 in float32. Both report finiteness / convergence.
    a = jnp.array([[-0.5, 1.0], [-1.0, -0.2]])
    x0 = jnp.array([[1.0, 0.5], [-0.3, 2.0]])
    exact = x0 @ jnp.asarray(scipy.linalg.expm(np.asarray(a, np.float64)), jnp.float32).T
    field = lambda t, x: x @ a.T
    for stepping in (integrators.fixed(integrators.rk4(), 32), integrators.adaptive(1e-7, 1e-7)):
        x1, info = stepping.solve(field, 0.0, 1.0, x0)
        assert bool(info.converged) and int(info.nfe) > 0
        np.testing.assert_allclose(x1, exact, atol=2e-5)
    _, info = integrators.adaptive(1e-7, 1e-7, max_steps=2).solve(field, 0.0, 1.0, x0)
    assert not bool(info.converged)
    with pytest.raises(ValueError, match="increase"):
        integrators.fixed(ts=jnp.array([1.0, 0.5, 0.0])).solve(field, 0.0, 1.0, x0)
