"""Adaptive Dormand-Prince 5(4) integration with PI step-size control, on pytree states.

One attempt from (t, x) with step h (signed; negative integrates backwards) evaluates the stages

    k_1 = f(t, x)  (reused from the previous accepted step: first same as last, FSAL)
    k_i = f(t + c_i h, x + h sum_j a_ij k_j),   i = 2..7,   x_5 = x + h sum_j b_j k_j  (k_7 at x_5)

and the embedded error  err = h sum_j (b_j - b*_j) k_j  (5th- minus 4th-order weights). With
``sc = atol + rtol max(|x|, |x_5|)`` and ``E = rms(err / sc)`` over every element of the pytree,
the attempt is accepted when E <= 1, and the next step is

    h <- h * clip(safety * E^(-(1/5 - 0.75 beta)) * E_prev^beta, factor_min, factor_max)

(Hairer's PI controller, beta = 0.04; a rejected attempt never grows the step). The first step size
comes from Hairer's starting-step heuristic (two evaluations). The loop is a ``lax.while_loop``;
``info.converged`` is False when ``max_steps`` attempts were spent, the step size underflowed, or
the result is not finite, so a truncated solve is never passed off as an answer.

References: Dormand & Prince 1980, "A family of embedded Runge-Kutta formulae"; Hairer, Norsett
& Wanner 1993, "Solving Ordinary Differential Equations I", II.4 (starting step) and Hairer &
Wanner 1996, IV.2 / Gustafsson 1991 (PI step-size control).
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp

from genjax.integrators.base import tree_axpy

Array = jax.Array
PyTree = Any

# Dormand-Prince tableau.
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_E = tuple(b5 - b4 for b5, b4 in zip(_B5, _B4))
_BETA = 0.04
_EXPO = 0.2 - 0.75 * _BETA


class AdaptiveInfo(NamedTuple):
    """Diagnostics of ``dopri5``.

    Attributes:
      nfe: field evaluations (int32).
      num_steps: step attempts (accepted + rejected).
      num_accepted, num_rejected: counts of accepted / rejected attempts.
      converged: bool, True iff t1 was reached with a finite state within ``max_steps``.
      t: the time actually reached (== t1 when converged).
    """

    nfe: Array
    num_steps: Array
    num_accepted: Array
    num_rejected: Array
    converged: Array
    t: Array


def _rms(tree) -> Array:
    leaves = [jnp.ravel(leaf).astype(jnp.float32) for leaf in jax.tree_util.tree_leaves(tree)]
    flat = jnp.concatenate(leaves)
    return jnp.sqrt(jnp.mean(jnp.square(flat)))


def _scaled(err, x0, x1, rtol, atol):
    return jax.tree_util.tree_map(
        lambda e, a, b: e / (atol + rtol * jnp.maximum(jnp.abs(a), jnp.abs(b))), err, x0, x1)


def _all_finite(tree) -> Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]))


def _initial_step(field, t0, x0, f0, direction, rtol, atol, span):
    """Hairer's starting step: h = min(100 h0, (0.01 / max(d1, d2))^(1/5)); one extra evaluation."""
    sc = jax.tree_util.tree_map(lambda a: atol + rtol * jnp.abs(a), x0)
    d0 = _rms(jax.tree_util.tree_map(jnp.divide, x0, sc))
    d1 = _rms(jax.tree_util.tree_map(jnp.divide, f0, sc))
    h0 = jnp.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6 * span, 0.01 * d0 / d1)
    h0 = jnp.minimum(h0, span)
    f1 = field(t0 + direction * h0, tree_axpy(direction * h0, f0, x0))
    d2 = _rms(jax.tree_util.tree_map(lambda a, b, s: (a - b) / s, f1, f0, sc)) / h0
    dm = jnp.maximum(d1, d2)
    h1 = jnp.where(dm <= 1e-15, jnp.maximum(1e-6 * span, h0 * 1e-3), (0.01 / dm) ** 0.2)
    return jnp.minimum(jnp.minimum(100.0 * h0, h1), span)


def dopri5(field, t0, t1, x: PyTree, rtol: float = 1e-5, atol: float = 1e-5, max_steps: int = 4096,
           dt0: Optional[float] = None, safety: float = 0.9, factor_min: float = 0.2,
           factor_max: float = 10.0) -> tuple[PyTree, AdaptiveInfo]:
    """Solve ``dx/dt = field(t, x)`` from t0 to t1 (either direction) to tolerance rtol / atol.

    Args:
      field: ``field(t, x) -> dx/dt`` on the pytree x.
      t0, t1: start and end times (scalars; t1 < t0 integrates backwards).
      x: initial state at t0, any pytree of float arrays.
      rtol, atol: relative / absolute tolerances of the local error (per element, RMS norm).
      max_steps: the most step attempts (accepted + rejected) before giving up.
      dt0: initial |step|; None picks it with Hairer's heuristic (one extra evaluation).
      safety, factor_min, factor_max: PI controller constants.

    Returns:
      ``(x(t1), AdaptiveInfo)``; check ``info.converged`` (False: the state is at ``info.t``).

    Jit-compiled with ``field`` static (hashed by identity); the while loop is not
    reverse-mode differentiable (use a fixed grid with ``integrate`` for gradients).

    References: Dormand & Prince 1980; Hairer, Norsett & Wanner 1993, II.4; Gustafsson 1991.
    """
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"dopri5: max_steps must be an int >= 1, got {max_steps!r}")
    for name, val in (("rtol", rtol), ("atol", atol)):
        if not isinstance(val, jax.core.Tracer) and not float(val) >= 0:
            raise ValueError(f"dopri5: {name} must be >= 0, got {val}")
    if not isinstance(rtol, jax.core.Tracer) and not isinstance(atol, jax.core.Tracer) and rtol + atol <= 0:
        raise ValueError("dopri5: rtol and atol cannot both be 0")
    if dt0 is not None and not isinstance(dt0, jax.core.Tracer) and not float(dt0) > 0:
        raise ValueError(f"dopri5: dt0 must be > 0 (its sign follows t1 - t0), got {dt0}")
    if not 0 < factor_min < 1 < factor_max or not 0 < safety <= 1:
        raise ValueError("dopri5: need 0 < factor_min < 1 < factor_max and 0 < safety <= 1")

    x = jax.tree_util.tree_map(jnp.asarray, x)
    return _dopri5(field, jnp.float32(t0), jnp.float32(t1), x, jnp.float32(rtol), jnp.float32(atol), max_steps,
                   None if dt0 is None else jnp.float32(dt0), float(safety), float(factor_min), float(factor_max))


