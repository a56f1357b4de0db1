"""Invalid input raises a clear ValueError / TypeError before tracing, naming the argument."""
import jax
import jax.numpy as jnp
import pytest

from genjax import fixedpoint
from genjax.fixedpoint import cells

CELL = cells.gru
PARAMS = CELL.init(3, 4, jax.random.key(0))
H0 = jnp.zeros(4)
XS = jnp.ones((10, 3))


@pytest.mark.parametrize("kwargs,match", [
    (dict(h0=jnp.zeros(5)), "h0"),                               # state size != params
    (dict(h0=jnp.zeros((2, 4))), "h0 must have shape"),
    (dict(h0=jnp.array([0.0, jnp.nan, 0.0, 0.0])), "non-finite"),
    (dict(h0=jnp.array([0.0, jnp.inf, 0.0, 0.0])), "non-finite"),
    (dict(xs=jnp.ones((0, 3))), "T = 0"),
    (dict(xs=jnp.ones((10, 5))), "step_fn"),                      # input size != params
    (dict(xs=(jnp.ones((10, 3)), jnp.ones((9, 3)))), "different leading axes"),
    (dict(xs=jnp.float32(1.0)), "leading time axis"),
    (dict(max_iters=0), "max_iters"),
    (dict(num_iters=0), "num_iters"),
    (dict(max_iters=5, num_iters=5), "not both"),
    (dict(tol=0.0), "tol"),
    (dict(tol=-1e-3), "tol"),
    (dict(tol=float("nan")), "tol"),
    (dict(init=jnp.zeros((9, 4))), "init"),
    (dict(method=fixedpoint.quasi_newton(num_probes=8)), "needs `key`"),
])
def test_invalid_input_raises_value_error(kwargs, match):
    args = dict(h0=H0, xs=XS, method=fixedpoint.newton())
    args.update(kwargs)
    h0, xs, method = args.pop("h0"), args.pop("xs"), args.pop("method")
    step = CELL.step
    if isinstance(xs, tuple):
        step = lambda h, x, p: CELL.step(h, x[0], p)  # noqa: E731
    with pytest.raises(ValueError, match=match):
        fixedpoint.solve(step, h0, xs, PARAMS, method, **args)


@pytest.mark.parametrize("kwargs,match", [
    (dict(max_iters=2.5), "max_iters"),
    (dict(tol="small"), "tol"),
    (dict(method="newton"), "method"),
])
def test_wrong_types_raise_type_error(kwargs, match):
    method = kwargs.pop("method", fixedpoint.newton())
    with pytest.raises(TypeError, match=match):
        fixedpoint.solve(CELL.step, H0, XS, PARAMS, method, **kwargs)


def test_step_output_shape_is_checked():
    with pytest.raises(ValueError, match="must return"):
        fixedpoint.solve(lambda h, x, p: jnp.concatenate([h, h]), H0, XS, None)


def test_method_factories_validate_their_arguments():
    with pytest.raises(ValueError, match="strength"):
        fixedpoint.damped(-1.0)
    with pytest.raises(TypeError, match="strength"):
        fixedpoint.damped(jnp.asarray(0.1))
    with pytest.raises(ValueError, match="sequential"):
        fixedpoint.damped(0.1, fixedpoint.sequential())
    with pytest.raises(ValueError, match="num_probes"):
        fixedpoint.quasi_newton(num_probes=0)
    with pytest.raises(ValueError, match="give one of"):
        fixedpoint.quasi_newton(cells.gru.diagonal, value_and_diagonal=cells.gru.value_and_diagonal)
    with pytest.raises(ValueError, match="n_hidden"):
        cells.lstm.init(3, 0, jax.random.key(0))


@pytest.mark.parametrize("call, match", [
    (lambda: fixedpoint.newton(3), r"newton: jacobian must be callable \(h, x, params\) -> \[n, n\], got int"),
    (lambda: fixedpoint.quasi_newton(diagonal=3), r"quasi_newton: diagonal must be callable \(h, x, params\)"),
    (lambda: fixedpoint.quasi_newton(value_and_diagonal=3), r"quasi_newton: value_and_diagonal must be callable"),
    (lambda: fixedpoint.solve(3, H0, XS, PARAMS), r"solve: step_fn must be callable, got int"),
    (lambda: fixedpoint.solve_ode(3, H0, jnp.linspace(0.0, 1.0, 4), None), r"solve_ode: f must be callable \(y, t"),
])
def test_a_function_argument_that_is_not_callable_is_named(call, match):
    # One check (checks.callable_arg) for every user-supplied function: TypeError naming it.
    with pytest.raises(TypeError, match=match):
        call()


def test_validation_happens_inside_jit_and_vmap_on_shapes():
    # Shape errors are static, so they are raised at trace time even under jit / vmap.
    with pytest.raises(ValueError, match="T = 0"):
        jax.jit(lambda xs: fixedpoint.solve(CELL.step, H0, xs, PARAMS))(jnp.ones((0, 3)))
    with pytest.raises(ValueError, match="h0 must have shape"):
        jax.vmap(lambda h: fixedpoint.solve(CELL.step, h, XS, PARAMS))(jnp.zeros((2, 3, 4)))
