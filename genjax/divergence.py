"""Divergence tr(df/dx) of a batched vector field, exact or by Hutchinson's estimator.

``fn: [B, ...] -> [B, ...]`` must act on each example independently (a per-example field; the
probability-flow ODE of ``likelihood`` and the CNF of ``families.flows`` both are). Both
functions return ``(fn(x), div)`` so the field is evaluated once per step. With d = prod(...):

    exact:       tr J = sum_i e_i^T J e_i                        (d Jacobian-vector products)
    hutchinson:  tr J ~ (1/M) sum_m eps_m^T J eps_m,  E[eps eps^T] = I    (M JVPs; unbiased)

``exact()`` and ``hutchinson(num_probes)`` wrap them as ``Divergence`` strategies (probes drawn
once per solve, then applied at every field evaluation) for the likelihood and CNFs.

References: Grathwohl et al. 2019, "FFJORD: Free-form Continuous Dynamics for Scalable Reversible
Generative Models"; Hutchinson 1989, "A stochastic estimator of the trace of the influence
matrix for Laplacian smoothing splines".
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from genjax._memo import memoized

Array = jax.Array


def divergence_exact(fn, x: Array) -> tuple[Array, Array]:
    """(fn(x) [B, ...], tr(d fn / dx) [B]) with d forward-mode JVPs along the basis vectors."""
    b, d = x.shape[0], math.prod(x.shape[1:])
    basis = jnp.broadcast_to(jnp.eye(d, dtype=x.dtype).reshape((d, 1) + x.shape[1:]), (d,) + x.shape)
    fx, cols = jax.vmap(lambda v: jax.jvp(fn, (x,), (v,)), out_axes=(None, 0))(basis)
    # cols[i] = J e_i (per example); the trace collects the i-th entry of the i-th column.
    return fx, jnp.einsum("ibi->b", cols.reshape(d, b, d))


def divergence_hutchinson(fn, x: Array, eps: Array) -> tuple[Array, Array]:
    """(fn(x) [B, ...], mean_m eps_m^T (d fn / dx) eps_m [B]): one JVP per probe.

    Args:
      fn: the per-example field.
      x: [B, ...] the point.
      eps: [B, ...] one probe per example, or [M, B, ...] M probes (Rademacher or Gaussian,
        E[eps eps^T] = I).
    """
    probes = eps[None] if eps.ndim == x.ndim else eps
    if probes.shape[1:] != x.shape:
        raise ValueError(f"divergence_hutchinson: eps must have shape {x.shape} or [M, *{x.shape}], "
                         f"got {eps.shape}")
    fx, jv = jax.vmap(lambda v: jax.jvp(fn, (x,), (v,)), out_axes=(None, 0))(probes)
    m, b = probes.shape[0], x.shape[0]
    return fx, jnp.mean(jnp.sum((probes * jv).reshape(m, b, -1), axis=-1), axis=0)


# --- estimators as strategies ------------------------------------------------------------------------------
class Divergence(NamedTuple):
    """A divergence estimator: ``probes(key, x)`` once per solve, then ``apply(fn, x, probes) -> (fn(x), div)``.

    Attributes:
      name: for tables and error messages.
      needs_key: whether ``probes`` draws (then the caller must pass a PRNG key).
      probes: ``probes(key, x) -> pytree`` (None for the exact trace).
      apply: ``apply(fn, x, probes) -> (fn(x) [B, ...], div [B])``.
    """

    name: str
    needs_key: bool
    probes: Callable
    apply: Callable


@memoized
def exact() -> Divergence:
    """The exact trace, d JVPs along the basis vectors (``divergence_exact``); small d."""
    return Divergence("exact", False, lambda key, x: None, lambda fn, x, probes: divergence_exact(fn, x))


@memoized
def hutchinson(num_probes: int = 1) -> Divergence:
    """Hutchinson's estimate with ``num_probes`` Rademacher probes per example, drawn once per solve.

    References: Hutchinson 1989; Grathwohl et al. 2019 (FFJORD: the probe held fixed along the ODE).
    """
    if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < 1:
        raise ValueError(f"hutchinson: num_probes must be an int >= 1, got {num_probes!r}")
    return Divergence(f"hutchinson({num_probes})", True,
                      lambda key, x: jax.random.rademacher(key, (num_probes,) + x.shape, x.dtype),
                      divergence_hutchinson)


BY_NAME = {"exact": exact, "hutchinson": hutchinson}


def get(divergence) -> Divergence:
    """A ``Divergence`` as is, or one by name (default arguments): "exact" or "hutchinson" (for configs)."""
    if isinstance(divergence, Divergence):
        return divergence
    if divergence not in BY_NAME:
        raise ValueError(f"divergence must be a genjax.divergence.Divergence or one of {sorted(BY_NAME)}, "
                         f"got {divergence!r}")
    return BY_NAME[divergence]()
