"""Parallel-in-time sampling: a fixed-step sampler solved as a fixed point over its time grid.

    x0, info = samplers.sample_parallel(denoiser, s, solver, ts, x_init, key,
                                        method=fixedpoint.picard(), window=8, tol=1e-3)

The recurrence view. A ``Sampler`` step i maps (x_i, state_i) to (x_{i+1}, state_{i+1}) with
the coefficients c_i = ``prepare(s, ts)[i]`` and the key ``fold_in(key, i)`` -- the very key the
sequential loop uses, so the noise is drawn up front exactly as there. With

    h_i = concat_b [x_i[b], state_i[b]]   (flattened per sample b: [B * m]),
    h_{i+1} = f(h_i, (c_i, key_i)) = flatten(solver.step(denoiser, c_i, x_i, state_i, key_i)),

the trajectory h_1..h_N is the root of r_i = h_i - f(h_{i-1}), which ``fixedpoint.solve_window``
finds with any ``fixedpoint`` method:

- ``picard()`` with ``window=W``: ParaDiGMS -- a Picard sweep over a sliding window of W steps;
- ``newton()``: DEER over the whole grid; the Jacobian of a batch step is block diagonal (samples
  do not interact), so its B blocks [m, m] come from m Jacobian-vector products of the step
  (``fixedpoint.newton_blocks``) and are scanned per sample (``vmap`` over the batch);
- ``quasi_newton(num_probes=p)``: the diagonal of J from p JVPs (Hutchinson): matrix-free, the
  choice where m is large (images), never forming an [m, m] block (``quasi_newton()``, the
  exact diagonal, costs m JVPs per step);
- ``jacobi()``, ``fallback(...)``, ``damped(...)`` likewise; ``sequential()`` is the plain loop.

A diagonal A_t (Picard, quasi-Newton) is set to 0 on the sampler state (DPM-Solver++'s D_{i-1}):
that state is a function of the previous x alone (its own Jacobian block is exactly 0), so the
sweep integrates x (Picard) and takes the history from the last iterate. Any A_t has the same
fixed point; A_t = I on the history would make it a running sum and cost about N sweeps.

Tolerance: what ``tol`` bounds. State x_{i+1} is accepted when every entry of its last update
is <= (tol / N)(1 + |x_{i+1}|) (``solve_window`` with tol_scale = 1 / N, rtol = tol). Its
residual x_{i+1} - step(x_i) is then of that size, and the N residuals add up along the
(non-expansive) sampler steps, so the answer obeys

    max |x_parallel - x_sequential| <= tol (1 + max |x_sequential|)        (measured, tested)

on DDIM, Heun, DPM-Solver++(2M) and ancestral sampling, 50-200 steps, VP, EDM and rectified
schedules. Each sweep accepts >= 1 step, so ``info.num_iters <= N``. ``info.nfe`` counts the
denoiser evaluations of the sweeps (steps inside the grid, each as the sequential sampler counts
it); Newton's JVPs (m per step and sweep) and quasi-Newton's probes come on top.

``mesh``: the window's time axis is sharded over the mesh's devices (each evaluates W / #devices
steps of the window), which is where wall-clock speed comes from on accelerators.

References: Shih et al. 2023, "Parallel Sampling of Diffusion Models" (ParaDiGMS, NeurIPS);
Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence Length" (DEER).
"""
from __future__ import annotations

import functools
import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from genjax import fixedpoint
from genjax.samplers.base import Sampler, SampleInfo, checked_inputs, run
from genjax.schedules import Schedule

Array = jax.Array

DEFAULT_TOL = 1e-3           # final error <= tol (1 + max|x|) (module docstring)
MAX_NEWTON_BLOCK = 256       # newton(): m JVPs and an [m, m] block per sample and step
_NEWTON = fixedpoint.newton()


