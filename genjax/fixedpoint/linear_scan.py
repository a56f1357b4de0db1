"""Linear recurrences h_t = A_t h_{t-1} + b_t: an associative scan (O(log T) depth) or a scan.

The pairs e_t = (A_t, b_t) compose associatively,

    e_i (then) e_j = (A_j A_i, A_j b_i + b_j),

so every prefix h_t = (e_1 ... e_t)(h_0) comes out of one ``lax.associative_scan`` of depth
O(log T) and work O(T n^3) (dense A) or O(T n) (diagonal A): ``linear_scan_associative``.
``linear_scan_sequential`` runs the recurrence itself by ``lax.scan``: depth O(T) but work
O(T n^2), and on a CPU with few cores (no parallel depth to exploit) it is 5-40x faster than
the associative scan and compiles in 0.3 s instead of 7-10 s (measured, 2-core XLA:CPU,
n = 4..64, T = 1e3..1e5). ``linear_scan`` chooses per backend: the sequential scan on CPU,
the associative scan on GPU / TPU. Both solve the same recurrence; they differ by rounding
only (tested equal to float32 round-off). Newton-type iterations use it forward, implicit
gradients in reverse.

Numerics: dense products use ``Precision.HIGHEST`` (no TF32 / bf16 passes on accelerators).
``h_0`` is folded into the first element (b_1 <- A_1 h_0 + b_1) instead of being carried as an
extra scan element, so the scan never forms the product A_T ... A_1 applied to a separate state;
products of contractive factors underflow harmlessly to zero. Long products of expanding
factors (|A| > 1 over many steps) overflow in any arithmetic; the solver in ``iteration.py``
contains the resulting non-finite values.

References: Blelloch 1990, "Prefix Sums and Their Applications"; Lim et al. 2024,
"Parallelizing Non-Linear Sequential Models over the Sequence Length" (ICLR), section 3.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
HIGHEST = lax.Precision.HIGHEST


def is_diagonal(A: Array, b: Array) -> bool:
    """True when A holds diagonals [T, n] rather than dense matrices [T, n, n]."""
    return A.ndim == b.ndim


def matvec(A: Array, v: Array) -> Array:
    """A v for dense A [..., n, n] (HIGHEST precision), diagonal A [..., n] or block-diagonal
    A [..., G, m, m] (G blocks of m = n / G entries); v: [..., n]."""
    if A.ndim == v.ndim:
        return A * v
    if A.ndim == v.ndim + 2:
        G, m = A.shape[-3], A.shape[-1]
        return matvec(A, v.reshape(v.shape[:-1] + (G, m))).reshape(v.shape)
    return jnp.einsum("...ij,...j->...i", A, v, precision=HIGHEST)


def _prepared(A, b, h0, reverse) -> tuple:
    """(A, b, h0, reverse) as arrays of one common dtype, shapes checked (ValueError naming them)."""
    A, b, h0 = jnp.asarray(A), jnp.asarray(b), jnp.asarray(h0)
    if b.ndim != 2:
        raise ValueError(f"linear_scan: b must have shape [T, n], got {b.shape}.")
    T, n = b.shape
    if T == 0:
        raise ValueError("linear_scan: b has T = 0 time steps.")
    if A.shape not in ((T, n), (T, n, n)):
        raise ValueError(
            f"linear_scan: A must have shape [T, n, n] = {(T, n, n)} (dense) or [T, n] = {(T, n)} "
            f"(diagonal), got {A.shape}.")
    if h0.shape != (n,):
        raise ValueError(f"linear_scan: h0 must have shape [n] = {(n,)}, got {h0.shape}.")
    dtype = jnp.result_type(A, b, h0)
    return A.astype(dtype), b.astype(dtype), h0.astype(dtype), bool(reverse)


def _combine_dense(first, second):
    A1, b1 = first
    A2, b2 = second
    A = jnp.matmul(A2, A1, precision=HIGHEST)
    b = jnp.einsum("...ij,...j->...i", A2, b1, precision=HIGHEST) + b2
    return A, b


def _combine_diagonal(first, second):
    A1, b1 = first
    A2, b2 = second
    return A2 * A1, A2 * b1 + b2


def parallel_backend() -> bool:
    """True where the default backend has parallel hardware for the associative scan (not CPU)."""
    return jax.default_backend() != "cpu"


def linear_scan(A: Array, b: Array, h0: Array, reverse: bool = False) -> Array:
    """Solves h_t = A_t h_{t-1} + b_t for t = 1..T from h_0; the solver is chosen per backend.

    ``linear_scan_associative`` (depth O(log T)) on GPU / TPU, ``linear_scan_sequential``
    (work O(T n^2), no O(n^3) products) on CPU. Arguments and result as in
    ``linear_scan_associative``.

    References: Blelloch 1990, "Prefix Sums and Their Applications"; Lim et al. 2024, "DEER".
    """
    if parallel_backend():
        return linear_scan_associative(A, b, h0, reverse)
    return linear_scan_sequential(A, b, h0, reverse)


def linear_scan_associative(A: Array, b: Array, h0: Array, reverse: bool = False) -> Array:
    """Solves h_t = A_t h_{t-1} + b_t for t = 1..T from h_0, in parallel over t.

    Args:
      A: [T, n, n] dense transition matrices, or [T, n] diagonals (elementwise products).
      b: [T, n] offsets.
      h0: [n] initial state h_0.
      reverse: if True, solves the backward recurrence h_t = A_t h_{t+1} + b_t for
        t = T..1 from h_{T+1} = h0 (what adjoint / smoothing passes need).

    Returns:
      hs: [T, n] with hs[t - 1] = h_t (h_0 itself is not included).

    References: Blelloch 1990, "Prefix Sums and Their Applications"; Lim et al. 2024, "DEER".
    """
    return _linear_scan(*_prepared(A, b, h0, reverse))


@functools.partial(jax.jit, static_argnums=3)
def _linear_scan(A, b, h0, reverse):
    # jit: one compiled program even when called eagerly (op-by-op dispatch of the scan's
    # O(log T) levels is slow); inside an outer jit this is inlined.
    first = -1 if reverse else 0
    b = b.at[first].add(matvec(A[first], h0))
    combine = _combine_diagonal if is_diagonal(A, b) else _combine_dense
    _, hs = lax.associative_scan(combine, (A, b), reverse=reverse)
    return hs


def linear_scan_sequential(A: Array, b: Array, h0: Array, reverse: bool = False) -> Array:
    """The same recurrence by ``lax.scan``: depth O(T), work O(T n^2) (the CPU solver)."""
    return _linear_scan_sequential(*_prepared(A, b, h0, reverse))


@functools.partial(jax.jit, static_argnums=3)
def _linear_scan_sequential(A, b, h0, reverse):
    def step(h, Ab):
        A_t, b_t = Ab
        h = matvec(A_t, h) + b_t
        return h, h

    _, hs = lax.scan(step, h0, (A, b), reverse=reverse)
    return hs
