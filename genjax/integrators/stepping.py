"""Step-size control as a strategy: a fixed grid or adaptive Dormand-Prince behind one interface.

    stepping = integrators.fixed(integrators.rk4(), num_steps=64)     # or ts=[...]
    stepping = integrators.adaptive(rtol=1e-5, atol=1e-5, max_steps=4096)
    x1, info = stepping.solve(field, t0, t1, x)                       # info: StepInfo(nfe, converged)

A user of an ODE solve (the likelihood, a CNF) takes one ``Stepping`` instead of a
``None | "dopri5" | Solver`` switch plus the tolerances of one branch and the grid of the other.
``solve(field, t0, t1, x, grid=None)``: ``grid(num_steps) -> ts`` is the caller's default grid for
``fixed`` (e.g. uniform in log-SNR); without it the grid is uniform in t.

References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I" (II.4,
step-size control); Kidger 2021, "On Neural Differential Equations" (diffrax's stepsize controllers).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from genjax._memo import memoized
from genjax.integrators.adaptive import dopri5
from genjax.integrators.base import Solver, check_grid, integrate
from genjax.integrators.ode import rk4


class StepInfo(NamedTuple):
    """nfe: int32 field evaluations; converged: bool, the solve reached t1 with a finite state."""

    nfe: jax.Array
    converged: jax.Array


class Stepping(NamedTuple):
    """``solve(field, t0, t1, x, grid=None) -> (x1, StepInfo)``; ``name`` for tables."""

    solve: Callable
    name: str


def _finite(x) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(x)]))


@memoized
def fixed(solver: Optional[Solver] = None, num_steps: int = 64, ts=None) -> Stepping:
    """A fixed-step ``solver`` (default RK4) on ``ts`` or on ``num_steps`` steps of the caller's grid.

    Differentiable end to end (discretise then optimise); ``converged`` is "the state is finite".

    Args:
      solver: a ``genjax.integrators.Solver`` (default ``rk4()``).
      num_steps: steps of the default grid (when ``ts`` is None).
      ts: an explicit [N + 1] strictly monotone grid from t0 to t1.
    """
    solver = rk4() if solver is None else solver
    if not isinstance(solver, Solver):
        raise TypeError(f"fixed: solver must be a genjax.integrators.Solver, got {type(solver).__name__}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"fixed: num_steps must be an int >= 1, got {num_steps!r}")
    if ts is not None and not isinstance(ts, jax.core.Tracer):
        check_grid(ts)

    def solve(field, t0, t1, x, grid=None):
        g = ts
        if g is None:
            g = grid(int(num_steps)) if grid is not None else jnp.linspace(t0, t1, int(num_steps) + 1)
        elif not isinstance(g, jax.core.Tracer) and not isinstance(t0, jax.core.Tracer):
            arr = np.asarray(g)
            if (arr[-1] - arr[0]) * (float(t1) - float(t0)) <= 0:
                raise ValueError(f"fixed: ts must increase / decrease from t0 = {t0} to t1 = {t1} as the "
                                 f"solve does; got ts from {arr[0]} to {arr[-1]}")
        x1, info = integrate(field, solver, g, x)
        return x1, StepInfo(info.nfe, _finite(x1))

    return Stepping(solve, f"fixed({num_steps if ts is None else len(ts) - 1})")


@memoized
def adaptive(rtol: float = 1e-5, atol: float = 1e-5, max_steps: int = 4096) -> Stepping:
    """Adaptive Dormand-Prince 5(4) with PI step-size control to ``rtol`` / ``atol`` (``dopri5``).

    ``converged`` is False when ``max_steps`` attempts did not reach t1 (or the state is not finite).
    Not reverse-differentiable through the step-size choices; an evaluation solver.

    References: Dormand & Prince 1980; Hairer, Norsett & Wanner 1993, II.4.
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"adaptive: max_steps must be an int >= 1, got {max_steps!r}")
    if not rtol >= 0 or not atol >= 0 or rtol + atol <= 0:
        raise ValueError(f"adaptive: need rtol, atol >= 0 and not both 0, got rtol={rtol}, atol={atol}")

    def solve(field, t0, t1, x, grid=None):
        del grid
        x1, info = dopri5(field, t0, t1, x, rtol=rtol, atol=atol, max_steps=max_steps)
        return x1, StepInfo(info.nfe, info.converged & _finite(x1))

    return Stepping(solve, f"adaptive(rtol={rtol:g}, atol={atol:g})")
