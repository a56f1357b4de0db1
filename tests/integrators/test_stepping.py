"""Stepping strategies (genjax/integrators/stepping.py): fixed and adaptive on dx/dt = A x."""
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import pytest

from genjax import integrators
from tests.integrators.linear_ode import A, T, exact


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
