"""The interface of a fixed-point strategy: ``Method`` and the ``Info`` a solve returns.

A ``Method`` says how one sweep linearises h_t = f(h_{t-1}, x_t) (its A_t) and how it solves the
linear recurrence (*) of ``methods.py``; ``solve``, ``solve_window`` and ``solve_ode`` run any
``Method``, and the argument checks (``checks.py``) test for this type. The factories
(``newton()``, ``quasi_newton()``, ``picard()``, ...) live in ``methods.py``, ``quasi.py`` and
``elk.py``; ``identity_finalize`` and ``scan_solve`` are the pieces they share.

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR); Gonzalez et al. 2025, "A Unifying Framework for Parallelizing Sequential Models
with Linear Dynamical Systems".
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax

from genjax.fixedpoint.linear_scan import linear_scan

Array = jax.Array


class Info(NamedTuple):
    """Status of a solve, returned (never raised) from inside jit.

    Attributes:
      converged: bool [] -- every entry of the last update AND of the fixed-point residual of
        the returned hs is <= tol + rtol * |h| (``solve``'s stopping rule); or the answer is the
        sequential scan (fallback).
      num_iters: int32 [] -- parallel sweeps performed (1 for ``sequential()``).
      residual: float [] -- max_t |h_t - f(h_{t-1}, x_t)|_inf of the returned hs (0 for the
        sequential scan, which satisfies the recurrence by construction).
      fell_back: bool [] -- True when ``fallback(...)`` replaced a failed solve by ``lax.scan``.
    """

    converged: Array
    num_iters: Array
    residual: Array
    fell_back: Array


class Method(NamedTuple):
    """A fixed-point strategy.

    Attributes:
      name: a readable label.
      linearize: ``(fn, h, x, params, key) -> (f(h) [n], A)`` for one time step, where
        ``fn(h) = step_fn(h, x, params)``; A is dense [n, n] or a diagonal [n]. ``None`` marks
        ``sequential()`` (no iteration).
      solve_linear: ``(A [T, ...], b [T, n], h0 [n], hs [T, n]) -> hs_new [T, n]`` solves (*);
        ``hs`` is the current iterate (used by damped methods).
      finalize: ``(hs, info, run_sequential) -> (hs, info)`` post-processing (``fallback``).
      needs_key: whether ``linearize`` draws random numbers (``solve`` then needs ``key``).
      jacobian: whether A_t is d f / d h_{t-1} or its diagonal (Newton, quasi-Newton and their
        damped forms); ``solve_ode`` needs such a method (Picard's I and Jacobi's 0 are not).
    """

    name: str
    linearize: Optional[Callable]
    solve_linear: Optional[Callable]
    finalize: Callable
    needs_key: bool = False
    jacobian: bool = True


def identity_finalize(hs, info, run_sequential):
    """The finalize step of every method but ``fallback``: returns (hs, info) unchanged."""
    del run_sequential
    return hs, info


def scan_solve(A, b, h0, hs):
    """The ``solve_linear`` of every undamped method: ``linear_scan(A, b, h0)`` (hs unused)."""
    del hs
    return linear_scan(A, b, h0)
