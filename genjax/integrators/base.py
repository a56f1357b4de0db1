"""Fixed-grid integration of ODEs and SDEs on any pytree state, over ``lax.scan``.

A solver is a small strategy, ``Solver(init, step, order)``:

    state            = solver.init(x)
    x, state, nfe    = solver.step(field, t0, t1, x, state, key)

``field`` is an ODE vector field ``field(t, x) -> dx/dt`` (same pytree structure as ``x``) for
the ODE steppers (``genjax.integrators.ode``) or an ``SDE(drift, diffusion)`` for the SDE steppers
(``genjax.integrators.sde``). ``nfe`` is the number of field evaluations the step made (an int32
scalar, possibly traced), so ``integrate`` reports an exact count. The step size ``h = t1 - t0``
may be negative: samplers integrate from ``t_max`` down to ``t_min``.

The state ``x`` may be any pytree of float arrays, e.g. the augmented ``(x, logp)`` of the
instantaneous change-of-variables formula used by ``genjax.likelihood`` and continuous flows.

References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I";
Kidger 2021, "On Neural Differential Equations" (the init/step solver interface of diffrax).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
PyTree = Any


class Solver(NamedTuple):
    """A fixed-step time stepper.

    Attributes:
      init: ``init(x) -> state`` (solver memory carried between steps, e.g. multistep history).
      step: ``step(field, t0, t1, x, state, key) -> (x1, state1, nfe)``; ``key`` may be None for
        deterministic solvers; ``nfe`` is an int32 scalar (field evaluations in this step).
      order: the global order of accuracy (strong order for SDE solvers).
    """

    init: Callable
    step: Callable
    order: int


class IntegrateInfo(NamedTuple):
    """Diagnostics of ``integrate``.

    Attributes:
      nfe: int32 scalar, the total number of field evaluations.
      trajectory: the state at every grid time, leaves [N + 1, ...] (``ts[0]`` first), or None.
    """

    nfe: Array
    trajectory: Optional[PyTree]


# --- pytree arithmetic (the states of integrators are arbitrary pytrees) --------------------------
def tree_axpy(a, x: PyTree, y: PyTree) -> PyTree:
    """y + a * x, leafwise (a is a scalar, possibly traced)."""
    return jax.tree_util.tree_map(lambda xi, yi: yi + (a * xi).astype(jnp.result_type(yi)), x, y)


def tree_lincomb(x: PyTree, coeffs, ds) -> PyTree:
    """x + sum_j coeffs[j] * ds[j], leafwise: the update of an explicit Runge-Kutta stage."""
    def combine(xi, *di):
        out = xi
        for c, d in zip(coeffs, di):
            if not (isinstance(c, (int, float)) and c == 0):
                out = out + (c * d).astype(jnp.result_type(xi))
        return out

    return jax.tree_util.tree_map(combine, x, *ds)


def check_grid(ts, name: str = "ts") -> None:
    """Raise ValueError (before tracing) unless a concrete ``ts`` is a strictly monotone 1-D grid."""
    if isinstance(ts, jax.core.Tracer):
        if ts.ndim != 1 or ts.shape[0] < 2:
            raise ValueError(f"{name} must be a 1-D grid of at least 2 times, got shape {ts.shape}")
        return
    arr = np.asarray(ts)
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"{name} must be a 1-D grid of at least 2 times, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}")
    d = np.diff(arr)
    if not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError(f"{name} must be strictly increasing or strictly decreasing, got {arr}")


def _check_solver(solver) -> None:
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a genjax.integrators.Solver, got {type(solver).__name__}")


def integrate(field, solver: Solver, ts: Array, x: PyTree, key=None, *,
              save_trajectory: bool = False) -> tuple[PyTree, IntegrateInfo]:
    """Integrate ``dx/dt = field(t, x)`` (or an SDE) over the grid ``ts`` with a fixed-step solver.

    x_{i+1} = solver.step(field, ts[i], ts[i + 1], x_i, state_i, fold_in(key, i))  for i < N.

    Args:
      field: ``field(t, x) -> dx/dt`` for ODE solvers, ``SDE(drift, diffusion)`` for SDE solvers.
      solver: a ``Solver``.
      ts: [N + 1] strictly monotone times (decreasing for reverse-time integration).
      x: initial state at ``ts[0]``, any pytree of float arrays.
      key: PRNG key (required by stochastic solvers; per-step keys are ``fold_in(key, i)``).
      save_trajectory: also return the state at every grid time (leaves [N + 1, ...]).

    Returns:
      ``(x_N, IntegrateInfo(nfe, trajectory))``.

    The call is jit-compiled with ``field`` and ``solver`` static (hashed by identity: reuse the
    same closure to reuse the compiled program; arrays it closes over become constants).

    References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I".
    """
    _check_solver(solver)
    check_grid(ts)
    x = jax.tree_util.tree_map(jnp.asarray, x)
    return _integrate(field, solver, jnp.asarray(ts), x, key, save_trajectory)


@functools.partial(jax.jit, static_argnums=(0, 1, 5))
def _integrate(field, solver, ts, x, key, save_trajectory):
    n = ts.shape[0] - 1

    def body(carry, inp):
        x, state, nfe = carry
        i, t0, t1 = inp
        k = None if key is None else jax.random.fold_in(key, i)
        x, state, n_i = solver.step(field, t0, t1, x, state, k)
        out = x if save_trajectory else None
        return (x, state, nfe + jnp.asarray(n_i, jnp.int32)), out

    init = (x, solver.init(x), jnp.zeros((), jnp.int32))
    (x_n, _, nfe), traj = jax.lax.scan(body, init, (jnp.arange(n), ts[:-1], ts[1:]))
    if save_trajectory:
        traj = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b], 0), x, traj)
    return x_n, IntegrateInfo(nfe=nfe, trajectory=traj)
