"""Argument checks of the fixed-point solvers, all before tracing (one module, one wording).

Every public entry point (``solve``, ``solve_window``, ``solve_ode``) calls one function here
and gets back its normalised arguments; a bad argument raises ``ValueError`` / ``TypeError``
naming the function and the argument. Shape checks use only static shapes, so they also run
under ``jit`` / ``vmap``; the non-finite check of the initial state runs when it is concrete.

References: DESIGN.md section 3 (failures inside jit are status values; bad input raises early).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from genjax.fixedpoint.strategy import Method, identity_finalize

MAX_ITERS_CAP = 100


def default_tol(dtype) -> float:
    """1e-5 in float32 (about 100 ulp of an O(1) state), 1e-10 in float64."""
    return 1e-10 if jnp.finfo(dtype).bits >= 64 else 1e-5


def is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def positive_int(where: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: {name} must be a Python int, got {type(value).__name__}.")
    if value < 1:
        raise ValueError(f"{where}: {name} must be >= 1, got {value}.")
    return int(value)


def tolerance(where: str, name: str, value, default: float, zero_ok: bool = False) -> float:
    """A finite float > 0 (>= 0 with ``zero_ok``), or ``default`` for None."""
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise TypeError(f"{where}: {name} must be a Python float, got {type(value).__name__}.")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{where}: {name} must be finite and {bound}, got {value!r}.")
    return float(value)


def callable_arg(where: str, name: str, value, signature: str = "") -> None:
    """TypeError naming ``where`` and ``name`` unless ``value`` is callable (``signature``: the
    call it must support, e.g. "(h, x, params) -> [n]", quoted in the message)."""
    if not callable(value):
        shape = f" {signature}" if signature else ""
        raise TypeError(f"{where}: {name} must be callable{shape}, got {type(value).__name__}.")


def method(where: str, value) -> Method:
    if not isinstance(value, Method):
        raise TypeError(f"{where}: method must be a fixedpoint.Method (e.g. fixedpoint.newton()), "
                        f"got {type(value).__name__}.")
    return value


def initial_state(where: str, name: str, h0):
    h0 = jnp.asarray(h0)
    if h0.ndim != 1 or h0.shape[0] == 0:
        raise ValueError(f"{where}: {name} must have shape [n] with n >= 1, got {h0.shape}.")
    if not jnp.issubdtype(h0.dtype, jnp.floating):
        raise TypeError(f"{where}: {name} must be floating point, got dtype {h0.dtype}.")
    if is_concrete(h0) and not bool(np.all(np.isfinite(np.asarray(h0)))):
        raise ValueError(f"{where}: {name} contains non-finite values (NaN or inf).")
    return h0


def sequence_length(where: str, xs) -> int:
    leaves = jax.tree_util.tree_leaves(xs)
    if not leaves:
        raise ValueError(f"{where}: xs must hold at least one array with leading axis T.")
    lengths = set()
    for leaf in leaves:
        shape = np.shape(leaf)
        if len(shape) == 0:
            raise ValueError(f"{where}: every leaf of xs needs a leading time axis T; got a scalar.")
        lengths.add(shape[0])
    if len(lengths) > 1:
        raise ValueError(f"{where}: the leaves of xs have different leading axes {sorted(lengths)}; "
                         "all must share the sequence length T.")
    T = lengths.pop()
    if T == 0:
        raise ValueError(f"{where}: xs has T = 0 time steps; need T >= 1.")
    return T


def step_output(where: str, fn, h0, x0, params, args: str) -> None:
    try:
        out = jax.eval_shape(fn, h0, x0, params)
    except Exception as err:  # re-raised with the arguments named
        raise ValueError(f"{where}: {args} failed for a state of shape {h0.shape}: {err}. "
                         "Check that the state, inputs and params have matching shapes.") from err
    if not hasattr(out, "shape") or tuple(out.shape) != h0.shape:
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"{where}: the step function must return an array of the state's shape "
                         f"{h0.shape}, got {shape}.")


def iteration_counts(where: str, max_iters, num_iters, default_max: int):
    if max_iters is not None and num_iters is not None:
        raise ValueError(f"{where}: give either max_iters (stop at tol) or num_iters (fixed "
                         "number of sweeps), not both.")
    max_iters = default_max if max_iters is None else positive_int(where, "max_iters", max_iters)
    if num_iters is not None:
        positive_int(where, "num_iters", num_iters)
    return max_iters


def check_solve(where, step_fn, h0, xs, params, meth, max_iters, tol, rtol, init, num_iters, key):
    """All of ``solve``'s checks; returns (h0, T, max_iters, tol, rtol)."""
    callable_arg(where, "step_fn", step_fn)
    method(where, meth)
    h0 = initial_state(where, "h0", h0)
    T = sequence_length(where, xs)
    x0 = jax.tree_util.tree_map(lambda a: a[0], xs)
    step_output(where, step_fn, h0, x0, params, "step_fn(h0, xs[0], params)")
    max_iters = iteration_counts(where, max_iters, num_iters, min(T + 1, MAX_ITERS_CAP))
    tol, rtol = _loop_settings(where, h0, T, meth, tol, rtol, init, key)
    return h0, T, max_iters, tol, rtol


def _loop_settings(where, h0, T, meth, tol, rtol, init, key):
    """(tol, rtol) after checking them, the initial guess [T, n] and the method's key."""
    tol = tolerance(where, "tol", tol, default_tol(h0.dtype))
    rtol = tolerance(where, "rtol", rtol, tol, zero_ok=True)
    if init is not None and np.shape(init) != (T, h0.shape[0]):
        raise ValueError(f"{where}: init (the initial guess) must have shape [T, n] = "
                         f"{(T, h0.shape[0])}, got {np.shape(init)}.")
    if meth.needs_key and key is None:
        raise ValueError(f"{where}: method {meth.name} draws random probes and needs `key` "
                         "(pass key=jax.random.key(...), or use quasi_newton() without "
                         "num_probes: the exact diagonal).")
    return tol, rtol


def check_ode(f, y0, ts, params, meth, max_iters, tol, rtol, init, num_iters, key):
    """All of ``solve_ode``'s checks; returns (y0, ts, max_iters, tol, rtol)."""
    where = "solve_ode"
    callable_arg(where, "f", f, "(y, t, params) -> dy/dt")
    method(where, meth)
    if meth.finalize is not identity_finalize:
        raise ValueError(f"{where}: {meth.name} post-processes the solve (fallback); there is no "
                         "sequential reference for the implicit scheme: check info.converged.")
    if meth.linearize is None or not meth.jacobian:
        raise ValueError(f"{where}: method must linearise with d f / d y: newton(), "
                         f"quasi_newton(...) or damped(...) of them, got {meth.name}.")
    y0 = initial_state(where, "y0", y0)
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(f"{where}: ts must have shape [T] with T >= 2 (t_0 and at least one "
                         f"more time), got {ts.shape}.")
    if is_concrete(ts):
        d = np.diff(np.asarray(ts, np.float64))
        if not (np.all(d > 0) or np.all(d < 0)):
            raise ValueError(f"{where}: ts must be strictly monotone.")
    step_output(where, lambda y, t, p: f(y, t, p), y0, ts[0], params, "f(y0, ts[0], params)")
    T = ts.shape[0]
    max_iters = iteration_counts(where, max_iters, num_iters, min(T, MAX_ITERS_CAP))
    tol, rtol = _loop_settings(where, y0, T, meth, tol, rtol, init, key)
    return y0, ts, max_iters, tol, rtol
