"""Adaptive Dormand-Prince (genjax/integrators/adaptive.py): tolerance, status values, argument checks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import integrators
from tests.integrators.linear_ode import A, X0, T, linear, exact


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


@pytest.mark.parametrize("kwargs, match", [
    pytest.param({"max_steps": 0}, "max_steps", id="max_steps"),
    pytest.param({"rtol": -1.0}, "rtol", id="rtol"),
    pytest.param({"rtol": 0.0, "atol": 0.0}, "both be 0", id="zero_tolerances"),
    pytest.param({"dt0": -0.1}, "dt0", id="dt0"),
])
def test_dopri5_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        integrators.dopri5(linear, 0.0, 1.0, X0, **kwargs)
