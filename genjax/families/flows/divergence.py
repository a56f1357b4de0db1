"""Divergence tr(df/dx) of a batched vector field, exact or by Hutchinson's estimator.

``fn: [B, d] -> [B, d]`` must act on each row independently (a per-example field). Both return
``(fn(x), div)`` so the field is evaluated once per step.

    exact:       tr J = sum_i e_i^T J e_i                 (d Jacobian-vector products)
    hutchinson:  tr J ~ eps^T J eps,  E[eps eps^T] = I    (one JVP; unbiased)

References: Grathwohl et al. 2019, "FFJORD"; Hutchinson 1989, "A stochastic estimator of the
trace of the influence matrix for Laplacian smoothing splines".
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def divergence_exact(fn, x: Array) -> tuple[Array, Array]:
    """(fn(x) [B, d], tr(d fn / dx) [B]) with d forward-mode JVPs along the basis vectors."""
    d = x.shape[-1]
    basis = jnp.broadcast_to(jnp.eye(d, dtype=x.dtype)[:, None, :], (d,) + x.shape)   # [d, B, d]
    fx, cols = jax.vmap(lambda v: jax.jvp(fn, (x,), (v,)), out_axes=(None, 0))(basis)
    # cols[i] = J e_i (per example); the trace collects the i-th entry of the i-th column.
    div = jnp.einsum("ibi->b", cols)
    return fx, div


def divergence_hutchinson(fn, x: Array, eps: Array) -> tuple[Array, Array]:
    """(fn(x) [B, d], eps^T (d fn / dx) eps [B]) with one JVP; eps: [B, d], E[eps eps^T] = I."""
    fx, jv = jax.jvp(fn, (x,), (eps,))
    return fx, jnp.sum((eps * jv).reshape(x.shape[0], -1), axis=-1)