@functools.partial(jax.jit, static_argnums=(0, 6, 8, 9, 10))
def _dopri5(field, t0, t1, x, rtol, atol, max_steps, dt0, safety, factor_min, factor_max):
    direction = jnp.where(t1 >= t0, 1.0, -1.0).astype(jnp.float32)
    span = jnp.abs(t1 - t0)
    f0 = field(t0, x)
    if dt0 is None:
        h_abs = _initial_step(field, t0, x, f0, direction, rtol, atol, span)
        nfe0 = 2
    else:
        h_abs = jnp.minimum(dt0, span)
        nfe0 = 1

    a_mat = jnp.asarray([list(row) + [0.0] * (7 - len(row)) for row in _A], jnp.float32)  # [7, 7]
    c_vec = jnp.asarray(_C, jnp.float32)

    def combine(w, ks):  # sum_j w_j k_j over the stacked stages, leafwise: [7] x [7, ...] -> [...]
        return jax.tree_util.tree_map(lambda k: jnp.tensordot(w.astype(k.dtype), k, axes=1), ks)

    def attempt(t, x, k1, h):
        # The six new stages run in a fori_loop, so the field is traced (and compiled) once, not six
        # times: compile time matters with large networks.
        ks = jax.tree_util.tree_map(lambda k: jnp.zeros((7,) + k.shape, k.dtype).at[0].set(k), k1)

        def stage(i, ks):
            xi = tree_axpy(h, combine(a_mat[i], ks), x)
            ki = field(t + c_vec[i] * h, xi)
            return jax.tree_util.tree_map(lambda kk, k: kk.at[i].set(k.astype(kk.dtype)), ks, ki)

        ks = jax.lax.fori_loop(1, 7, stage, ks)
        x5 = tree_axpy(h, combine(jnp.asarray(_B5, jnp.float32), ks), x)  # k_7 was evaluated at x5
        err = jax.tree_util.tree_map(lambda e: h * e, combine(jnp.asarray(_E, jnp.float32), ks))
        return x5, jax.tree_util.tree_map(lambda k: k[6], ks), err

    def cond(c):
        t, _, _, h_abs, _, _, n_steps, _, _, stalled = c
        remaining = jnp.abs(t1 - t)
        return (remaining > 0) & (n_steps < max_steps) & ~stalled

    def body(c):
        t, x, k1, h_abs, err_prev, nfe, n_steps, n_acc, n_rej, _ = c
        remaining = jnp.abs(t1 - t)
        last = h_abs >= remaining
        h = direction * jnp.where(last, remaining, h_abs)
        x5, k7, err = attempt(t, x, k1, h)
        e = _rms(_scaled(err, x, x5, rtol, atol))
        e = jnp.where(jnp.isfinite(e) & _all_finite(x5), e, jnp.inf)
        accept = e <= 1.0
        e_safe = jnp.maximum(e, 1e-10)
        factor = safety * e_safe ** (-_EXPO) * err_prev ** _BETA
        factor = jnp.where(jnp.isfinite(factor), factor, factor_min)
        factor = jnp.clip(factor, factor_min, jnp.where(accept, factor_max, 1.0))
        t_new = jnp.where(accept, jnp.where(last, t1, t + h), t)
        x_new = jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), x5, x)
        k_new = jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), k7, k1)
        h_new = jnp.abs(h) * factor
        # stalled: the step no longer changes t in float32 (step-size underflow)
        stalled = (t + direction * h_new == t) & ~(accept & last)
        return (t_new, x_new, k_new, h_new, jnp.where(accept, jnp.maximum(e, 1e-4), err_prev),
                nfe + 6, n_steps + 1, n_acc + accept.astype(jnp.int32), n_rej + (~accept).astype(jnp.int32),
                stalled)

    i0 = jnp.zeros((), jnp.int32)
    init = (t0, x, f0, h_abs, jnp.float32(1e-4), jnp.int32(nfe0), i0, i0, i0, jnp.bool_(False))
    t, x, _, _, _, nfe, n_steps, n_acc, n_rej, _ = jax.lax.while_loop(cond, body, init)
    converged = (t == t1) & _all_finite(x)
    return x, AdaptiveInfo(nfe=nfe, num_steps=n_steps, num_accepted=n_acc, num_rejected=n_rej,
                           converged=converged, t=t)
