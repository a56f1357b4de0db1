"""The sweep loop shared by ``solve`` (recurrences) and ``solve_ode`` (ODEs on a grid).

One sweep linearises the recurrence at the iterate hs^(k) as hs_t = A_t hs_{t-1} + b_t, solves
it with the method's linear solver and measures

    residual(hs) = max_t |hs_t - f_t(hs)|_inf / max(1, max|hs|)      (f_t: the explicit value)
    update       = max_t |hs^(k+1)_t - hs^(k)_t|_inf / max(1, max|hs|).

The loop (``lax.while_loop``) stops once both are <= tol, or after ``max_iters`` sweeps; in
fixed-iteration mode (``lax.fori_loop``) it runs exactly ``num_iters`` sweeps. ``converged`` is
then re-checked on the *returned* iterate: last update <= tol and its own residual <= tol. The
residual certifies that hs satisfies the recurrence; for Newton the update is also the
first-order estimate of the remaining error, so ill-conditioned (chaotic) problems whose
linearised solve is garbage are not flagged as converged.

Containment of non-finite values (NaN / inf), applied per time step t in every sweep:
  1. if A_t or b_t is non-finite, that step is linearised with A_t = 0 (a Jacobi step);
  2. if the solved hs^(k+1)_t is non-finite (overflow in the scan), it is replaced too;
  a replaced step takes the explicit value f_t(hs^(k)) when finite, else keeps hs^(k)_t.
The iterate therefore stays finite, the prefix that is already exact stays exact, and a NaN
that the step function produces far from the solution cannot poison the answer. If the
recurrence itself yields non-finite values the residual is NaN and ``converged`` is False.

References: Lim et al. 2024, "DEER" (ICLR); Gonzalez et al. 2024, "Towards Scalable and Stable
Parallelization of Nonlinear RNNs" (NeurIPS).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax import lax

from genjax.fixedpoint.methods import Info

Array = jax.Array


def default_tol(dtype) -> float:
    """1e-5 in float32 (about 100 ulp of an O(1) state), 1e-10 in float64."""
    return 1e-10 if jnp.finfo(dtype).bits >= 64 else 1e-5


def shift(hs: Array, h0: Array) -> Array:
    """[h_0, h_1, ..., h_{T-1}]: the previous state of every step.  hs: [T, n], h0: [n]."""
    return jnp.concatenate([h0[None].astype(hs.dtype), hs[:-1]], axis=0)


def _finite_rows(x: Array) -> Array:
    """[T] True where every entry of row t is finite (any trailing shape)."""
    return jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)


def _scale(hs: Array) -> Array:
    return jnp.maximum(1.0, jnp.max(jnp.abs(hs)))


def sweep(linearize_all: Callable, solve_linear: Callable, h0: Array, hs: Array,
          key: Optional[Array]):
    """One contained sweep. Returns (hs_new [T, n], residual(hs) [], update [])."""
    A, b, explicit = linearize_all(hs, key)
    explicit_ok = _finite_rows(explicit)[:, None]
    replacement = jnp.where(explicit_ok, explicit, hs)
    bad = ~(_finite_rows(A) & _finite_rows(b))
    A = jnp.where(bad.reshape((-1,) + (1,) * (A.ndim - 1)), jnp.zeros_like(A), A)
    b = jnp.where(bad[:, None], replacement, b)
    hs_new = solve_linear(A, b, h0, hs)
    hs_new = jnp.where(_finite_rows(hs_new)[:, None], hs_new, replacement)
    scale = _scale(hs)
    residual = jnp.max(jnp.abs(hs - explicit)) / scale
    update = jnp.max(jnp.abs(hs_new - hs)) / scale
    return hs_new, residual, update


def iterate(linearize_all: Callable, residual_of: Callable, solve_linear: Callable,
            h0: Array, hs_init: Array, *, max_iters: int, tol: float,
            num_iters: Optional[int], key: Optional[Array]):
    """Runs sweeps from ``hs_init`` [T, n]; returns (hs [T, n], Info).

    Args:
      linearize_all: ``(hs, key) -> (A [T, ...], b [T, n], explicit [T, n])``.
      residual_of: ``hs -> max_t |hs_t - explicit_t(hs)|`` (unnormalised).
      solve_linear: the method's ``(A, b, h0, hs) -> hs_new``.
      h0: [n]; hs_init: [T, n] initial guess.
      max_iters: cap on sweeps (early-stopping mode).
      tol: tolerance on the relative residual and update.
      num_iters: if not None, run exactly this many sweeps (fixed-iteration mode).
      key: base PRNG key (sweep k uses ``fold_in(key, k)``) or None.
    """
    dtype = hs_init.dtype
    inf = jnp.asarray(jnp.inf, dtype)

    def body(k, hs):
        sweep_key = None if key is None else jax.random.fold_in(key, k)
        return sweep(linearize_all, solve_linear, h0, hs, sweep_key)

    if num_iters is not None:
        def fixed_body(k, carry):
            hs, _, _ = carry
            return body(k, hs)

        hs, _, update = lax.fori_loop(0, num_iters, fixed_body, (hs_init, inf, inf))
        k = jnp.asarray(num_iters, jnp.int32)
    else:
        def cond(carry):
            k, _, residual, update = carry
            return (k < max_iters) & ~((residual <= tol) & (update <= tol))

        def loop_body(carry):
            k, hs, _, _ = carry
            hs, residual, update = body(k, hs)
            return k + 1, hs, residual, update

        k, hs, _, update = lax.while_loop(
            cond, loop_body, (jnp.asarray(0, jnp.int32), hs_init, inf, inf))
    residual = residual_of(hs) / _scale(hs)
    converged = (update <= tol) & (residual <= tol)
    return hs, Info(converged, k, residual, jnp.asarray(False))
