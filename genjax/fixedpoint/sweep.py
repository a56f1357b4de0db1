"""One DEER sweep, as the paper writes it: ``newton_sweep(step_fn, hs, h0, xs, params)``.

The recurrence h_t = f(h_{t-1}, x_t), t = 1..T, is the root of r_t(h) = h_t - f(h_{t-1}, x_t).
Linearising f at the current iterate h^(k) (Lim et al. 2024, eqs. 5-7):

    A_t = d f / d h (h^(k)_{t-1}, x_t)                          (eq. 6: the Jacobian, [n, n])
    b_t = f(h^(k)_{t-1}, x_t) - A_t h^(k)_{t-1}                  (eq. 7)
    h^(k+1)_t = A_t h^(k+1)_{t-1} + b_t,   h^(k+1)_0 = h_0        (eq. 5: a linear recurrence)

``newton_sweep`` is the function ``solve`` runs for every method: the method only changes how
A_t is made (``newton()``: J; ``quasi_newton()``: diag J; ``picard()``: I; ``jacobi()``: 0) and
how the linear recurrence is solved (``linear_scan``; ``damped()``: a Kalman filter).

Containment of non-finite values, per time step t (cheap: only [T, n] arrays are tested):
  1. a non-finite b_t (which is what a non-finite f_t or A_t makes) -> that step is
     linearised with A_t = 0 and b_t = f_t if finite, else h^(k)_t (a Jacobi step);
  2. a non-finite solved h^(k+1)_t (overflow in the scan) is replaced the same way.
The iterate stays finite, an exact prefix stays exact, and a NaN the step function makes far
from the solution cannot poison the answer.

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR), eqs. (5)-(7); Gonzalez et al. 2024, "Towards Scalable and Stable
Parallelization of Nonlinear RNNs" (NeurIPS).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

from genjax.fixedpoint.linear_scan import matvec
from genjax.fixedpoint.methods import newton
from genjax.fixedpoint.strategy import Method

Array = jax.Array


def shift(hs: Array, h0: Array) -> Array:
    """[h_0, h_1, ..., h_{T-1}]: the previous state of every step.  hs: [T, n], h0: [n]."""
    return jnp.concatenate([h0[None].astype(hs.dtype), hs[:-1]], axis=0)


def _finite_rows(x: Array) -> Array:
    """[T, 1] True where every entry of row t is finite."""
    return jnp.all(jnp.isfinite(x), axis=1, keepdims=True)


def contained_solve(solve_linear: Callable, A: Array, b: Array, f: Array, h0: Array,
                    hs: Array) -> Array:
    """``solve_linear(A, b, h0, hs)`` with non-finite rows of b or of the result replaced."""
    replacement = jnp.where(_finite_rows(f), f, hs)
    ok = _finite_rows(b)                                                   # [T, 1]
    A = jnp.where(ok.reshape(ok.shape[:1] + (1,) * (A.ndim - 1)), A, 0.0)
    hs_new = solve_linear(A, jnp.where(ok, b, replacement), h0, hs)
    return jnp.where(_finite_rows(hs_new), hs_new, replacement)


def newton_sweep(step_fn: Callable, hs: Array, h0: Array, xs, params,
                 method: Optional[Method] = None, key: Optional[Array] = None):
    """One sweep h^(k) -> h^(k+1) of DEER (eqs. 5-7 above), with ``method``'s A_t.

    Args:
      step_fn: ``(h_prev [n], x_t, params) -> h_t [n]``.
      hs: [T, n] current iterate h^(k)_1..h^(k)_T; h0: [n] the fixed initial state.
      xs: pytree of inputs with leading axis T; params: passed to ``step_fn``.
      method: a ``fixedpoint`` method (default ``newton()``); key: for stochastic methods.

    Returns:
      (hs_new [T, n], f [T, n]) where f_t = f(h^(k)_{t-1}, x_t), so hs - f is the residual
      of the input iterate.

    References: Lim et al. 2024, "DEER" (ICLR), eqs. (5)-(7).
    """
    method = newton() if method is None else method
    h_prev = shift(hs, h0)                                                 # h^(k)_{t-1}

    def linearize(h, x, k):                                                # (f_t, A_t)  eq. 6
        return method.linearize(lambda v: step_fn(v, x, params), h, x, params, k)

    keys = None if key is None else jax.random.split(key, hs.shape[0])
    f, A = jax.vmap(linearize, in_axes=(0, 0, None if key is None else 0))(h_prev, xs, keys)
    b = f - matvec(A, h_prev)                                              # eq. 7
    hs_new = contained_solve(method.solve_linear, A, b, f, h0, hs)         # eq. 5
    return hs_new, f
