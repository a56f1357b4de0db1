"""Analytic-DPM: the optimal reverse variance of ancestral (DDPM / DDIM-eta) steps.

A reverse step from t to s < t of the family q_lambda(x_s | x_t, x_0) = N(mu_tilde, lambda^2 I),

    mu_tilde = alpha_s x_0 + sqrt(sigma_s^2 - lambda^2) (x_t - alpha_t x_0) / sigma_t,
    lambda^2 = eta^2 sigma_s^2 (1 - e^{-2h}),   h = lambda(s) - lambda(t) > 0 (log-SNR step),

keeps every marginal q(x_t) (eta = 1: DDPM's posterior, beta-tilde; eta = 0: DDIM). The Gaussian
model p(x_s | x_t) = N(mu(x_t), v I) minimising KL(q(x_s, x_t) || p) has mu = E[mu_tilde | x_t]
(the denoiser plugged in for x_0) and, by moment matching,

    v* = lambda^2 + c^2 E_{q(x_t)} tr Cov[x_0 | x_t] / d,
    c  = alpha_s - sqrt(sigma_s^2 - lambda^2) alpha_t / sigma_t
       = alpha_s (1 - sqrt(1 - eta^2 (1 - e^{-2h})) e^{-h})        (the x_0 coefficient of mu_tilde),

and with x_0 = (x_t - sigma_t eps) / alpha_t, E tr Cov[x_0 | x_t] / d = (sigma_t / alpha_t)^2
(1 - Gamma_t), where

    Gamma_t = E_{q(x_t)} ||eps_hat(x_t, t)||^2 / d

is estimated by Monte Carlo from the model (eps_hat from its denoiser) on x_t = alpha_t x_0 +
sigma_t eps with data x_0: Bao et al. 2022, Theorem 1, written for any schedule (for VP,
(sigma_t/alpha_t)^2 c^2 = (sqrt(beta_bar_n / alpha_n) - sqrt(beta_bar_{n-1} - lambda^2))^2).

Clipping (Bao et al. 2022, Theorem 2 and Section 5): the covariance term is clipped to
[0, ((hi - lo) / 2)^2] for data in [lo, hi] (``data_range``; Cov of a bounded variable), and the
std of the last step (ts[N-1] -> ts[N] = t_min) may be capped (``max_last_std``; the paper uses
2 (2/255) sqrt(pi/2) for images in [-1, 1]: E|std z| <= 2 pixel levels).

The variances are returned in sampling order, ``variances[i]`` for the step ts[i] -> ts[i+1],
ready for ``genjax.samplers.ancestral(variances=...)`` (eta = 1).

References: Bao et al. 2022, "Analytic-DPM: an Analytic Estimate of the Optimal Reverse Variance
in Diffusion Probabilistic Models" (ICLR), Theorems 1-2; Ho et al. 2020, "Denoising Diffusion
Probabilistic Models"; Song et al. 2021, "Denoising Diffusion Implicit Models" (eta family).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from genjax import predictions
from genjax.samplers import check_schedule_grid
from genjax.schedules import Schedule

Array = jax.Array


def _check_grid(s: Schedule, ts) -> np.ndarray:
    if isinstance(ts, jax.core.Tracer):
        raise TypeError("analytic_dpm: ts must be concrete (the variances feed samplers.ancestral)")
    check_schedule_grid(s, ts)
    arr = np.asarray(ts, np.float32)
    if not arr[-1] > 0 or float(s.sigma(jnp.float32(arr[-1]))) <= 0:
        raise ValueError("analytic_dpm: ts must end at a time with sigma > 0 (not a clean end t = 0)")
    return arr


def gamma(denoiser: Callable, s: Schedule, ts: Array, x0: Array, key, *, num_repeats: int = 1) -> Array:
    """Gamma_t = E ||eps_hat(x_t, t)||^2 / d at every step start ts[:-1]: [N].

    Monte Carlo over the data samples ``x0`` [M, ...], each noised ``num_repeats`` times with
    independent eps at every t (x_t = alpha_t x_0 + sigma_t eps); eps_hat = (x_t - alpha_t D) /
    sigma_t from the model's denoiser. The standard error is about sqrt(Var / (M num_repeats)).

    Args:
      denoiser: ``denoiser(x [M, ...], t) -> E[x_0 | x_t]``.
      s: the schedule.
      ts: [N + 1] sampling grid (decreasing; ``schedules.time_grid``).
      x0: [M, ...] data samples.
      key: PRNG key (time i uses ``fold_in(key, i)``).
      num_repeats: noise draws per data sample and time.

    Returns:
      [N] float32, Gamma at ts[0], ..., ts[N-1].

    References: Bao et al. 2022, "Analytic-DPM", Theorem 1 and eq. (8).
    """
    ts = _check_grid(s, ts)
    if not isinstance(num_repeats, int) or num_repeats < 1:
        raise ValueError(f"gamma: num_repeats must be an int >= 1, got {num_repeats!r}")
    x0 = jnp.asarray(x0)
    if x0.ndim < 2:
        raise ValueError(f"gamma: x0 must be [M, ...] with at least one data axis, got shape {x0.shape}")
    return _gamma(denoiser, s, jnp.asarray(ts[:-1]), x0, key, num_repeats)


def _gamma(denoiser, s, times, x0, key, num_repeats):
    d = math.prod(x0.shape[1:])

    @jax.jit
    def run(times, x0, key):
        def at(args):
            i, t = args
            k = jax.random.fold_in(key, i)

            def one(r):
                eps = jax.random.normal(jax.random.fold_in(k, r), x0.shape, x0.dtype)
                xt = s.alpha(t) * x0 + s.sigma(t) * eps
                eps_hat = predictions.from_denoiser("eps", s, denoiser(xt, t), xt, t)
                return jnp.mean(jnp.sum(jnp.square(eps_hat).reshape(x0.shape[0], d), -1)) / d

            return jnp.mean(jax.lax.map(one, jnp.arange(num_repeats)))

        return jax.lax.map(at, (jnp.arange(times.shape[0]), times))

    return run(times, x0, key)


def optimal_variances(s: Schedule, ts: Array, gammas: Array, *, eta: float = 1.0,
                      data_range: Optional[tuple] = None, max_last_std: Optional[float] = None) -> Array:
    """The optimal reverse variances v*_i of the steps ts[i] -> ts[i+1] from Gamma: [N].

        v*_i = lambda_i^2 + c_i^2 clip((sigma_t / alpha_t)^2 (1 - Gamma_i), 0, ((hi - lo)/2)^2)

    with t = ts[i], s = ts[i+1] and lambda_i, c_i from the module docstring; the last entry is
    capped at ``max_last_std**2`` when given.

    Args:
      s: the schedule.
      ts: [N + 1] sampling grid, decreasing, ending at t >= t_min with sigma > 0.
      gammas: [N] Gamma at ts[:-1] (``gamma``; for a perfect model and Gaussian data it has a
        closed form).
      eta: the member of the DDIM family, in [0, 1]; 1 is DDPM (``samplers.ancestral``). For
        eta < 1 the variances belong to a DDIM-eta step: ``samplers.ddim(eta, variances=v)``
        (eta = 0: Analytic-DDIM).
      data_range: (lo, hi) bounds of the data for the covariance clip, or None for no upper clip.
      max_last_std: cap on the std of the last step, or None.

    Returns:
      [N] float32 non-negative variances, in sampling order.

    References: Bao et al. 2022, "Analytic-DPM", Theorems 1-2.
    """
    ts = _check_grid(s, ts)
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"optimal_variances: eta must be a float in [0, 1], got {eta!r}")
    gammas = jnp.asarray(gammas, jnp.float32)
    if gammas.shape != (ts.shape[0] - 1,):
        raise ValueError(f"optimal_variances: gammas must have shape [N] = [{ts.shape[0] - 1}], got {gammas.shape}")
    cov_max = jnp.inf
    if data_range is not None:
        lo, hi = data_range
        if not hi > lo:
            raise ValueError(f"optimal_variances: data_range must be (lo, hi) with hi > lo, got {data_range}")
        cov_max = ((hi - lo) / 2.0) ** 2
    if max_last_std is not None and not max_last_std > 0:
        raise ValueError(f"optimal_variances: max_last_std must be > 0, got {max_last_std}")

    t, u = jnp.asarray(ts[:-1]), jnp.asarray(ts[1:])  # step t -> u (u < t)
    lam_t, lam_u = s.log_snr(t), s.log_snr(u)
    h = lam_u - lam_t
    one_minus_e2h = -jnp.expm1(-2.0 * h)
    sigma_u2 = jnp.exp(2.0 * s.log_sigma(u))
    lam2 = eta**2 * sigma_u2 * one_minus_e2h
    c = s.alpha(u) * (1.0 - jnp.sqrt(1.0 - eta**2 * one_minus_e2h) * jnp.exp(-h))
    cov = jnp.clip(jnp.exp(-2.0 * lam_t) * (1.0 - gammas), 0.0, cov_max)  # tr Cov[x_0 | x_t] / d
    var = lam2 + jnp.square(c) * cov
    if max_last_std is not None:
        var = var.at[-1].set(jnp.minimum(var[-1], max_last_std**2))
    return var.astype(jnp.float32)


def analytic_variances(denoiser: Callable, s: Schedule, ts: Array, x0: Array, key, *, eta: float = 1.0,
                       num_repeats: int = 1, data_range: Optional[tuple] = None,
                       max_last_std: Optional[float] = None) -> Array:
    """Analytic-DPM variances in one call: ``optimal_variances(s, ts, gamma(denoiser, ...))``: [N].

    Usage::

        var = analytic_dpm.analytic_variances(denoiser, s, ts, x_train[:1024], key)
        x, info = samplers.sample(denoiser, s, samplers.ancestral(variances=var), ts, x_init, key)

    References: Bao et al. 2022, "Analytic-DPM", Algorithm 1 (Gamma from training data).
    """
    g = gamma(denoiser, s, ts, x0, key, num_repeats=num_repeats)
    return optimal_variances(s, ts, g, eta=eta, data_range=data_range, max_last_std=max_last_std)
