"""Fixed-point strategies for h_t = f(h_{t-1}, x_t): which A_t linearises the step.

Every parallel method solves the recurrence by repeating, from a guess h^(k),

    h^(k+1)_t = A_t h^(k+1)_{t-1} + [f(h^(k)_{t-1}, x_t) - A_t h^(k)_{t-1}],    (*)

a *linear* recurrence that ``linear_scan`` solves in O(log T) depth. The exact solution is a
fixed point of (*) for any A_t; the choice of A_t sets the convergence speed and the cost:

    newton()        A_t = J_t = d f / d h_{t-1}   dense [n, n]   quadratic convergence (DEER)
    quasi_newton()  A_t = diag J_t               [n]            never forms J (quasi-DEER),
                                                                exact diagonal by default
                                                                (``quasi.py``)
    picard()        A_t = I                      [n]            cumulative-sum iteration
    jacobi()        A_t = 0                      (no scan)      h^(k+1)_t = f(h^(k)_{t-1}, x_t)
    damped(s, base) base's A_t, solved as a Levenberg-Marquardt step (ELK), see ``elk.py``
    sequential()    no iteration: the reference ``lax.scan``

Every method except ``damped`` is exact after at most T sweeps: if h^(k)_1..h^(k)_{t-1} are
exact, (*) makes h^(k+1)_t = f(h_{t-1}, x_t) exact too (Gonzalez et al. 2025).

A strategy is a ``Method`` NamedTuple of pure functions (``strategy.py``, DESIGN.md section 3); wrappers such as
``fallback(method)`` and ``damped(strength, base)`` compose them. The factories are memoised on
their arguments, so ``newton()`` twice is one ``Method`` and a jitted caller compiles once.

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR); Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of Nonlinear
RNNs" (NeurIPS; quasi-DEER, ELK); Gonzalez et al. 2025, "A Unifying Framework for Parallelizing
Sequential Models with Linear Dynamical Systems" (Newton / quasi-Newton / Picard / Jacobi).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax import lax

from genjax._memo import memoized
from genjax.fixedpoint.checks import callable_arg
from genjax.fixedpoint.strategy import Info, Method, identity_finalize, scan_solve


def _dense_jacobian(fn, h, x, params, key):
    del x, params, key
    return fn(h), jax.jacfwd(fn)(h)   # (XLA merges the primal; has_aux measured 35% slower)


@memoized
def sequential() -> Method:
    """The reference: ``lax.scan`` over t, O(T) depth, exact in one pass.

    References: Lim et al. 2024, "DEER" (the sequential baseline of every comparison).
    """
    return Method("sequential", None, None, identity_finalize)


@memoized
def newton(jacobian: Optional[Callable] = None) -> Method:
    """DEER: A_t = J_t = d f(h_{t-1}, x_t) / d h_{t-1}, dense [n, n].

    J_t comes from ``jacobian(h, x, params) -> [n, n]`` when given (``cells.*.jacobian``: the
    cell's closed form, e.g. one O(n^3) product per GRU step instead of the n JVPs of
    ``jax.jacfwd``, measured 3-4x cheaper), else from ``jax.jacfwd``. Newton's method on the
    residual r_t(h) = h_t - f(h_{t-1}, x_t): quadratic convergence near the solution.

    References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
    Length" (ICLR), eq. (5)-(7).
    """
    if jacobian is None:
        return Method("newton", _dense_jacobian, scan_solve, identity_finalize)
    callable_arg("newton", "jacobian", jacobian, "(h, x, params) -> [n, n]")

    def linearize(fn, h, x, params, key):
        del key
        return fn(h), jacobian(h, x, params)

    return Method("newton(jacobian)", linearize, scan_solve, identity_finalize)


@memoized
def picard() -> Method:
    """Picard iteration: A_t = I, so (*) is a cumulative sum of f(h^(k)_{t-1}) - h^(k)_{t-1}.

    For an Euler-discretised ODE h_t = h_{t-1} + dt g(h_{t-1}) this is the classical Picard
    iteration h(t) = h(0) + int_0^t g(h^(k)(s)) ds. Over a sliding window of W steps with
    ParaDiGMS's acceptance rule it is ``solve_window(..., picard(), window=W, tol=...)``.

    References: Shih et al. 2023, "Parallel Sampling of Diffusion Models" (ParaDiGMS);
    Gonzalez et al. 2025, "A Unifying Framework for Parallelizing Sequential Models".
    """
    def linearize(fn, h, x, params, key):
        del x, params, key
        return fn(h), jnp.ones_like(h)

    return Method("picard", linearize, scan_solve, identity_finalize, jacobian=False)


@memoized
def jacobi() -> Method:
    """Jacobi iteration: A_t = 0, h^(k+1)_t = f(h^(k)_{t-1}, x_t) for all t at once (no scan).

    References: Song et al. 2021, "Accelerating Feedforward Computation via Parallel Nonlinear
    Equation Solving" (ICML); Gonzalez et al. 2025, "A Unifying Framework".
    """
    def linearize(fn, h, x, params, key):
        del x, params, key
        return fn(h), jnp.zeros_like(h)

    def solve_linear(A, b, h0, hs):
        del A, h0, hs
        return b

    return Method("jacobi", linearize, solve_linear, identity_finalize, jacobian=False)


@memoized
def fallback(method: Method) -> Method:
    """Wraps ``method``: when it did not converge, return the sequential ``lax.scan`` instead.

    The result then carries ``info.fell_back = True`` and ``info.converged = True`` (the scan is
    exact by construction) while ``info.num_iters`` keeps the parallel sweeps that were tried.
    Under ``jax.vmap`` both branches are evaluated (``lax.cond`` becomes a select).

    References: Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of Nonlinear
    RNNs" (a failed parallel solve should never be returned as an answer).
    """
    if not isinstance(method, Method):
        raise TypeError(f"fallback: method must be a fixedpoint.Method, got {type(method).__name__}.")
    if method.linearize is None:
        return method

    def finalize(hs, info, run_sequential):
        hs, info = method.finalize(hs, info, run_sequential)

        def use_sequential(_):
            hs_seq = run_sequential()
            ok = jnp.all(jnp.isfinite(hs_seq))
            return hs_seq, Info(ok, info.num_iters, jnp.zeros_like(info.residual),
                                jnp.asarray(True))

        return lax.cond(info.converged, lambda _: (hs, info), use_sequential, None)

    return method._replace(name=f"fallback({method.name})", finalize=finalize)
