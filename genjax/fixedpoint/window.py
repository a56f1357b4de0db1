"""Sliding-window sweeps (ParaDiGMS): solve h_t = f(h_{t-1}, x_t) a window of W steps at a time.

    hs, info = solve_window(step_fn, h0, xs, params, picard(), window=8, tol=1e-3, tol_scale=...)

Instead of sweeping the whole sequence, each sweep updates the W states after the last accepted
state h_s with one sweep of ``method`` (Picard, Newton, quasi-Newton, Jacobi: the same
``Method.linearize`` / ``solve_linear`` and the same contained ``newton_sweep`` as ``solve``),

    h^(k+1)_{s+j} = A h^(k+1)_{s+j-1} + f(h^(k)_{s+j-1}, x_{s+j}) - A h^(k)_{s+j-1},  j = 1..W,

then accepts the leading states whose update is below tolerance and slides the window:

    ok_j   = every entry of |h^(k+1)_{s+j} - h^(k)_{s+j}| <= scale_{s+j} (tol + rtol |h^(k+1)_{s+j}|),
    ind    = first j with not ok_j (W if none),
    stride = min(ind + 1, W).

State s+ind+1 is accepted too: it is computed from predecessors that are converged, and its
accepted value is the explicit f(h^(k)_{s+ind}, x) (exact when ind = 0, since h_s is exact).
So every sweep advances by at least one step and at most T sweeps are ever needed. New window
positions start from the last computed state. ``scale`` is a per-state tolerance scale.

What the tolerance bounds. An accepted state's last update bounds its residual
r_j = h_j - f(h_{j-1}) to first order (for Picard r_j = (I - J_j) update_{j-1}), and the
error of the result obeys e_j = J_j e_{j-1} + r_j, so |e_T| <= sum_j prod_{i>j} |J_i| |r_j|:
with non-expansive steps and scale = 1 / T, the final error is within about
tol + rtol |h| per entry (``samplers.sample_parallel`` uses exactly this).

``mesh``: the window's states and inputs are sharded over all devices of a Mesh along the time
axis (``NamedSharding`` constraints; XLA partitions the W step evaluations across devices).

References: Shih et al. 2023, "Parallel Sampling of Diffusion Models" (NeurIPS; Algorithm 1,
sliding window, tolerance relative to the noise variance); Lim et al. 2024, "DEER" (ICLR).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from genjax._memo import memoized
from genjax.fixedpoint import checks
from genjax.fixedpoint.implicit import with_implicit_gradient
from genjax.fixedpoint.linear_scan import linear_scan
from genjax.fixedpoint.solve import closure_converted, sequential_scan
from genjax.fixedpoint.strategy import Info, Method, identity_finalize
from genjax.fixedpoint.sweep import newton_sweep

Array = jax.Array


class WindowInfo(NamedTuple):
    """Status of ``solve_window`` (the fields of ``Info`` plus the evaluation count).

    Attributes:
      converged: bool [] -- every state was accepted within tolerance and all are finite.
      num_iters: int32 [] -- sweeps performed (<= T).
      residual: float [] -- largest entry of an accepted state's last update.
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

    return Method(f"newton(blocks={groups})", linearize, solve_linear, identity_finalize)


def _shard(tree, mesh: Optional[Mesh]):
    """Constrain the leading (time) axis of every leaf to be split over all devices of ``mesh``."""
    if mesh is None:
        return tree
    auto = Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))
    sharding = NamedSharding(auto, PartitionSpec(tuple(mesh.axis_names)))  # GSPMD constraint
    return jax.tree_util.tree_map(lambda a: lax.with_sharding_constraint(a, sharding), tree)


def _check_window(method, window, tol_scale, mesh, T):
    where = "solve_window"
    if method.linearize is None:
        raise ValueError(f"{where}: method sequential() has no sweeps; call solve() instead.")
    window = T if window is None else window
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"{where}: window must be an int >= 1, got {window!r}.")
    if tol_scale is not None and jnp.shape(tol_scale) != (T,):
        raise ValueError(f"{where}: tol_scale must have shape [T] = {(T,)}, got {jnp.shape(tol_scale)}.")
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(f"{where}: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}.")
    return min(window, T)


def solve_window(step_fn: Callable, h0: Array, xs, params, method: Method, *,
                 window: Optional[int] = None, tol: Optional[float] = None,
                 rtol: Optional[float] = None, tol_scale: Optional[Array] = None,
                 max_iters: Optional[int] = None, init: Optional[Array] = None,
                 key: Optional[Array] = None, mesh: Optional[Mesh] = None):
    """Solves h_t = step_fn(h_{t-1}, x_t, params), t = 1..T, by sliding-window sweeps.

    Args:
      step_fn, h0, xs, params, init, key: as in ``solve``.
      method: any sweeping ``fixedpoint`` method (not ``sequential()``).
      window: W, steps per sweep; default T (the whole sequence).
      tol, rtol: acceptance tolerance: state h_t is accepted when every entry of its last
        update is <= tol_scale_t (tol + rtol |h_t|); tol defaults to 1e-5 (float32) / 1e-10
        (float64), rtol to 0.
      tol_scale: [T] per-state scale of the tolerance (default 1).
      max_iters: cap on sweeps; default T (enough: each sweep accepts >= 1 state).
      mesh: shard the window's time axis over the devices of this Mesh.

    Returns:
      hs: [T, n] and ``WindowInfo(converged, num_iters, residual, fell_back, evals)``;
      gradients by implicit differentiation, as for ``solve``.

    References: Shih et al. 2023, "Parallel Sampling of Diffusion Models" (ParaDiGMS).
    """
    h0, T, max_iters_v, tol, rtol = checks.check_solve(
        "solve_window", step_fn, h0, xs, params, method, max_iters, tol,
        0.0 if rtol is None else rtol, init, None, key)
    max_iters = T if max_iters is None else max_iters_v
    W = _check_window(method, window, tol_scale, mesh, T)
    scale = jnp.ones((T,), h0.dtype) if tol_scale is None else jnp.asarray(tol_scale, h0.dtype)
    step_x, P = closure_converted(step_fn, h0, xs, params)

    def step(h, xa, P):  # xa = (x_t, scale_t): the scale rides along as per-step data
        return step_x(h, xa[0], P)

    lin = method.linearize    # the user's diagonal(h, x, params) sees x_t and params
    method = method._replace(linearize=lambda fn, h, xa, P, k: lin(fn, h, xa[0], P[0], k))

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
            new, explicit = newton_sweep(step, guess, h_start, xs_w, P, method, sweep_key)
            new = _shard(new, mesh)
            update = jnp.abs(new - guess)
            ok = jnp.all(update <= xs_w[1][:, None] * (tol + rtol * jnp.abs(new)), axis=1)
            ok = ok & (s + idx_w < T)
            ind = jnp.where(jnp.all(ok), W, jnp.argmin(ok))
            new = jnp.where((idx_w == ind)[:, None], explicit, new)
            rel = jnp.where((idx_w < ind)[:, None], update, 0.0)
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
    return run(h0, (xs, scale), P, init, key)
