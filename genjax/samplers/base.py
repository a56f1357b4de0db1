"""The sampler strategy and ``sample``: one jit-compiled ``lax.scan`` over a time grid.

A diffusion sampler is ``Sampler(prepare, init, step, order, stochastic, check, name)``:

    c          = prepare(s, ts)                         # per-step coefficients, leaves [N, ...]
    state      = init(x)
    x, state, nfe = step(denoiser, c_i, x, state, key_i)  # step i: ts[i] -> ts[i + 1]

Every schedule-dependent number (alpha, sigma, their derivatives, log-SNR steps, noise scales,
multistep weights) is computed once for the whole grid in ``prepare``, vectorised over the grid
before the scan; a step touches only the denoiser and a few fused multiply-adds, so sampling
costs NFE network calls and nothing more. ``nfe`` is the exact number of denoiser calls made.

The factories (``heun()``, ``ddim(eta)``, ...) are memoised on their arguments, so equal
arguments give the same ``Sampler`` and ``sample`` compiles once per (denoiser, schedule,
sampler, shapes); hold on to the denoiser closure for the same reason.

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models"; Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations".
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from genjax._memo import memoized  # noqa: F401  (re-exported for the sampler modules)
from genjax.schedules import Schedule

Array = jax.Array


class Sampler(NamedTuple):
    """A diffusion sampler (see the module docstring for the contract of each function).

    Attributes:
      prepare: ``prepare(s, ts) -> pytree`` of per-step coefficients with leading axis N.
      init: ``init(x) -> state`` (multistep history etc.).
      step: ``step(denoiser, c, x, state, key) -> (x, state, nfe)``.
      order: global order of the deterministic part (ODE solvers) or weak order (SDE solvers).
      stochastic: whether steps draw noise (then ``sample`` needs a key).
      check: ``check(s, ts)``: extra eager validation on a concrete grid (raises ValueError).
      name: a short name for tables and figures.
    """

    prepare: Callable
    init: Callable
    step: Callable
    order: int
    stochastic: bool
    check: Callable
    name: str


class SampleInfo(NamedTuple):
    """Diagnostics of ``sample``.

    Attributes:
      nfe: int32, the exact number of denoiser evaluations.
      trajectory: [N + 1, B, ...] states on the grid (``x_init`` first), or None.
      num_iters: int32, sequential steps (N) or parallel sweeps (``sample_parallel``).
      converged: bool, True for the sequential loop; for a parallel solve, whether every step
        was accepted within tolerance (see ``samplers.parallel``).
    """

    nfe: Array
    trajectory: Optional[Array]
    num_iters: Optional[Array] = None
    converged: Optional[Array] = None


def no_check(s, ts) -> None:
    del s, ts


def check_variances(caller: str, variances) -> np.ndarray:
    """Reverse variances as a concrete float32 [N] array, or a clear error naming ``caller``."""
    if isinstance(variances, jax.core.Tracer):
        raise TypeError(f"{caller}: variances must be concrete (compute them before building the sampler)")
    var = np.asarray(variances, np.float32)
    if var.ndim != 1 or var.size == 0 or not np.all(np.isfinite(var)) or np.any(var < 0):
        raise ValueError(f"{caller}: variances must be a finite, non-negative, non-empty 1-D array; got "
                         f"shape {var.shape}")
    return var


def variances_check(caller: str, var):
    """The ``Sampler.check`` of a sampler built with ``variances``: one per step of ts."""
    def check(s, ts):
        del s
        if var is not None and var.shape[0] != np.shape(ts)[0] - 1:
            raise ValueError(f"{caller}: variances has {var.shape[0]} entries but ts has "
                             f"{np.shape(ts)[0] - 1} steps")
    return check


def sigma_is_zero(s: Schedule, t) -> Array:
    """True where sigma(t) == 0 (the clean end t = 0 of EDM / rectified-flow grids)."""
    return jnp.exp(s.log_sigma(t)) == 0.0


def clean_end(s: Schedule, t) -> bool:
    """Host-side ``sigma(t) == 0`` for a concrete time t; also valid while tracing an outer jit."""
    with jax.ensure_compile_time_eval():
        return bool(sigma_is_zero(s, jnp.float32(t)))


def check_schedule_grid(s: Schedule, ts, name: str = "ts") -> None:
    """Raise ValueError unless ts is a strictly decreasing 1-D grid in [t_min, t_max].

    The last time may also be a clean end with sigma(ts[-1]) == 0 (``time_grid(..., to_zero=True)``).
    Tracers are checked for shape only.
    """
    if not isinstance(s, Schedule):
        raise TypeError(f"s must be a genjax.schedules.Schedule, got {type(s).__name__}")
    shape = np.shape(ts)
    if len(shape) != 1 or shape[0] < 2:
        raise ValueError(f"{name} must be a 1-D grid of at least 2 times (num_steps + 1), got shape {shape}")
    if isinstance(ts, jax.core.Tracer):
        return
    arr = np.asarray(ts, np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}")
    if not np.all(np.diff(arr) < 0):
        raise ValueError(f"{name} must be strictly decreasing (t_max -> t_min), got {arr}")
    tol = 1e-6 * max(1.0, abs(s.t_max))
    if arr[0] > s.t_max + tol:
        raise ValueError(f"{name}[0] = {arr[0]} exceeds t_max = {s.t_max} of the {s.name} schedule")
    head_ok = np.all(arr[:-1] >= s.t_min - tol)
    last_ok = arr[-1] >= s.t_min - tol or clean_end(s, arr[-1])
    if not (head_ok and last_ok):
        raise ValueError(f"{name} must lie in [t_min, t_max] = [{s.t_min}, {s.t_max}] for the {s.name} "
                         f"schedule (the last time may be a clean end with sigma = 0); got {arr}")


def _checked_inputs(denoiser, s, solver, ts, x_init, key, denoise_final):
    """Check ``sample``'s arguments before tracing; return (Partial denoiser, ts f32, x_init, key)."""
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable denoiser(x, t), got {type(denoiser).__name__}")
    if not isinstance(solver, Sampler):
        raise TypeError(f"solver must be a genjax.samplers.Sampler (e.g. samplers.heun()), got "
                        f"{type(solver).__name__}; integrators.Solver steppers run through integrators.integrate")
    check_schedule_grid(s, ts)
    solver.check(s, ts)
    if np.ndim(x_init) < 1:
        raise ValueError(f"x_init must have a batch axis, x_init: [B, ...]; got shape {np.shape(x_init)}")
    if solver.stochastic and key is None:
        raise ValueError(f"the {solver.name} sampler is stochastic: pass a PRNG key")
    if denoise_final and not isinstance(ts, jax.core.Tracer) and clean_end(s, np.asarray(ts)[-1]):
        raise ValueError("sample: denoise_final needs sigma(ts[-1]) > 0; the grid already ends at a clean time")
    if not isinstance(denoiser, jax.tree_util.Partial):
        denoiser = jax.tree_util.Partial(denoiser)   # arrays it carries become traced arguments
    return (denoiser, jnp.asarray(ts, jnp.float32), jnp.asarray(x_init),
            key if solver.stochastic else None)


