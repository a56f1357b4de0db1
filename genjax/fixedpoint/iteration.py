"""The sweep loop shared by ``solve`` (recurrences) and ``solve_ode`` (ODEs on a grid).

Stopping rule (per entry, like an ODE solver's atol / rtol): sweep k maps h^(k) to h^(k+1)
and gives the residual of its input, r^(k) = h^(k) - f(h^(k)). One fused test per sweep,

    done_k = all_{t,i} ( |h^(k+1) - h^(k)| <= tol + rtol |h^(k+1)| )
           & all_{t,i} ( |r^(k)| <= tol + rtol |h^(k)| ),

ends the ``lax.while_loop`` (or ``max_iters`` sweeps; ``num_iters`` runs a fixed number in a
``lax.fori_loop``). ``tol = 1e-4, rtol = 1e-3`` is the stopping rule of the DEER reference
code. ``converged`` is re-checked on the *returned* iterate: its last update and its own
residual (one more evaluation of f, no linearisation) must pass the same test. For Newton the
update is the first-order estimate of the remaining error, so ill-conditioned (chaotic)
problems whose linearised solves are garbage are not flagged as converged.

References: Lim et al. 2024, "DEER" (ICLR); Gonzalez et al. 2024, "Towards Scalable and Stable
Parallelization of Nonlinear RNNs" (NeurIPS).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax import lax

from genjax.fixedpoint.strategy import Info

Array = jax.Array


def within(err: Array, h: Array, tol: float, rtol: float) -> Array:
    """bool []: every |err| <= tol + rtol |h| (NaN fails)."""
    return jnp.all(jnp.abs(err) <= tol + rtol * jnp.abs(h))


def iterate(sweep: Callable, residual_of: Callable, hs_init: Array, *, max_iters: int,
            tol: float, rtol: float, num_iters: Optional[int], key: Optional[Array]):
    """Runs sweeps from ``hs_init`` [T, n]; returns (hs [T, n], Info).

    Args:
      sweep: ``(hs, key) -> (hs_new, f)`` with f the explicit values at hs (``newton_sweep``).
      residual_of: ``hs -> hs - f(hs)`` [T, n].
      hs_init: [T, n] initial guess.
      max_iters: cap on sweeps (early-stopping mode).
      tol, rtol: the per-entry stopping rule above.
      num_iters: if not None, run exactly this many sweeps (fixed-iteration mode).
      key: base PRNG key (sweep k uses ``fold_in(key, k)``) or None.
    """
    def body(k, hs):
        hs_new, f = sweep(hs, None if key is None else jax.random.fold_in(key, k))
        update_ok = within(hs_new - hs, hs_new, tol, rtol)
        return hs_new, update_ok, update_ok & within(hs - f, hs, tol, rtol)

    false = jnp.asarray(False)
    if num_iters is not None:
        hs, update_ok, _ = lax.fori_loop(0, num_iters, lambda k, c: body(k, c[0]),
                                         (hs_init, false, false))
        k = jnp.asarray(num_iters, jnp.int32)
    else:
        def loop_body(carry):
            k, hs, _, _ = carry
            return (k + 1,) + body(k, hs)

        k, hs, update_ok, _ = lax.while_loop(
            lambda c: (c[0] < max_iters) & ~c[3], loop_body,
            (jnp.asarray(0, jnp.int32), hs_init, false, false))
    r = residual_of(hs)
    converged = update_ok & within(r, hs, tol, rtol)
    return hs, Info(converged, k, jnp.max(jnp.abs(r)), false)
