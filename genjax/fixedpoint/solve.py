"""``solve``: evaluate h_t = step_fn(h_{t-1}, x_t, params), t = 1..T, in parallel over t.

    hs, info = solve(step_fn, h0, xs, params, method=newton(), max_iters=..., tol=...)

The recurrence is the root of r_t(hs) = h_t - f(h_{t-1}, x_t); the method's sweeps (see
``methods.py``) find it with linear scans of depth O(log T), the sweep loop and the
containment of non-finite values live in ``iteration.py``, and gradients with respect to
``h0``, ``xs`` and ``params`` (and arrays ``step_fn`` closes over) come from implicit
differentiation at the solution (``implicit.py``). Batching is ``jax.vmap`` over ``solve``.

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR); Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of Nonlinear
RNNs" (NeurIPS); Danieli et al. 2025, "ParaRNN" (fixed-iteration Newton for training).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from genjax.fixedpoint.implicit import evaluate, with_implicit_gradient
from genjax.fixedpoint.iteration import default_tol, iterate, shift
from genjax.fixedpoint.linear_scan import matvec
from genjax.fixedpoint.methods import Info, Method, newton

Array = jax.Array

MAX_ITERS_CAP = 100


def sequential_scan(step: Callable, h0: Array, xs, params) -> Array:
    """The reference: hs [T, n] by ``lax.scan`` (O(T) depth)."""
    def body(h, x):
        h = step(h, x, params).astype(h0.dtype)
        return h, h

    _, hs = lax.scan(body, h0, xs)
    return hs


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"solve: {name} must be a Python int, got {type(value).__name__}.")
    if value < 1:
        raise ValueError(f"solve: {name} must be >= 1, got {value}.")
    return int(value)


def _validate(step_fn, h0, xs, params, method, max_iters, tol, init, num_iters, key):
    """Checks every argument before tracing; returns (h0, T, max_iters, tol)."""
    if not callable(step_fn):
        raise TypeError(f"solve: step_fn must be callable, got {type(step_fn).__name__}.")
    if not isinstance(method, Method):
        raise TypeError(f"solve: method must be a fixedpoint.Method (e.g. fixedpoint.newton()), "
                        f"got {type(method).__name__}.")
    h0 = jnp.asarray(h0)
    if h0.ndim != 1 or h0.shape[0] == 0:
        raise ValueError(f"solve: h0 must have shape [n] with n >= 1, got {h0.shape}.")
    if not jnp.issubdtype(h0.dtype, jnp.floating):
        raise TypeError(f"solve: h0 must be floating point, got dtype {h0.dtype}.")
    if _is_concrete(h0) and not bool(np.all(np.isfinite(np.asarray(h0)))):
        raise ValueError("solve: h0 contains non-finite values (NaN or inf).")
    leaves = jax.tree_util.tree_leaves(xs)
    if not leaves:
        raise ValueError("solve: xs must hold at least one array with leading axis T.")
    lengths = set()
    for leaf in leaves:
        shape = np.shape(leaf)
        if len(shape) == 0:
            raise ValueError("solve: every leaf of xs needs a leading time axis T; got a scalar.")
        lengths.add(shape[0])
    if len(lengths) > 1:
        raise ValueError(f"solve: the leaves of xs have different leading axes {sorted(lengths)}; "
                         "all must share the sequence length T.")
    T = lengths.pop()
    if T == 0:
        raise ValueError("solve: xs has T = 0 time steps; need T >= 1.")
    x0 = jax.tree_util.tree_map(lambda a: a[0], xs)
    try:
        out = jax.eval_shape(step_fn, h0, x0, params)
    except Exception as err:  # re-raised with the arguments named
        raise ValueError(f"solve: step_fn(h0, xs[0], params) failed for h0 of shape {h0.shape}: "
                         f"{err}. Check that h0, xs and params have matching shapes.") from err
    if not hasattr(out, "shape") or tuple(out.shape) != h0.shape:
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"solve: step_fn(h_prev, x_t, params) must return an array of the shape "
                         f"of h0 {h0.shape}, got {shape}.")
    if max_iters is not None and num_iters is not None:
        raise ValueError("solve: give either max_iters (stop at tol) or num_iters (fixed "
                         "number of sweeps), not both.")
    max_iters = min(T + 1, MAX_ITERS_CAP) if max_iters is None else _positive_int(
        "max_iters", max_iters)
    if num_iters is not None:
        _positive_int("num_iters", num_iters)
    if tol is None:
        tol = default_tol(h0.dtype)
    elif isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)):
        raise TypeError(f"solve: tol must be a Python float, got {type(tol).__name__}.")
    elif not math.isfinite(tol) or tol <= 0:
        raise ValueError(f"solve: tol must be finite and > 0, got {tol!r}.")
    if init is not None and np.shape(init) != (T, h0.shape[0]):
        raise ValueError(f"solve: init (the initial guess) must have shape [T, n] = "
                         f"{(T, h0.shape[0])}, got {np.shape(init)}.")
    if method.needs_key and key is None:
        raise ValueError(f"solve: method {method.name} draws random probes and needs `key` "
                         "(pass key=jax.random.key(...), or give quasi_newton a diagonal=).")
    return h0, T, max_iters, float(tol)


def solve(step_fn: Callable, h0: Array, xs, params, method: Optional[Method] = None, *,
          max_iters: Optional[int] = None, tol: Optional[float] = None,
          init: Optional[Array] = None, num_iters: Optional[int] = None,
          key: Optional[Array] = None):
    """Solves h_t = step_fn(h_{t-1}, x_t, params) for t = 1..T by parallel fixed-point sweeps.

    Each sweep solves the linearised recurrence h_t = A_t h_{t-1} + f(h^(k)_{t-1}, x_t)
    - A_t h^(k)_{t-1} with an associative scan; ``method`` chooses A_t (J, diag J, I, 0).

    Args:
      step_fn: pure ``(h_prev [n], x_t, params) -> h_t [n]``.
      h0: [n] initial state (finite).
      xs: pytree of inputs, every leaf with leading axis T >= 1.
      params: pytree passed unchanged to ``step_fn``.
      method: a ``fixedpoint`` method; default ``newton()``.
      max_iters: cap on sweeps; default min(T + 1, 100) (T sweeps make every undamped method
        exact, one more confirms it).
      tol: tolerance on the relative residual and update; default 1e-5 (float32) / 1e-10
        (float64).
      init: [T, n] initial guess (warm start); default h0 repeated T times.
      num_iters: fixed-iteration mode: run exactly this many sweeps (no early exit;
        ParaRNN-style for training). Exclusive with ``max_iters``.
      key: PRNG key, needed only by stochastic methods (``quasi_newton()`` without a diagonal).

    A method with a ``window`` (``picard(window=8)``) runs ``window.solve_window`` instead.

    Returns:
      hs: [T, n] with hs[t - 1] = h_t, and ``Info(converged, num_iters, residual, fell_back)``.

    Raises:
      ValueError / TypeError before tracing for mismatched shapes, T = 0, non-finite h0,
      max_iters or num_iters < 1, tol <= 0, or a stochastic method without ``key``.

    References: Lim et al. 2024, "DEER" (ICLR); Gonzalez et al. 2024, "ELK" (NeurIPS).
    """
    method = newton() if method is None else method
    if isinstance(method, Method) and method.window is not None:
        from genjax.fixedpoint.window import solve_window  # sliding window (imports this module)
        return solve_window(step_fn, h0, xs, params, method, max_iters=max_iters, tol=tol,
                            init=init, num_iters=num_iters, key=key)
    tol = getattr(method, "tol", None) if tol is None else tol   # e.g. picard(tol=...)
    h0, T, max_iters, tol = _validate(step_fn, h0, xs, params, method, max_iters, tol, init,
                                      num_iters, key)
    if method.linearize is None:
        hs = sequential_scan(step_fn, h0, xs, params)
        ok = jnp.all(jnp.isfinite(hs))
        zero = jnp.zeros((), h0.dtype)
        return hs, Info(ok, jnp.asarray(1, jnp.int32), zero, jnp.asarray(False))

    # Hoist arrays that step_fn closes over into explicit arguments, so they get gradients.
    x0 = jax.tree_util.tree_map(lambda a: a[0], xs)
    converted, consts = jax.closure_convert(step_fn, h0, x0, params)

    def step(h, x, P):
        return converted(h, x, P[0], *P[1]).astype(h.dtype)

    def linearize_all(hs, sweep_key, xs, P, h0):
        h_prev = shift(hs, h0)

        def one(h, x, k):
            return method.linearize(lambda v: step(v, x, P), h, x, P[0], k)

        if sweep_key is None:
            f, A = jax.vmap(lambda h, x: one(h, x, None))(h_prev, xs)
        else:
            f, A = jax.vmap(one)(h_prev, xs, jax.random.split(sweep_key, T))
        return A, f - matvec(A, h_prev), f

    def forward(h0, xs, P, init, key):
        hs_init = jnp.broadcast_to(h0, (T, h0.shape[0])) if init is None else init
        hs_init = jnp.asarray(hs_init, h0.dtype)
        hs, info = iterate(
            lambda hs, k: linearize_all(hs, k, xs, P, h0),
            lambda hs: jnp.max(jnp.abs(hs - evaluate(step, shift(hs, h0), xs, P))),
            method.solve_linear, h0, hs_init, max_iters=max_iters, tol=tol,
            num_iters=num_iters, key=key)
        return method.finalize(hs, info, lambda: sequential_scan(step, h0, xs, P))

    run = with_implicit_gradient(forward, step)
    return run(h0, xs, (params, list(consts)), init, key)
