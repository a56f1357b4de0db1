"""Sampling grids of times from t_max down to t_min: uniform, Karras rho-spaced, uniform in log-SNR.

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (eq. 5); Lu et al. 2022, "DPM-Solver" (log-SNR spacing).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from genjax.schedules.base import Array, Schedule

GRID_KINDS = ("uniform", "karras", "log_snr")


def time_grid(s: Schedule, num_steps: int, kind: str = "uniform", rho: float = 7.0,
              to_zero: bool = False) -> Array:
    """Sampling grid of ``num_steps + 1`` times from ``s.t_max`` down to ``s.t_min``: [N + 1].

    kind:
      - ``"uniform"``: uniform in t.
      - ``"karras"``: rho-spaced in the noise-to-signal ratio r = sigma / alpha (for EDM, r = sigma):
        r_i = (r_max^(1/rho) + i/N (r_min^(1/rho) - r_max^(1/rho)))^rho  (Karras et al. 2022, eq. 5).
      - ``"log_snr"``: uniform in lambda = log(alpha / sigma) (Lu et al. 2022, DPM-Solver).

    ``to_zero=True`` appends the clean time t = 0 as in EDM (t_N = 0; only for schedules with
    sigma(0) = 0 exactly, as the samplers require of a clean end): the grid then has ``num_steps + 1``
    times, the first ``num_steps`` spaced as above and the last 0. Ratios are computed in log space,
    so float32 grids have no inf/NaN. The grid has the default float dtype (float64 under
    ``jax_enable_x64``); ``num_steps`` may be a Python or numpy integer.
    """
    if isinstance(num_steps, (bool, np.bool_)) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"time_grid: num_steps must be an int >= 1, got {num_steps!r}")
    num_steps = int(num_steps)
    if kind not in GRID_KINDS:
        raise ValueError(f"time_grid: unknown kind {kind!r}; choose one of {GRID_KINDS}")
    if not (isinstance(rho, (int, float, np.integer, np.floating)) and math.isfinite(rho) and rho > 0):
        raise ValueError(f"time_grid: rho must be a finite number > 0, got {rho!r}")
    dtype = jnp.result_type(float)   # float64 under jax_enable_x64, as jax.numpy
    if to_zero:
        with jax.ensure_compile_time_eval():
            sigma0 = float(jnp.exp(s.log_sigma(jnp.zeros((), dtype))))
        if sigma0 != 0.0:   # the samplers accept a last time with sigma exactly 0 only
            raise ValueError(f"time_grid: to_zero needs sigma(0) = 0 exactly; the {s.name} schedule has "
                             f"sigma(0) = {sigma0:.3g} (its t = 0 is not a clean end; use to_zero=False)")
        if num_steps < 2:
            raise ValueError("time_grid: to_zero needs num_steps >= 2")
        head = time_grid(s, num_steps - 1, kind, rho)
        return jnp.concatenate([head, jnp.zeros((1,), head.dtype)])
    n = num_steps
    frac = jnp.arange(n + 1, dtype=dtype) / n
    if kind == "uniform":
        ts = s.t_max + frac * (s.t_min - s.t_max)
    else:
        with jax.ensure_compile_time_eval():
            lam_hi = float(s.log_snr(jnp.asarray(s.t_min, dtype)))
            lam_lo = float(s.log_snr(jnp.asarray(s.t_max, dtype)))
        if not (math.isfinite(lam_hi) and math.isfinite(lam_lo)):
            raise ValueError(
                f"time_grid: kind={kind!r} spaces the grid in log-SNR, which is infinite at the ends "
                f"of the {s.name} schedule (log_snr(t_min)={lam_hi}, log_snr(t_max)={lam_lo}); "
                f"use kind='uniform' or a range with finite log-SNR (e.g. t_max < 1 for rectified)")
        if kind == "log_snr":
            lam = lam_lo + frac * (lam_hi - lam_lo)
        else:  # karras, in r = exp(-lambda): r^(1/rho) = exp(-lambda / rho)
            a, b = math.exp(-lam_lo / rho), math.exp(-lam_hi / rho)
            lam = -rho * jnp.log(a + frac * (b - a))
        ts = s.t_from_log_snr(lam)
    # pin the ends exactly (rounding in the spacing formulas must not move them)
    return ts.astype(dtype).at[0].set(s.t_max).at[-1].set(s.t_min)
