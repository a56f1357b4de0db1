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

from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax.scipy.linalg import expm

from genjax.fixedpoint import checks
from genjax.fixedpoint.iteration import iterate
from genjax.fixedpoint.linear_scan import matvec
from genjax.fixedpoint.methods import newton
from genjax.fixedpoint.strategy import Method
from genjax.fixedpoint.sweep import contained_solve

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


def solve_ode(f: Callable, y0: Array, ts: Array, params, method: Optional[Method] = None, *,
              max_iters: Optional[int] = None, tol: Optional[float] = None,
              rtol: Optional[float] = None, init: Optional[Array] = None,
              num_iters: Optional[int] = None,
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
      tol, rtol: stop when every entry of the update and of the scheme's residual is
        <= tol + rtol |y| (tol: 1e-5 float32, 1e-10 float64; rtol: tol).
      init: [T, n] initial guess (row 0 is ignored); default y0 repeated.
      num_iters: fixed number of sweeps instead (exclusive with max_iters).
      key: PRNG key for stochastic diagonals.

    Returns:
      ys: [T, n] with ys[0] = y0 and ys[i] ~ y(ts[i]), and ``Info``.

    References: Lim et al. 2024, "DEER" (ICLR), section 3.2.
    """
    method = newton() if method is None else method
    y0, ts, max_iters, tol, rtol = checks.check_ode(f, y0, ts, params, method, max_iters, tol,
                                                    rtol, init, num_iters, key)
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

    def sweep(hs, sweep_key):
        A, b, explicit = linearize_all(hs, sweep_key)
        return contained_solve(method.solve_linear, A, b, explicit, y0, hs), explicit

    def residual_of(hs):
        return hs - linearize_all(hs, key)[2]

    hs_init = jnp.broadcast_to(y0, (T - 1, y0.shape[0])) if init is None else jnp.asarray(
        init, y0.dtype)[1:]
    hs, info = iterate(sweep, residual_of, hs_init, max_iters=max_iters, tol=tol, rtol=rtol,
                       num_iters=num_iters, key=key)
    return jnp.concatenate([y0[None], hs], axis=0), info