def _layout(x_init, state0):
    """(flatten(x, state) -> h [B m], unflatten(h) -> (x, state), m) for per-sample stacking."""
    leaves, treedef = jax.tree_util.tree_flatten((x_init, state0))
    B, dtype = x_init.shape[0], x_init.dtype
    shapes = [leaf.shape for leaf in leaves]
    sizes = [math.prod(sh[1:]) for sh in shapes]
    cuts = np.cumsum(sizes)[:-1].tolist()

    def flatten(x, state):
        parts = [leaf.reshape(B, -1).astype(dtype) for leaf in jax.tree_util.tree_leaves((x, state))]
        return jnp.concatenate(parts, axis=1).reshape(-1)

    def unflatten(h):
        parts = jnp.split(h.reshape(B, sum(sizes)), cuts, axis=1)
        out = [p.reshape(sh).astype(leaf.dtype) for p, sh, leaf in zip(parts, shapes, leaves)]
        return jax.tree_util.tree_unflatten(treedef, out)

    return flatten, unflatten, sum(sizes)


def _is_newton(method) -> bool:
    return method.linearize is _NEWTON.linearize and method.solve_linear is _NEWTON.solve_linear


def _resolve_method(method, B: int, m: int, mask: Optional[Array]):
    """newton() on a batch -> exact per-sample blocks; diagonal A -> 0 on the sampler state."""
    if mask is not None and method.linearize is not _NEWTON.linearize:
        lin = method.linearize

        def linearize(fn, h, x, params, key):
            f, A = lin(fn, h, x, params, key)
            return f, (A * mask if A.ndim == h.ndim else A)

        method = method._replace(linearize=linearize)
    if _is_newton(method):
        blocks = fixedpoint.newton_blocks(B)
        return method._replace(name=f"newton(blocks={B})", linearize=blocks.linearize,
                               solve_linear=blocks.solve_linear)
    return method


@functools.partial(jax.jit, static_argnames=("s", "solver", "method", "window", "tol", "mesh",
                                             "save_trajectory", "denoise_final"))
def _sample_parallel(denoiser, s, solver, method, window, tol, ts, x_init, key, mesh, save_trajectory,
                     denoise_final):
    coeffs = solver.prepare(s, ts)
    n_steps = ts.shape[0] - 1
    state0 = solver.init(x_init)
    flatten, unflatten, m = _layout(x_init, state0)
    B = x_init.shape[0]
    steps = jnp.arange(n_steps)
    typed = key is not None and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if solver.stochastic:   # step i's key is fold_in(key, i), as in the sequential loop
        kd = jax.vmap(lambda i: jax.random.fold_in(key, i))(steps)
        kd = jax.random.key_data(kd) if typed else kd
        wrap = (lambda d: jax.random.wrap_key_data(d, impl=jax.random.key_impl(key))) if typed else (lambda d: d)
        xs = (coeffs, kd)
    else:
        xs = (coeffs, steps)

    def key_of(inp):
        return wrap(inp[1]) if solver.stochastic else None

    def step_fn(h, inp, den):
        x, state = unflatten(h)
        x1, state1, _ = solver.step(den, inp[0], x, state, key_of(inp))
        return flatten(x1, state1)

    m_x = math.prod(x_init.shape[1:])
    mask = None if m == m_x else jnp.tile((jnp.arange(m) < m_x).astype(x_init.dtype), B)
    method = _resolve_method(method, B, m, mask)
    probe_key = None
    if method.needs_key:
        probe_key = jax.random.key(0) if key is None else jax.random.fold_in(key, n_steps)
    hs, info = fixedpoint.solve_window(step_fn, flatten(x_init, state0), xs, denoiser, method,
                                       window=window, tol=tol, rtol=tol,
                                       tol_scale=jnp.full((n_steps,), 1.0 / n_steps, x_init.dtype),
                                       max_iters=n_steps, key=probe_key, mesh=mesh)
    x = unflatten(hs[-1])[0]

    def count(inp):   # the step's own NFE count, with a free stand-in denoiser
        return solver.step(lambda y, t: y, inp[0], x_init, state0, key_of(inp))[2]

    nfe = jnp.sum(info.evals * jax.vmap(count)(xs)).astype(jnp.int32)
    traj = None
    if save_trajectory:
        traj = jnp.concatenate([x_init[None], jax.vmap(lambda h: unflatten(h)[0])(hs)], 0)
    if denoise_final:
        x = denoiser(x, ts[-1])
        nfe = nfe + 1
    return x, SampleInfo(nfe=nfe, trajectory=traj, num_iters=info.num_iters, converged=info.converged)


