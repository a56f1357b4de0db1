"""Sliding-window sweeps (ParaDiGMS): solve h_t = f(h_{t-1}, x_t) a window of W steps at a time.

    hs, info = solve_window(step_fn, h0, xs, params, picard(window=8, tol=1e-3), tol_scale=...)

Instead of sweeping the whole sequence, each sweep updates the W states after the last accepted
state h_s with one sweep of ``method`` (Picard, Newton, quasi-Newton, Jacobi: the same
``Method.linearize`` / ``solve_linear`` and the same contained ``iteration.sweep`` as ``solve``),

    h^(k+1)_{s+j} = A h^(k+1)_{s+j-1} + f(h^(k)_{s+j-1}, x_{s+j}) - A h^(k)_{s+j-1},  j = 1..W,

then accepts the leading states whose update is below tolerance and slides the window. With
e_j = max over the ``groups`` (independent samples) of mean |h^(k+1)_{s+j} - h^(k)_{s+j}|^2,

    ind    = first j with e_j > tol^2 scale_{s+j}^2 (W if none),
    stride = min(ind + 1, W).

State s+ind+1 is accepted too: it is computed from predecessors that are converged, and its
accepted value is the explicit f(h^(k)_{s+ind}, x) (exact when ind = 0, since h_s is exact).
So every sweep advances by at least one step and at most T sweeps are ever needed. New window
positions start from the last computed state. ``scale`` is a per-state tolerance scale
(ParaDiGMS: the std of the noise the sampler injects at that step, times sqrt(dim) inside the
mean).

``mesh``: the window's states and inputs are sharded over all devices of a Mesh along the time
axis (``NamedSharding`` constraints; XLA partitions the W step evaluations across devices).

References: Shih et al. 2023, "Parallel Sampling of Diffusion Models" (NeurIPS; Algorithm 1,
sliding window, tolerance relative to the noise variance); Lim et al. 2024, "DEER" (ICLR).
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from genjax._memo import memoized
from genjax.fixedpoint.implicit import with_implicit_gradient
from genjax.fixedpoint.iteration import default_tol, shift, sweep
from genjax.fixedpoint.linear_scan import linear_scan, matvec
from genjax.fixedpoint.methods import Info, Method
from genjax.fixedpoint.solve import _validate, sequential_scan

Array = jax.Array


class WindowInfo(NamedTuple):
    """Status of ``solve_window`` (the fields of ``Info`` plus the evaluation count).

    Attributes:
      converged: bool [] -- every state was accepted within tolerance and all are finite.
      num_iters: int32 [] -- sweeps performed (<= T).
      residual: float [] -- largest accepted relative update sqrt(e_j) / scale_j (<= tol).
      fell_back: bool [] -- True when ``fallback(...)`` replaced a failed solve by ``lax.scan``.
      evals: int32 [T] -- how many times step t was evaluated (T more if it fell back).
    """

    converged: Array
    num_iters: Array
    residual: Array
    fell_back: Array
    evals: Array


@memoized
def newton_blocks(groups: int) -> Method:
    """Newton (DEER) for a state made of ``groups`` independent blocks of m = n / groups entries.

    A_t = blockdiag(J_1, ..., J_G): the m columns of every block come from m Jacobian-vector
    products with the unit vector e_j repeated in each block (exact when the step does not couple
    the blocks, e.g. a batch of samples); each block's recurrence is its own ``linear_scan``
    (``vmap`` over the blocks), so a sweep costs O(T G m^3) instead of O(T (G m)^3).

    References: Lim et al. 2024, "DEER" (ICLR); Curtis, Powell & Reid 1974, "On the estimation
    of sparse Jacobian matrices" (grouped probes).
    """
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"newton_blocks: groups must be an int >= 1, got {groups!r}.")

    def linearize(fn, h, x, params, key):
        del x, params, key
        m = h.shape[0] // groups
        f, jvp = jax.linearize(fn, h)
        probes = jnp.tile(jnp.eye(m, dtype=h.dtype), (1, groups))          # [m, n]
        cols = jax.vmap(jvp)(probes)                                        # [m, n]
        return f, cols.reshape(m, groups, m).transpose(1, 2, 0)             # [G, m, m]

    def solve_linear(A, b, h0, hs):
        del hs
        T, n = b.shape
        m = n // groups
        out = jax.vmap(linear_scan, in_axes=(1, 1, 0))(A, b.reshape(T, groups, m), h0.reshape(groups, m))
        return out.transpose(1, 0, 2).reshape(T, n)

    return Method(f"newton(blocks={groups})", linearize, solve_linear, lambda hs, info, run: (hs, info))


def _matvec(A: Array, v: Array) -> Array:
    """A v for diagonal [.., n], dense [.., n, n] or block-diagonal [.., G, m, m] A; v: [.., n]."""
    if A.ndim == v.ndim + 2:
        G, m = A.shape[-3], A.shape[-1]
        return matvec(A, v.reshape(v.shape[:-1] + (G, m))).reshape(v.shape)
    return matvec(A, v)


def _shard(tree, mesh: Optional[Mesh]):
    """Constrain the leading (time) axis of every leaf to be split over all devices of ``mesh``."""
    if mesh is None:
        return tree
    auto = Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))
    sharding = NamedSharding(auto, PartitionSpec(tuple(mesh.axis_names)))  # GSPMD constraint
    return jax.tree_util.tree_map(lambda a: lax.with_sharding_constraint(a, sharding), tree)


def _check_window(method, window, tol, tol_scale, groups, num_iters, mesh, n, T):
    if method.linearize is None:
        raise ValueError("solve_window: method sequential() has no sweeps; call solve() instead.")
    if num_iters is not None:
        raise ValueError("solve_window: fixed-iteration mode (num_iters) is not available with a "
                         "sliding window; use max_iters.")
    window = method.window if window is None else window
    window = T if window is None else window
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"solve_window: window must be an int >= 1, got {window!r}.")
    tol = method.tol if tol is None else tol
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, (int, float))
                            or not math.isfinite(tol) or tol <= 0):
        raise ValueError(f"solve_window: tol must be a finite float > 0, got {tol!r}.")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or n % groups:
        raise ValueError(f"solve_window: groups must be an int >= 1 dividing n = {n}, got {groups!r}.")
    if tol_scale is not None and jnp.shape(tol_scale) != (T,):
        raise ValueError(f"solve_window: tol_scale must have shape [T] = {(T,)}, got {jnp.shape(tol_scale)}.")
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(f"solve_window: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}.")
    return min(window, T), tol


def solve_window(step_fn: Callable, h0: Array, xs, params, method: Method, *,
                 window: Optional[int] = None, tol: Optional[float] = None,
                 tol_scale: Optional[Array] = None, groups: int = 1,
                 max_iters: Optional[int] = None, init: Optional[Array] = None,
                 num_iters: Optional[int] = None, key: Optional[Array] = None,
                 mesh: Optional[Mesh] = None):
    """Solves h_t = step_fn(h_{t-1}, x_t, params), t = 1..T, by sliding-window sweeps.

    Args:
      step_fn, h0, xs, params, init, key: as in ``solve``.
      method: any sweeping ``fixedpoint`` method (not ``sequential()``).
      window: W, steps per sweep; default ``method.window``, else T (the whole sequence).
      tol: acceptance tolerance; default ``method.tol``, else 1e-5 (float32).
      tol_scale: [T] scale of state h_t's tolerance (default 1): accepted when
        max_g mean |update|^2 <= tol^2 tol_scale_t^2.
      groups: the state is ``groups`` independent blocks (samples) of n / groups entries; a
        state is accepted when every block is.
      max_iters: cap on sweeps; default T (enough: each sweep accepts >= 1 state).
      num_iters: not supported with a window (ValueError).
      mesh: shard the window's time axis over the devices of this Mesh.

    Returns:
      hs: [T, n] and ``WindowInfo(converged, num_iters, residual, fell_back, evals)``;
      gradients by implicit differentiation, as for ``solve``.

    References: Shih et al. 2023, "Parallel Sampling of Diffusion Models" (ParaDiGMS).
    """
    if not isinstance(method, Method):
        raise TypeError(f"solve_window: method must be a fixedpoint.Method, got {type(method).__name__}.")
    h0, T, max_iters_v, tol_v = _validate(step_fn, h0, xs, params, method, max_iters,
                                          tol if tol is not None else method.tol, init, None, key)
    max_iters = T if max_iters is None else max_iters_v
    W, tol = _check_window(method, window, tol, tol_scale, groups, num_iters, mesh, h0.shape[0], T)
    tol = default_tol(h0.dtype) if tol is None else float(tol)
    scale = jnp.ones((T,), h0.dtype) if tol_scale is None else jnp.asarray(tol_scale, h0.dtype)

    x0 = jax.tree_util.tree_map(lambda a: a[0], xs)
    converted, consts = jax.closure_convert(step_fn, h0, x0, params)

    def step(h, xa, P):  # xa = (x_t, scale_t): the scale rides along as per-step data
        return converted(h, xa[0], P[0], *P[1]).astype(h.dtype)

    def linearize_all(hs, sweep_key, xs_w, P, h_start):
        h_prev = shift(hs, h_start)

        def one(h, x, k):
            return method.linearize(lambda v: step(v, x, P), h, x[0], P[0], k)

        if sweep_key is None:
            f, A = jax.vmap(lambda h, x: one(h, x, None))(h_prev, xs_w)
        else:
            f, A = jax.vmap(one)(h_prev, xs_w, jax.random.split(sweep_key, W))
        return A, f - _matvec(A, h_prev), f

    def forward(h0, xa, P, init, key):
        n = h0.shape[0]
        pad = jax.tree_util.tree_map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], W - 1, 0)]), xa)
        guess0 = jnp.broadcast_to(h0, (T, n)) if init is None else jnp.asarray(init, h0.dtype)
        H = jnp.concatenate([h0[None], guess0, jnp.broadcast_to(h0, (W - 1, n))]).astype(h0.dtype)
        front0 = jnp.asarray(0 if init is None else T, jnp.int32)
        idx_w, idx_t = jnp.arange(W), jnp.arange(T)

        def body(carry):
            k, s, front, H, evals, res = carry
            h_start = lax.dynamic_index_in_dim(H, s, keepdims=False)
            guess = lax.dynamic_slice_in_dim(H, s + 1, W)
            fresh = (s + 1 + idx_w) > front          # never computed yet: start from the frontier
            guess = jnp.where(fresh[:, None], lax.dynamic_index_in_dim(H, front, keepdims=False), guess)
            xs_w = jax.tree_util.tree_map(lambda a: lax.dynamic_slice_in_dim(a, s, W), pad)
            guess, xs_w = _shard((guess, xs_w), mesh)
            sweep_key = None if key is None else jax.random.fold_in(key, k)
            A, b, explicit = linearize_all(guess, sweep_key, xs_w, P, h_start)
            new, _, _ = sweep(lambda hs, kk: (A, b, explicit), method.solve_linear, h_start, guess, None)
            new = _shard(new, mesh)
            err = jnp.max(jnp.mean(jnp.square(new - guess).reshape(W, groups, -1), -1), -1)   # [W]
            sc = xs_w[1]
            ok = (err <= jnp.square(tol * sc)) & (s + idx_w < T)
            ind = jnp.where(jnp.all(ok), W, jnp.argmin(ok))
            new = jnp.where((idx_w == ind)[:, None], explicit, new)
            accepted = idx_w < ind
            rel = jnp.where(accepted, jnp.sqrt(err) / jnp.where(sc > 0, sc, 1.0), 0.0)
            H = lax.dynamic_update_slice_in_dim(H, new, s + 1, 0)
            evals = evals + ((idx_t >= s) & (idx_t < s + W)).astype(jnp.int32)
            s_next = jnp.minimum(s + jnp.minimum(ind + 1, W), T)
            return k + 1, s_next, s + W, H, evals, jnp.maximum(res, jnp.max(rel))

        def cond(carry):
            k, s = carry[0], carry[1]
            return (s < T) & (k < max_iters)

        zero = jnp.asarray(0, jnp.int32)
        k, s, _, H, evals, res = lax.while_loop(
            cond, body, (zero, zero, front0, H, jnp.zeros((T,), jnp.int32), jnp.zeros((), h0.dtype)))
        hs = H[1:T + 1]
        ok = (s >= T) & jnp.all(jnp.isfinite(hs))
        hs, info = method.finalize(hs, Info(ok, k, res, jnp.asarray(False)),
                                   lambda: sequential_scan(step, h0, xa, P))
        evals = evals + info.fell_back.astype(jnp.int32)
        return hs, WindowInfo(info.converged, info.num_iters, info.residual, info.fell_back, evals)

    run = with_implicit_gradient(forward, step)
    return run(h0, (xs, scale), (params, list(consts)), init, key)
