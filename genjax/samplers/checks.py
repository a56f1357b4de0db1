"""Eager argument checks of the samplers, run before tracing and cached.

The grid checks run once per distinct (schedule, sampler, grid) and the denoiser's output shape
once per compiled signature (``checked_grid``, ``check_output_shape``), so a repeated ``sample``
call pays a dictionary lookup instead of host-side schedule evaluations.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from genjax import predictions
from genjax.schedules import Schedule

Array = jax.Array


def no_check(s, ts) -> None:
    del s, ts


def check_variances(caller: str, variances) -> np.ndarray:
    """Reverse variances as a concrete float [N] array (float64 kept), or a clear error naming ``caller``."""
    if isinstance(variances, jax.core.Tracer):
        raise TypeError(f"{caller}: variances must be concrete (compute them before building the sampler)")
    var = np.asarray(variances)
    var = var if var.dtype == np.float64 else var.astype(np.float32)
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
        return bool(sigma_is_zero(s, jnp.asarray(t, jnp.result_type(float))))


def as_traced(denoiser):
    """A ``Model`` or ``Partial`` as is (its arrays are traced arguments); any other callable wrapped
    in a ``Partial`` (a static, identity-hashed function)."""
    if isinstance(denoiser, (predictions.Model, jax.tree_util.Partial)):
        return denoiser
    return jax.tree_util.Partial(denoiser)


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


def check_x_init(x_init) -> Array:
    """x_init as a float32 / float64 array with a batch axis, or a ValueError naming x_init."""
    if np.ndim(x_init) < 1:
        raise ValueError(f"x_init must have a batch axis, x_init: [B, ...]; got shape {np.shape(x_init)}")
    dtype = np.dtype(x_init.dtype if hasattr(x_init, "dtype") else np.asarray(x_init).dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"x_init must be float32 or float64 (the sampler's state), got dtype {dtype}; "
                         f"cast it first, e.g. x_init.astype(jnp.float32)")
    return jnp.asarray(x_init)


_GRIDS: dict = {}        # (s, solver, grid bytes, denoise_final) of the grids already checked
_SIGNATURES: set = set()  # (denoiser structure and leaf shapes, x_init shape, t dtype): output checked


def checked_grid(s, solver, ts, denoise_final):
    """Check (s, solver, ts) once per distinct grid and return ts as an array (float kept, ints ->
    the default float): the eager checks cost nothing on repeated calls with the same grid."""
    if isinstance(ts, jax.core.Tracer):
        check_schedule_grid(s, ts)
        return ts if jnp.issubdtype(ts.dtype, jnp.floating) else ts.astype(jnp.result_type(float))
    arr = np.asarray(ts)
    key = (s, solver, arr.dtype.str, arr.shape, arr.tobytes(), denoise_final)
    floating = np.issubdtype(arr.dtype, np.floating)
    if key not in _GRIDS:
        check_schedule_grid(s, arr)
        solver.check(s, arr)
        if denoise_final and clean_end(s, arr[-1]):
            raise ValueError("sample: denoise_final needs sigma(ts[-1]) > 0; the grid already ends at a clean time")
        if len(_GRIDS) > 256:
            _GRIDS.clear()
        _GRIDS[key] = True
    # converted at every call: inside a jit trace jnp.asarray gives a tracer, which must not be cached
    return jnp.asarray(arr if floating else arr.astype(float), None if floating else jnp.result_type(float))


def check_output_shape(denoiser, x_init, ts) -> None:
    """ValueError unless denoiser(x_init, t) has x_init's shape; once per compiled signature."""
    leaves, tree = jax.tree_util.tree_flatten(denoiser)
    sig = (tree, tuple((np.shape(a), getattr(a, "dtype", None)) for a in leaves), x_init.shape, x_init.dtype,
           ts.dtype)
    if sig in _SIGNATURES:
        return
    out = jax.eval_shape(denoiser, x_init, ts[0])
    if getattr(out, "shape", None) != x_init.shape:
        raise ValueError(f"denoiser(x, t) must return an array of x's shape {x_init.shape}; got "
                         f"{getattr(out, 'shape', type(out).__name__)} (a batch or event axis is missing or extra)")
    _SIGNATURES.add(sig)