def check_parallel(solver, method, window, tol, mesh) -> None:
    """Raise (before tracing) unless ``method`` can run ``solver`` in parallel over the grid."""
    if not isinstance(solver, Sampler):
        name = getattr(solver, "__name__", type(solver).__name__)
        raise ValueError(f"sample_parallel: {name} has no recurrence form; parallel-in-time sampling needs "
                         "a fixed-step samplers.Sampler (x_{i+1} = step(x_i, c_i, key_i)), e.g. samplers.ddim(); "
                         "adaptive solvers (sample_adaptive, dopri5) choose their steps sequentially")
    if not isinstance(method, fixedpoint.Method):
        raise TypeError(f"sample_parallel: method must be a genjax.fixedpoint method (e.g. fixedpoint.picard()), "
                        f"got {type(method).__name__}")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise ValueError(f"sample_parallel: window must be an int >= 1 (or None: the whole grid), got {window!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0 or not math.isfinite(tol):
        raise ValueError(f"sample_parallel: tol must be a finite float > 0, got {tol!r}")
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(f"sample_parallel: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    if mesh is not None and method.linearize is None:
        raise ValueError("sample_parallel: mesh shards a parallel window; sequential() has none")


def sample_parallel(denoiser: Callable, s: Schedule, solver: Sampler, ts: Array, x_init: Array, key=None, *,
                    method: Optional[fixedpoint.Method] = None, window: Optional[int] = None,
                    tol: float = DEFAULT_TOL, mesh: Optional[Mesh] = None, save_trajectory: bool = False,
                    denoise_final: bool = False) -> tuple[Array, SampleInfo]:
    """``samplers.sample``'s answer, found by parallel sweeps over the time grid.

    Args:
      denoiser, s, solver, ts, x_init, key, save_trajectory, denoise_final: as in ``sample``.
      method: a ``fixedpoint`` method; default ``fixedpoint.picard()`` (ParaDiGMS).
      window: steps per sweep (sliding window); default None, the whole grid.
      tol: the final-error tolerance (default 1e-3): states are accepted so that
        max |x - x_sequential| <= tol (1 + max |x_sequential|) (module docstring).
      mesh: shard each window's time axis over the devices of this Mesh.

    Returns:
      ``(x, SampleInfo(nfe, trajectory, num_iters, converged))``; x: [B, ...]. ``num_iters`` is
      the number of parallel sweeps (<= N); ``converged`` is False if a state failed to settle
      (e.g. non-finite values); the answer then is the last iterate, not a silent success.

    Raises:
      ValueError / TypeError before tracing: a solver with no recurrence form, a window < 1, a
      tol <= 0, newton() on samples of more than 256 numbers, and every check of ``sample``.

    References: Shih et al. 2023, "Parallel Sampling of Diffusion Models"; Lim et al. 2024, "DEER".
    """
    method = fixedpoint.picard() if method is None else method
    check_parallel(solver, method, window, tol, mesh)
    denoiser, ts, x_init, key = checked_inputs(denoiser, s, solver, ts, x_init, key, denoise_final)
    if method.linearize is None:   # sequential(): the plain loop
        return run(denoiser, s, solver, ts, x_init, key, save_trajectory, denoise_final)
    state_shape = jax.eval_shape(solver.init, x_init)
    for leaf in jax.tree_util.tree_leaves(state_shape):
        if leaf.ndim < 1 or leaf.shape[0] != x_init.shape[0]:
            raise ValueError(f"sample_parallel: the {solver.name} sampler's state has a leaf of shape "
                             f"{leaf.shape} without the batch axis B = {x_init.shape[0]}; no per-sample recurrence")
    m = sum(math.prod(leaf.shape[1:]) for leaf in jax.tree_util.tree_leaves((x_init, state_shape)))
    if _is_newton(method) and m > MAX_NEWTON_BLOCK:
        raise ValueError(f"sample_parallel: method=newton() forms a dense [m, m] Jacobian block per sample and "
                         f"step from m JVPs, m = {m} > {MAX_NEWTON_BLOCK}; use fixedpoint.quasi_newton("
                         "num_probes=...) (a diagonal from a few JVPs, matrix-free) or fixedpoint.picard()")
    n_steps = int(np.shape(ts)[0] - 1)
    window = n_steps if window is None else min(window, n_steps)
    return _sample_parallel(denoiser, s, solver, method, window, float(tol), ts, x_init, key, mesh,
                            save_trajectory, denoise_final)