@functools.partial(jax.jit, static_argnames=("s", "solver", "save_trajectory", "denoise_final"))
def _sample(denoiser, s, solver, ts, x_init, key, save_trajectory, denoise_final):
    coeffs = solver.prepare(s, ts)
    n = ts.shape[0] - 1

    def body(carry, inp):
        x, state, nfe = carry
        i, c = inp
        k = None if key is None else jax.random.fold_in(key, i)
        x, state, n_i = solver.step(denoiser, c, x, state, k)
        return (x, state, nfe + n_i), (x if save_trajectory else None)

    init = (x_init, solver.init(x_init), jnp.zeros((), jnp.int32))
    (x, _, nfe), traj = jax.lax.scan(body, init, (jnp.arange(n), coeffs))
    if save_trajectory:
        traj = jnp.concatenate([x_init[None], traj], 0)
    if denoise_final:
        x = denoiser(x, ts[-1])
        nfe = nfe + 1
    return x, SampleInfo(nfe=nfe, trajectory=traj, num_iters=jnp.asarray(n, jnp.int32), converged=jnp.asarray(True))


def sample(denoiser: Callable, s: Schedule, solver: Sampler, ts: Array, x_init: Array, key=None, *,
           save_trajectory: bool = False, denoise_final: bool = False) -> tuple[Array, SampleInfo]:
    """Run a diffusion sampler from ``x_init`` at ``ts[0]`` down the grid ``ts``: x0, info.

    Args:
      denoiser: ``denoiser(x, t) -> E[x_0 | x_t]`` (any closure, e.g. a guided denoiser; a
        ``jax.tree_util.Partial`` carrying network params passes them as traced arguments, so new
        params do not recompile).
      s: the schedule (static: hashable by value).
      solver: a ``Sampler`` such as ``samplers.heun()`` (static).
      ts: [N + 1] strictly decreasing times in [t_min, t_max] (``schedules.time_grid``), optionally
        ending at a clean time with sigma = 0.
      x_init: [B, ...] initial state at ts[0], usually ``s.prior_sample(shape, key)``.
      key: PRNG key for stochastic samplers (step i uses ``fold_in(key, i)``); may be None for
        deterministic ones.
      save_trajectory: also return every state on the grid, [N + 1, B, ...].
      denoise_final: return ``D(x_N, ts[-1])`` (one more evaluation): the Tweedie estimate of the
        clean sample, removing the residual noise sigma(t_min) (not allowed where sigma(ts[-1]) = 0).

    Returns:
      ``(x, SampleInfo(nfe, trajectory, num_iters, converged))``; ``x``: [B, ...].

    References: Karras et al. 2022 (Algorithms 1-2); Song et al. 2021; Lu et al. 2022.
    """
    denoiser, ts, x_init, key = _checked_inputs(denoiser, s, solver, ts, x_init, key, denoise_final)
    return _sample(denoiser, s, solver, ts, x_init, key, save_trajectory, denoise_final)

