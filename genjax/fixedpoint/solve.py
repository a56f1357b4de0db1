"""``solve``: evaluate h_t = step_fn(h_{t-1}, x_t, params), t = 1..T, in parallel over t.

    hs, info = solve(step_fn, h0, xs, params, method=newton(), max_iters=..., tol=..., rtol=...)

The recurrence is the root of r_t(hs) = h_t - f(h_{t-1}, x_t). Each sweep is
``sweep.newton_sweep`` (DEER's eqs. 5-7 with the method's A_t), the loop and its stopping rule
are ``iteration.iterate``, and gradients with respect to ``h0``, ``xs`` and ``params`` (and
arrays ``step_fn`` closes over) come from implicit differentiation at the solution
(``implicit.py``). Batching is ``jax.vmap`` over ``solve``. Arguments are checked in
``checks.py``. Sliding windows (ParaDiGMS) are the separate entry point ``solve_window``.

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR); Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of Nonlinear
RNNs" (NeurIPS); Danieli et al. 2025, "ParaRNN" (fixed-iteration Newton for training).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax import lax

from genjax.fixedpoint import checks
from genjax.fixedpoint.implicit import evaluate, with_implicit_gradient
from genjax.fixedpoint.iteration import iterate
from genjax.fixedpoint.methods import newton
from genjax.fixedpoint.strategy import Info, Method
from genjax.fixedpoint.sweep import newton_sweep, shift

Array = jax.Array


def sequential_scan(step: Callable, h0: Array, xs, params) -> Array:
    """The reference: hs [T, n] by ``lax.scan`` (O(T) depth)."""
    def body(h, x):
        h = step(h, x, params).astype(h0.dtype)
        return h, h

    _, hs = lax.scan(body, h0, xs)
    return hs


def closure_converted(step_fn: Callable, h0: Array, xs, params):
    """(step(h, x, P), P): arrays ``step_fn`` closes over hoisted into P = (params, consts),
    so that implicit differentiation gives them gradients too."""
    x0 = jax.tree_util.tree_map(lambda a: a[0], xs)
    converted, consts = jax.closure_convert(step_fn, h0, x0, params)

    def step(h, x, P):
        return converted(h, x, P[0], *P[1]).astype(h.dtype)

    return step, (params, list(consts))


def on_user_params(method: Method) -> Method:
    """``method`` whose linearize receives P = (params, consts) and hands the user's params on
    (a closed-form ``diagonal(h, x, params)`` sees the params it was written for)."""
    lin = method.linearize
    return method._replace(linearize=lambda fn, h, x, P, k: lin(fn, h, x, P[0], k))


def solve(step_fn: Callable, h0: Array, xs, params, method: Optional[Method] = None, *,
          max_iters: Optional[int] = None, tol: Optional[float] = None,
          rtol: Optional[float] = None, init: Optional[Array] = None,
          num_iters: Optional[int] = None, key: Optional[Array] = None):
    """Solves h_t = step_fn(h_{t-1}, x_t, params) for t = 1..T by parallel fixed-point sweeps.

    Each sweep solves the linearised recurrence h_t = A_t h_{t-1} + f(h^(k)_{t-1}, x_t)
    - A_t h^(k)_{t-1} (``newton_sweep``); ``method`` chooses A_t (J, diag J, I, 0).

    Args:
      step_fn: pure ``(h_prev [n], x_t, params) -> h_t [n]``.
      h0: [n] initial state (finite).
      xs: pytree of inputs, every leaf with leading axis T >= 1.
      params: pytree passed unchanged to ``step_fn``.
      method: a ``fixedpoint`` method; default ``newton()``.
      max_iters: cap on sweeps; default min(T + 1, 100) (T sweeps make every undamped method
        exact, one more confirms it).
      tol, rtol: stop when every entry of the update and of the residual is <= tol + rtol |h|;
        tol defaults to 1e-5 (float32) / 1e-10 (float64), rtol to tol. The DEER reference
        code's rule is tol=1e-4, rtol=1e-3.
      init: [T, n] initial guess (warm start); default h0 repeated T times.
      num_iters: fixed-iteration mode: run exactly this many sweeps (no early exit;
        ParaRNN-style for training). Exclusive with ``max_iters``.
      key: PRNG key, needed only by stochastic methods (``quasi_newton(num_probes=m)``).

    Returns:
      hs: [T, n] with hs[t - 1] = h_t, and ``Info(converged, num_iters, residual, fell_back)``.

    Raises:
      ValueError / TypeError before tracing for mismatched shapes, T = 0, non-finite h0,
      max_iters or num_iters < 1, tol <= 0, rtol < 0, or a stochastic method without ``key``.

    References: Lim et al. 2024, "DEER" (ICLR); Gonzalez et al. 2024, "ELK" (NeurIPS).
    """
    method = newton() if method is None else method
    h0, T, max_iters, tol, rtol = checks.check_solve(
        "solve", step_fn, h0, xs, params, method, max_iters, tol, rtol, init, num_iters, key)
    if method.linearize is None:
        hs = sequential_scan(step_fn, h0, xs, params)
        zero = jnp.zeros((), h0.dtype)
        return hs, Info(jnp.all(jnp.isfinite(hs)), jnp.asarray(1, jnp.int32), zero,
                        jnp.asarray(False))
    step, P = closure_converted(step_fn, h0, xs, params)
    method = on_user_params(method)

    def forward(h0, xs, P, init, key):
        hs_init = jnp.broadcast_to(h0, (T, h0.shape[0])) if init is None else init
        hs, info = iterate(
            lambda hs, k: newton_sweep(step, hs, h0, xs, P, method, k),
            lambda hs: hs - evaluate(step, shift(hs, h0), xs, P),
            jnp.asarray(hs_init, h0.dtype), max_iters=max_iters, tol=tol, rtol=rtol,
            num_iters=num_iters, key=key)
        return method.finalize(hs, info, lambda: sequential_scan(step, h0, xs, P))

    return with_implicit_gradient(forward, step)(h0, xs, P, init, key)
