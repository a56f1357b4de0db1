"""Gradients of a solved recurrence by implicit differentiation (one reverse linear scan).

At the solution hs of h_t = f(h_{t-1}, x_t; theta) the implicit function theorem gives the
vector-Jacobian product of a loss L(hs) through the adjoint recurrence, run backwards in t,

    lambda_T = dL/dh_T,     lambda_t = dL/dh_t + J_{t+1}^T lambda_{t+1},   J_t = d f_t / d h_{t-1},

which is *one* transposed linear recurrence, solved by ``linear_scan(..., reverse=True)``. Then

    dL/dtheta = sum_t (d f_t / d theta)^T lambda_t,   dL/dx_t = (d f_t / d x_t)^T lambda_t,
    dL/dh_0   = J_1^T lambda_1,

all from a single ``jax.vjp`` of the vmapped step at (h_{t-1}, x_t). No derivative flows through
the sweeps, so memory is O(T n^2) whatever the number of iterations. The backward pass always
uses the exact dense J_t (also after quasi-Newton, damped, Picard or Jacobi forward sweeps):
the gradient is exact at a converged solution; after an unconverged fixed-iteration solve it
is the implicit gradient at the returned iterate (the DEER training approximation).

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR), section 3.3; Blondel et al. 2022, "Efficient and Modular Implicit
Differentiation" (NeurIPS).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from genjax.fixedpoint.sweep import shift
from genjax.fixedpoint.linear_scan import linear_scan

Array = jax.Array


def evaluate(step: Callable, h_prev: Array, xs, P) -> Array:
    """f(h_{t-1}, x_t; P) for every t at once.  h_prev: [T, n] -> [T, n]."""
    return jax.vmap(step, in_axes=(0, 0, None))(h_prev, xs, P)


def adjoint_vjp(step: Callable, hs: Array, h0: Array, xs, P, g_hs: Array):
    """(dL/dh0 [n], dL/dxs, dL/dP) from the cotangent ``g_hs`` [T, n] at the solution ``hs``."""
    h_prev = shift(hs, h0)
    _, vjp_fn = jax.vjp(lambda hp, x, p: evaluate(step, hp, x, p), h_prev, xs, P)
    J = jax.vmap(jax.jacfwd(step), in_axes=(0, 0, None))(h_prev, xs, P)   # [T, n, n]
    A_rev = jnp.concatenate([jnp.swapaxes(J[1:], -1, -2), jnp.zeros_like(J[:1])], axis=0)
    lam = linear_scan(A_rev, g_hs.astype(hs.dtype), jnp.zeros_like(h0), reverse=True)
    d_hprev, d_xs, d_P = vjp_fn(lam)
    return d_hprev[0], d_xs, d_P


def with_implicit_gradient(forward: Callable, step: Callable) -> Callable:
    """Wraps ``forward(h0, xs, P, init, key) -> (hs, info)`` with the implicit VJP above.

    ``init`` (the initial guess) and ``key`` receive zero cotangents: the solution does not
    depend on them.
    """
    @jax.custom_vjp
    def run(h0, xs, P, init, key):
        return forward(h0, xs, P, init, key)

    def run_fwd(h0, xs, P, init, key):
        hs, info = forward(h0, xs, P, init, key)
        return (hs, info), (hs, h0, xs, P)

    def run_bwd(residuals, cotangents):
        hs, h0, xs, P = residuals
        g_hs, _ = cotangents
        d_h0, d_xs, d_P = adjoint_vjp(step, hs, h0, xs, P, g_hs)
        return d_h0, d_xs, d_P, None, None

    run.defvjp(run_fwd, run_bwd)
    return run
