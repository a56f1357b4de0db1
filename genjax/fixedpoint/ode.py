"""DEER for ODEs: dy/dt = f(y, t) on a time grid, solved in parallel over the grid.

At the iterate y^(k) the ODE is linearised as dy/dt = G(t) y + z(t) with G = d f / d y
(dense for ``newton()``, its diagonal for ``quasi_newton()``) and z = f(y^(k), t) - G y^(k).
On each interval [t_i, t_{i+1}] G and z are frozen at their endpoint averages
(G_i + G_{i+1}) / 2 and (z_i + z_{i+1}) / 2 (the DEER paper's midpoint rule) and the linear ODE
is integrated exactly:

    y_{i+1} = exp(G Dt) y_i + Dt phi_1(G Dt) z,     phi_1(x) = (e^x - 1) / x,

both blocks read off one matrix exponential of the augmented matrix [[G Dt, z Dt], [0, 0]]
(no inverse of G is formed). The y_{i+1} form a linear recurrence in y_i, solved by
``linear_scan``; sweeps repeat until the update and the residual of the scheme are <= tol.
The converged grid values solve an implicit exponential trapezoid scheme: exact for linear
constant-coefficient ODEs, second order in Dt otherwise. Non-finite values are contained as
in ``solve``.

Gradients: early-stopping solves run a ``lax.while_loop`` and are forward only; with
``num_iters`` (fixed sweeps) reverse-mode differentiates through the sweeps.

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR), section 3.2 and eq. (10); Hochbruck & Ostermann 2010, "Exponential
integrators" (Acta Numerica) for phi_1.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import expm

from genjax.fixedpoint.iteration import default_tol, iterate
from genjax.fixedpoint.linear_scan import matvec
from genjax.fixedpoint.methods import Method, newton
from genjax.fixedpoint.solve import MAX_ITERS_CAP, _is_concrete, _positive_int

Array = jax.Array


def _phi1(x: Array) -> Array:
    """(e^x - 1) / x, with its series 1 + x / 2 + x^2 / 6 near 0."""
    small = jnp.abs(x) < 1e-4
    safe = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 + x / 2 + x * x / 6, jnp.expm1(safe) / safe)


def exponential_step(G: Array, z: Array, dt: Array):
    """(A, b) with y_next = A y + b solving dy/dt = G y + z exactly over dt.

    G: [n, n] (or diagonal [n]); z: [n]; dt: [] -> A like G, b: [n].
    """
    if G.ndim == 1:
        x = G * dt
        return jnp.exp(x), dt * _phi1(x) * z
    n = z.shape[0]
    aug = jnp.zeros((n + 1, n + 1), G.dtype)
    aug = aug.at[:n, :n].set(G * dt).at[:n, n].set(z * dt)
    E = expm(aug)
    return E[:n, :n], E[:n, n]


def _validate(f, y0, ts, params, method, max_iters, tol, init, num_iters, key):
    if not callable(f):
        raise TypeError(f"solve_ode: f must be callable (y, t, params) -> dy/dt, got "
                        f"{type(f).__name__}.")
    if not isinstance(method, Method):
        raise TypeError(f"solve_ode: method must be a fixedpoint.Method, got {type(method).__name__}.")
    if method.name.startswith("fallback"):
        raise ValueError("solve_ode: fallback(...) is not supported (there is no sequential "
                         "reference for the implicit scheme); check info.converged instead.")
    if method.linearize is None or "picard" in method.name or "jacobi" in method.name:
        raise ValueError(f"solve_ode: method must linearise with d f / d y: newton(), "
                         f"quasi_newton(...) or damped(...) of them, got {method.name}.")
    y0, ts = jnp.asarray(y0), jnp.asarray(ts)
    if y0.ndim != 1 or y0.shape[0] == 0:
        raise ValueError(f"solve_ode: y0 must have shape [n] with n >= 1, got {y0.shape}.")
    if not jnp.issubdtype(y0.dtype, jnp.floating):
        raise TypeError(f"solve_ode: y0 must be floating point, got dtype {y0.dtype}.")
    if _is_concrete(y0) and not bool(np.all(np.isfinite(np.asarray(y0)))):
        raise ValueError("solve_ode: y0 contains non-finite values (NaN or inf).")
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(f"solve_ode: ts must have shape [T] with T >= 2 (t_0 and at least one "
                         f"more time), got {ts.shape}.")
    if _is_concrete(ts):
        d = np.diff(np.asarray(ts, np.float64))
        if not (np.all(d > 0) or np.all(d < 0)):
            raise ValueError("solve_ode: ts must be strictly monotone.")
    try:
        out = jax.eval_shape(f, y0, ts[0], params)
    except Exception as err:  # re-raised with the arguments named
        raise ValueError(f"solve_ode: f(y0, ts[0], params) failed for y0 of shape {y0.shape}: "
                         f"{err}") from err
    if tuple(getattr(out, "shape", ())) != y0.shape:
        raise ValueError(f"solve_ode: f(y, t, params) must return the shape of y0 {y0.shape}, "
                         f"got {getattr(out, 'shape', type(out).__name__)}.")
    T = ts.shape[0]
    if max_iters is not None and num_iters is not None:
        raise ValueError("solve_ode: give either max_iters or num_iters, not both.")
    max_iters = min(T, MAX_ITERS_CAP) if max_iters is None else _positive_int(
        "max_iters", max_iters)
    if num_iters is not None:
        _positive_int("num_iters", num_iters)
    tol = default_tol(y0.dtype) if tol is None else tol
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not math.isfinite(tol) \
            or tol <= 0:
        raise ValueError(f"solve_ode: tol must be a finite float > 0, got {tol!r}.")
    if init is not None and np.shape(init) != (T, y0.shape[0]):
        raise ValueError(f"solve_ode: init must have shape [T, n] = {(T, y0.shape[0])}, got "
                         f"{np.shape(init)}.")
    if method.needs_key and key is None:
        raise ValueError(f"solve_ode: method {method.name} needs `key`.")
    return y0, ts, max_iters, float(tol)


def solve_ode(f: Callable, y0: Array, ts: Array, params, method: Optional[Method] = None, *,
              max_iters: Optional[int] = None, tol: Optional[float] = None,
              init: Optional[Array] = None, num_iters: Optional[int] = None,
              key: Optional[Array] = None):
    """Solves dy/dt = f(y, t, params), y(ts[0]) = y0, on the grid ``ts`` by DEER sweeps.

    Args:
      f: pure ``(y [n], t [], params) -> dy/dt [n]``.
      y0: [n] initial value at ts[0].
      ts: [T] strictly monotone grid, T >= 2 (decreasing grids integrate backwards).
      params: pytree passed to ``f``.
      method: ``newton()`` (default, dense G), ``quasi_newton(diagonal)`` (diagonal G, with
        ``diagonal(y, t, params)``) or ``damped(...)`` of either.
      max_iters: cap on sweeps; default min(T, 100).
      tol: tolerance on the relative update and scheme residual (1e-5 float32, 1e-10 float64).
      init: [T, n] initial guess (row 0 is ignored); default y0 repeated.
      num_iters: fixed number of sweeps instead (exclusive with max_iters).
      key: PRNG key for stochastic diagonals.

    Returns:
      ys: [T, n] with ys[0] = y0 and ys[i] ~ y(ts[i]), and ``Info``.

    References: Lim et al. 2024, "DEER" (ICLR), section 3.2.
    """
    method = newton() if method is None else method
    y0, ts, max_iters, tol = _validate(f, y0, ts, params, method, max_iters, tol, init,
                                       num_iters, key)
    ts = ts.astype(y0.dtype)
    dts = ts[1:] - ts[:-1]
    T = ts.shape[0]

    def linearize_all(hs, sweep_key):
        ys = jnp.concatenate([y0[None], hs], axis=0)                       # [T, n]

        def one(y, t, k):
            return method.linearize(lambda v: f(v, t, params).astype(y.dtype), y, t, params, k)

        if sweep_key is None:
            fs, G = jax.vmap(lambda y, t: one(y, t, None))(ys, ts)
        else:
            fs, G = jax.vmap(one)(ys, ts, jax.random.split(sweep_key, T))
        z = fs - matvec(G, ys)
        G_mid = 0.5 * (G[1:] + G[:-1])
        z_mid = 0.5 * (z[1:] + z[:-1])
        A, b = jax.vmap(exponential_step)(G_mid, z_mid, dts)
        explicit = matvec(A, ys[:-1]) + b
        return A, b, explicit

    def residual_of(hs):
        _, _, explicit = linearize_all(hs, key)
        return jnp.max(jnp.abs(hs - explicit))

    hs_init = jnp.broadcast_to(y0, (T - 1, y0.shape[0])) if init is None else jnp.asarray(
        init, y0.dtype)[1:]
    hs, info = iterate(linearize_all, residual_of, method.solve_linear, y0, hs_init,
                       max_iters=max_iters, tol=tol, num_iters=num_iters, key=key)
    return jnp.concatenate([y0[None], hs], axis=0), info
