"""Log-likelihood through the probability-flow ODE, exact or Hutchinson divergence; bits/dim.

The probability-flow ODE ``dx/dt = v(t, x) = f x - g^2/2 * score`` (the marginal velocity, see
``genjax.predictions``) transports p_{t_min} to p_{t_max} and, by the instantaneous change of
variables, ``d log p_t(x_t) / dt = -div v(t, x_t)``. Integrating the augmented state
``(x, delta)`` with ``d delta / dt = div v`` from ``t_min`` (the data point) to ``t_max`` gives

    log p_{t_min}(x) = log p_prior(x(t_max)) + delta(t_max).

The divergence is either exact (``d`` forward-mode JVPs with the basis vectors, for small d) or
Hutchinson's unbiased estimate ``E_z[z^T (dv/dx) z]`` with Rademacher probes z drawn once per
solve (so the integrand is a smooth ODE): the ``genjax.divergence`` strategies ``exact()`` and
``hutchinson(num_probes)``. The step-size control is a strategy too: ``integrators.adaptive(rtol,
atol, max_steps)`` (Dormand-Prince, default) or ``integrators.fixed(solver, num_steps, ts)``.

Bits per dimension of K-level discrete data (``dequantized_bits_per_dim``) with uniform
dequantization: a level k in {0..K-1} becomes y = (k + u) / K, u ~ U[0, 1)^d, mapped affinely to
the model space z = lo + (hi - lo) y; then log P(k) >= E_u[log p_z(z)] + d log((hi - lo) / K) and

    bits/dim = -(log p_z(z) + d log((hi - lo) / K)) / (d ln 2)      (``genjax.metrics.bits_per_dim``)

(for K = 256 and [-1, 1] this is -log p / (d ln 2) + 7, the offset of score_sde).

References: Chen et al. 2018, "Neural Ordinary Differential Equations" (instantaneous change of
variables); Grathwohl et al. 2019, "FFJORD" (Hutchinson estimator); Song et al. 2021,
"Score-Based Generative Modeling through SDEs", Appendix D.2; Hutchinson 1989; Theis et al.
2016, "A note on the evaluation of generative models" (dequantization).
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from genjax import divergence as divergence_lib
from genjax import integrators, metrics, predictions, schedules
from genjax.schedules import Schedule

Array = jax.Array


class LikelihoodInfo(NamedTuple):
    """Diagnostics of ``log_prob_and_info``.

    Attributes:
      prior_logp: [B] log p_prior(x(t_max)).
      delta_logp: [B] the integrated divergence, log p(x) - prior_logp.
      x_end: [B, ...] the state at t_max.
      nfe: int32, evaluations of the augmented field (each is d JVPs of the denoiser for the
        exact divergence, ``num_probes`` JVPs for Hutchinson).
      converged: bool, the solve reached t_max with a finite state.
    """

    prior_logp: Array
    delta_logp: Array
    x_end: Array
    nfe: Array
    converged: Array


def _augmented_field(denoiser, s: Schedule, div: divergence_lib.Divergence, probes):
    """Augmented field (t, (x, delta)) -> (v(t, x), div v(t, x)) for x: [B, ...].

    v is ``predictions.velocity``: a velocity network's output as is, else p x + q D (one conversion).
    """

    def field(t, state):
        x, _ = state
        node = predictions.coefficients(s, t)
        return div.apply(lambda z: predictions.velocity(denoiser, node, z), x, probes)

    return field


def log_prob_and_info(denoiser: Callable, s: Schedule, x: Array, key=None, *, divergence="exact",
                      stepping: Optional[integrators.Stepping] = None,
                      prior_log_prob: Optional[Callable] = None) -> tuple[Array, LikelihoodInfo]:
    """log p_{t_min}(x) of the probability-flow ODE of (s, denoiser), with diagnostics.

    log p(x) = log p_prior(x(t_max)) + int_{t_min}^{t_max} div v(t, x(t)) dt  (module docstring).

    Args:
      denoiser: ``denoiser(x [B, ...], t) -> E[x_0 | x_t]``, or a ``predictions.Model`` (a velocity
        network then gives v directly).
      s: the schedule.
      x: [B, ...] data points (model space, at t_min).
      key: PRNG key for the divergence probes (required by ``hutchinson``; unused for exact).
      divergence: a ``genjax.divergence`` estimator, ``exact()`` (d JVPs per evaluation; small d) or
        ``hutchinson(num_probes)``; or its name with default arguments.
      stepping: the step-size control, ``integrators.adaptive(rtol, atol, max_steps)`` (default
        ``adaptive()``: dopri5 at 1e-5) or ``integrators.fixed(solver, num_steps, ts)`` (default grid:
        ``num_steps`` steps uniform in log-SNR, from t_min up to t_max).
      prior_log_prob: ``fn(x [B, ...]) -> [B]``; default ``s.prior_log_prob`` (N(0, sigma_max^2)).

    Returns:
      ``(logp [B], LikelihoodInfo)``; ``logp`` is the raw result even when not converged.

    References: Chen et al. 2018; Grathwohl et al. 2019 (FFJORD); Song et al. 2021, Appendix D.2.
    """
    div = divergence_lib.get(divergence)
    stepping = integrators.adaptive() if stepping is None else stepping
    if not isinstance(stepping, integrators.Stepping):
        raise TypeError(f"log_prob: stepping must be integrators.adaptive(...) or integrators.fixed(...), got "
                        f"{type(stepping).__name__}")
    if not callable(denoiser):
        raise TypeError(f"log_prob: denoiser must be callable, got {type(denoiser).__name__}")
    if not isinstance(s, Schedule):
        raise TypeError(f"log_prob: s must be a genjax.schedules.Schedule, got {type(s).__name__}")
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"log_prob: x must be [B, ...] with at least one data axis, got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"log_prob: x must be floating point (dequantize integer data first), got {x.dtype}")
    if div.needs_key and key is None:
        raise ValueError(f"log_prob: divergence {div.name} needs a PRNG key")
    probes = div.probes(key, x) if div.needs_key else None

    def log_snr_grid(num_steps):   # the fixed-grid default: uniform in log-SNR, data -> noise
        with jax.ensure_compile_time_eval():  # a constant, also under jit
            return np.array(schedules.time_grid(s, num_steps, "log_snr"))[::-1].copy()

    field = _augmented_field(denoiser, s, div, probes)
    state = (x, jnp.zeros(x.shape[:1], x.dtype))
    (x_end, delta), sinfo = stepping.solve(field, s.t_min, s.t_max, state, log_snr_grid)
    prior = s.prior_log_prob if prior_log_prob is None else prior_log_prob
    prior_logp = prior(x_end)
    logp = prior_logp + delta
    return logp, LikelihoodInfo(prior_logp=prior_logp, delta_logp=delta, x_end=x_end, nfe=sinfo.nfe,
                                converged=sinfo.converged)


def log_prob(denoiser: Callable, s: Schedule, x: Array, key=None, **kwargs) -> Array:
    """log p_{t_min}(x): [B, ...] -> [B], NaN for every example when the ODE solve failed.

    The same computation and keyword options as ``log_prob_and_info`` (``divergence``,
    ``stepping``, ``prior_log_prob``); a solve that did not reach t_max (``info.converged``
    False) is reported as NaN rather than a truncated number. Use ``log_prob_and_info`` for the
    diagnostics.

    References: Song et al. 2021, "Score-Based Generative Modeling through SDEs", Appendix D.2.
    """
    logp, info = log_prob_and_info(denoiser, s, x, key, **kwargs)
    return jnp.where(info.converged, logp, jnp.nan)


def dequantize(k: Array, key, *, num_levels: int = 256, data_range=(-1.0, 1.0)) -> Array:
    """Uniform dequantization: integer levels k in {0..K-1} -> lo + (hi - lo) (k + u) / K, float32.

    References: Theis et al. 2016, "A note on the evaluation of generative models".
    """
    _check_levels(num_levels, data_range)
    lo, hi = data_range
    u = jax.random.uniform(key, jnp.shape(k))
    return lo + (hi - lo) * (jnp.asarray(k, jnp.float32) + u) / num_levels


def dequantized_bits_per_dim(denoiser: Callable, s: Schedule, levels: Array, key, *, num_levels: int = 256,
                             data_range=(-1.0, 1.0), **log_prob_kwargs) -> tuple[Array, Array]:
    """Bits/dim of K-level discrete data: dequantize, log p through the ODE, add the offset.

        z = lo + (hi - lo) (k + u) / K,   bpd = -(log p(z) + d log((hi - lo) / K)) / (d ln 2)

    (``genjax.metrics.bits_per_dim`` with nll = -log p(z)); in expectation over u an upper bound
    on the discrete model's bits/dim.

    Args:
      denoiser, s: the model, as for ``log_prob``.
      levels: [B, ...] integer data in {0..K-1}.
      key: PRNG key; split into the dequantization noise and the Hutchinson probes.
      num_levels: K (256 for 8-bit images).
      data_range: (lo, hi), the model-space interval the levels map to.
      **log_prob_kwargs: options of ``log_prob`` (divergence, stepping, prior_log_prob).

    Returns:
      ``(bpd [B], logp [B])`` with logp the log-density of the dequantized points (NaN where the
      solve failed).

    References: Theis et al. 2016; Song et al. 2021, Appendix D.2.
    """
    _check_levels(num_levels, data_range)
    levels = jnp.asarray(levels)
    if not jnp.issubdtype(levels.dtype, jnp.integer):
        raise TypeError(f"dequantized_bits_per_dim: levels must be integers in [0, {num_levels}), got {levels.dtype}")
    k_deq, k_div = jax.random.split(key)
    z = dequantize(levels, k_deq, num_levels=num_levels, data_range=data_range)
    logp = log_prob(denoiser, s, z, k_div, **log_prob_kwargs)
    num_dims = math.prod(levels.shape[1:])
    return metrics.bits_per_dim(-logp, num_dims, num_levels=num_levels, interval=tuple(data_range)), logp


def _check_levels(num_levels, data_range) -> None:
    if not isinstance(num_levels, int) or num_levels < 2:
        raise ValueError(f"num_levels must be an int >= 2, got {num_levels!r}")
    lo, hi = data_range
    if not hi > lo:
        raise ValueError(f"data_range must be (lo, hi) with hi > lo, got {data_range}")
