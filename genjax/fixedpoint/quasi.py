"""quasi-DEER: the fixed-point method whose A_t is the diagonal of the Jacobian.

    quasi_newton(value_and_diagonal=cells.gru.value_and_diagonal)   # one gate evaluation
    quasi_newton(cells.gru.diagonal)                                # closed-form diagonal
    quasi_newton()                                                  # exact, n JVPs, any cell
    quasi_newton(num_probes=m)                                      # Hutchinson, needs a key

A_t = diag J_t is [n] per step, so a sweep holds O(T n) numbers and its linear recurrence is
elementwise (``linear_scan`` with diagonal A). The factory is memoised like every ``Method``.

References: Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of Nonlinear
RNNs" (NeurIPS), section 4.1 (quasi-DEER); Bekas et al. 2007, "An estimator for the diagonal
of a matrix" (Hutchinson's diagonal).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax import lax

from genjax._memo import memoized
from genjax.fixedpoint.checks import callable_arg
from genjax.fixedpoint.strategy import Method, identity_finalize, scan_solve


@memoized
def quasi_newton(diagonal: Optional[Callable] = None, num_probes: Optional[int] = None, *,
                 value_and_diagonal: Optional[Callable] = None) -> Method:
    """quasi-DEER: A_t = diag J_t, never forming the dense Jacobian.

    The diagonal comes from, in this order of preference:

    - ``value_and_diagonal(h, x, params) -> (f(h) [n], diag J [n])`` when given
      (``cells.*.value_and_diagonal``): the step and its diagonal from one evaluation of the
      cell's gates, so a sweep evaluates the cell once per step;
    - ``diagonal(h, x, params) -> [n]`` when given (``cells.*.diagonal``, closed form, O(n^2) per
      step); the step is then evaluated beside it;
    - by default, exactly from n Jacobian-vector products per step against the basis vectors,
      (J_t)_ii = (J_t e_i)_i, run one after another (``lax.fori_loop``) so each step holds O(n)
      numbers at a time, never the [n, n] Jacobian: peak memory O(T n), work O(n) step costs;
    - with ``num_probes=m``, Hutchinson's stochastic estimate diag J ~ (1/m) sum_i v_i * (J v_i),
      Rademacher v_i: m JVPs per step and sweep, for large n (``solve`` then needs ``key``).

    An inexact diagonal only slows convergence: the fixed point of (*) does not depend on A_t.

    References: Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of Nonlinear
    RNNs" (NeurIPS), section 4.1; Bekas et al. 2007, "An estimator for the diagonal of a matrix".
    """
    given = [name for name, value in (("diagonal", diagonal), ("num_probes", num_probes),
                                      ("value_and_diagonal", value_and_diagonal))
             if value is not None]
    if len(given) > 1:
        raise ValueError(f"quasi_newton: give one of diagonal= (closed form), value_and_diagonal= "
                         f"(fused closed form) or num_probes= (Hutchinson), got {given}.")
    if value_and_diagonal is not None:
        callable_arg("quasi_newton", "value_and_diagonal", value_and_diagonal,
                     "(h, x, params) -> (f [n], diag [n])")

        def linearize_fused(fn, h, x, params, key):
            del fn, key
            return value_and_diagonal(h, x, params)

        return Method("quasi_newton(value_and_diagonal)", linearize_fused, scan_solve,
                      identity_finalize)

    if diagonal is not None:
        callable_arg("quasi_newton", "diagonal", diagonal, "(h, x, params) -> [n]")

        def linearize(fn, h, x, params, key):
            del key
            return fn(h), diagonal(h, x, params)

        return Method("quasi_newton", linearize, scan_solve, identity_finalize)

    if num_probes is None:
        return Method("quasi_newton(exact)", _exact_diagonal, scan_solve, identity_finalize)

    if not isinstance(num_probes, int) or isinstance(num_probes, bool) or num_probes < 1:
        raise ValueError(f"quasi_newton: num_probes must be an int >= 1, got {num_probes!r}.")

    def linearize_stochastic(fn, h, x, params, key):
        del x, params
        f, jvp = jax.linearize(fn, h)
        v = jax.random.rademacher(key, (num_probes,) + h.shape, dtype=h.dtype)
        return f, jnp.mean(v * jax.vmap(jvp)(v), axis=0)

    return Method(f"quasi_newton(probes={num_probes})", linearize_stochastic, scan_solve,
                  identity_finalize, needs_key=True)


def _exact_diagonal(fn, h, x, params, key):
    """(f(h), diag J) by n JVPs against e_1..e_n, one at a time: O(n) memory, no [n, n]."""
    del x, params, key
    f, jvp = jax.linearize(fn, h)
    n = h.shape[0]

    def column(i, diag):
        hot = jnp.arange(n) == i
        return jnp.where(hot, jvp(hot.astype(h.dtype)), diag)    # entry i <- (J e_i)_i

    return f, lax.fori_loop(0, n, column, jnp.zeros_like(h))
