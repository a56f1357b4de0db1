"""The sampler strategy and ``sample``: one jit-compiled ``lax.scan`` over a time grid.

A diffusion sampler is ``Sampler(prepare, init, step, order, stochastic, check, name)``:

    c          = prepare(s, ts)                         # per-step coefficients, leaves [N, ...]
    state      = init(x)
    x, state, nfe = step(model, c_i, x, state, key_i)     # step i: ts[i] -> ts[i + 1]

``model`` is a ``predictions.Model`` (a network with what it predicts) or any denoiser callable;
steps ask ``predictions.velocity`` / ``predictions.denoise`` for the field they need at the
tabulated node and apply the update formulas of ``genjax.integrators`` to it.

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

from genjax import predictions
from genjax._memo import memoized  # noqa: F401  (re-exported for the sampler modules)
from genjax.predictions import Node
from genjax.samplers.checks import (as_traced, check_output_shape, check_schedule_grid,  # noqa: F401 (re-exported)
                                    check_variances, check_x_init, checked_grid, clean_end, no_check, sigma_is_zero,
                                    variances_check)
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


def head(node: Node) -> Node:
    """The coefficient table at the grid's step starts t_0 .. t_{N-1} (drop the last time)."""
    return predictions.finite(Node(*(a[:-1] for a in node)))


def checked_inputs(denoiser, s, solver, ts, x_init, key, denoise_final):
    """Check ``sample``'s arguments before tracing; return (traced denoiser, ts array, x_init, key).

    The grid checks run once per distinct (schedule, sampler, grid) and the denoiser's output
    shape once per compiled signature, so repeated calls pay a dictionary lookup.
    """
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable denoiser(x, t), got {type(denoiser).__name__}")
    if not isinstance(solver, Sampler):
        raise TypeError(f"solver must be a genjax.samplers.Sampler (e.g. samplers.heun()), got "
                        f"{type(solver).__name__}; integrators.Solver steppers run through integrators.integrate")
    if isinstance(denoiser, predictions.Model) and denoiser.schedule != s:
        raise ValueError(f"denoiser was built for the {denoiser.schedule} schedule but s is {s}")
    ts = checked_grid(s, solver, ts, denoise_final)
    x_init = check_x_init(x_init)
    if solver.stochastic and key is None:
        raise ValueError(f"the {solver.name} sampler is stochastic: pass a PRNG key")
    denoiser = as_traced(denoiser)
    check_output_shape(denoiser, x_init, ts)
    return denoiser, ts, x_init, key if solver.stochastic else None


@functools.partial(jax.jit, static_argnames=("s", "solver", "save_trajectory", "denoise_final"))
def run(denoiser, s, solver, ts, x_init, key, save_trajectory, denoise_final):
    """The sequential sampler: one ``lax.scan`` over the grid (checked arguments, see ``sample``)."""
    coeffs = solver.prepare(s, ts)
    n = ts.shape[0] - 1
    state0 = solver.init(x_init)
    cast = lambda new, old: jax.tree_util.tree_map(lambda a, b: a.astype(b.dtype), new, old)

    def body(carry, inp):
        x, state, nfe = carry
        i, c = inp
        k = None if key is None else jax.random.fold_in(key, i)
        x1, state1, n_i = solver.step(denoiser, c, x, state, k)
        x1, state1 = cast((x1, state1), (x, state))   # float64 grids with a float32 state keep the state's dtype
        return (x1, state1, nfe + n_i), (x1 if save_trajectory else None)

    init = (x_init, state0, jnp.zeros((), jnp.int32))
    (x, _, nfe), traj = jax.lax.scan(body, init, (jnp.arange(n), coeffs))
    if save_trajectory:
        traj = jnp.concatenate([x_init[None], traj], 0)
    if denoise_final:
        x = denoiser(x, ts[-1]).astype(x_init.dtype)
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
    denoiser, ts, x_init, key = checked_inputs(denoiser, s, solver, ts, x_init, key, denoise_final)
    return run(denoiser, s, solver, ts, x_init, key, save_trajectory, denoise_final)

