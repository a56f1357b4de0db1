"""integrate() (genjax/integrators/base.py): argument checks before tracing."""
import jax.numpy as jnp
import pytest

from genjax import integrators
from tests.integrators.linear_ode import X0, linear


@pytest.mark.parametrize("error, solver, ts, match", [
    pytest.param(ValueError, integrators.euler(), jnp.array([0.0, 1.0, 0.5]), "monotone|increasing", id="monotone"),
    pytest.param(ValueError, integrators.euler(), jnp.zeros((2, 3)), "1-D", id="rank"),
    pytest.param(TypeError, object(), jnp.linspace(0, 1, 3), "Solver", id="solver_type"),
])
def test_integrate_rejects_bad_input(error, solver, ts, match):
    with pytest.raises(error, match=match):
        integrators.integrate(linear, solver, ts, X0)
