"""Stochastic samplers: Euler-Maruyama on the reverse SDE, DDPM ancestral sampling (optionally with
Analytic-DPM variances), predictor-corrector with Langevin correction, and EDM's churn sampler.

Step i goes from t_i to t_{i+1} < t_i and draws its noise from ``fold_in(key, i)``. All schedule
coefficients are tabulated over the grid before the scan.

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations"; Ho et al. 2020, "Denoising Diffusion Probabilistic Models"; Bao et al. 2022,
"Analytic-DPM"; Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models", Algorithm 2.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from genjax import predictions
from genjax import sde as sde_lib
from genjax.integrators.sde import em_update
from genjax.predictions import Node
from genjax.samplers.base import Sampler, check_variances, head, memoized, no_check, variances_check
from genjax.samplers.ode import heun_prepare, heun_step


def _normal(key, x):
    return jax.random.normal(key, x.shape, x.dtype)


class _EMCoeffs(NamedTuple):
    node: Node         # coefficients at t_i
    h: jax.Array       # t_{i+1} - t_i < 0
    noise: jax.Array   # g(t_i) sqrt(|h|)


def _em_table(s, ts) -> _EMCoeffs:
    c = predictions.finite(predictions.coefficients(s, ts[:-1]))
    h = ts[1:] - ts[:-1]
    return _EMCoeffs(node=c, h=h, noise=sde_lib.diffusion(c) * jnp.sqrt(jnp.abs(h)))


def _em_step(model, c: _EMCoeffs, x, z):
    """Euler-Maruyama on the reverse SDE (the one EM update of ``genjax.integrators.sde``)."""
    drift = lambda y: sde_lib.reverse_drift(c.node, y, predictions.denoise(model, c.node, y))
    return em_update(c.h, drift, c.noise, z, x)


def _check_alpha_positive(s, ts) -> None:
    """The reverse SDE's f = d log alpha/dt and g diverge where alpha = 0 (rectified t = 1)."""
    if isinstance(ts, jax.core.Tracer):
        return
    if not float(s.alpha(np.float64(np.asarray(ts)[0]))) > 0:
        raise ValueError(f"reverse-SDE samplers need alpha(ts[0]) > 0; the {s.name} schedule has alpha = 0 at "
                         f"t = {float(np.asarray(ts)[0])} (use t_max < 1 or an ODE sampler)")


@memoized
def euler_maruyama() -> Sampler:
    """Euler-Maruyama on the reverse SDE dx = [f x - g^2 score] dt + g dW_bar:

        x_{i+1} = x_i + h [f x_i + 2 lambda' (alpha D_i - x_i)] + g(t_i) sqrt(-h) z,  h = t_{i+1} - t_i < 0.

    One NFE per step; weak order 1.

    References: Song et al. 2021, "Score-Based Generative Modeling through SDEs" (eq. 6);
    Kloeden & Platen 1992.
    """
    def step(model, c, x, state, key):
        return _em_step(model, c, x, _normal(key, x)), state, jnp.int32(1)

    return Sampler(_em_table, lambda x: None, step, order=1, stochastic=True, check=_check_alpha_positive,
                   name="euler_maruyama")


class _AncCoeffs(NamedTuple):
    node: Node
    cx: jax.Array      # alpha_{t|s} sigma_s^2 / sigma_t^2 = sigma_s e^{-h} / sigma_t
    cd: jax.Array      # alpha_s - cx alpha_t
    std: jax.Array     # reverse-step std


def ancestral(variances=None) -> Sampler:
    """DDPM ancestral sampling: x_s ~ N(mu(x_t, D), v) for each step t = t_i -> s = t_{i+1}, with the
    posterior mean of q(x_s | x_t, x_0 = D(x_t, t))

        mu = alpha_s D + (sigma_s e^{-h} / sigma_t) (x_t - alpha_t D),   h = lambda_s - lambda_t,

    and v the posterior variance sigma_s^2 (1 - e^{-2h}) (DDPM's beta-tilde), or ``variances[i]``.

    Args:
      variances: optional [num_steps] reverse variances in sampling order (``variances[i]`` for
        the step ts[i] -> ts[i+1]), e.g. Analytic-DPM's optimal variances. Checked eagerly: 1-D,
        finite, >= 0, and of length ``len(ts) - 1`` at ``sample``.

    References: Ho et al. 2020, "Denoising Diffusion Probabilistic Models" (Alg. 2); Bao et al.
    2022, "Analytic-DPM: an Analytic Estimate of the Optimal Reverse Variance" (eq. 7).
    """
    if variances is None:
        return _ancestral_default()
    var = check_variances("ancestral", variances)
    return _ancestral(var)


@memoized
def _ancestral_default() -> Sampler:
    return _ancestral(None)


def _ancestral(var) -> Sampler:
    def prepare(s, ts):
        c = predictions.coefficients(s, ts)
        h = c.log_snr[1:] - c.log_snr[:-1]
        ratio = jnp.exp(s.log_sigma(ts[1:]) - s.log_sigma(ts[:-1]) - h)   # sigma_s e^{-h} / sigma_t
        std = c.sigma[1:] * jnp.sqrt(-jnp.expm1(-2.0 * h)) if var is None else jnp.sqrt(jnp.asarray(var, ts.dtype))
        return _AncCoeffs(node=head(c), cx=ratio, cd=c.alpha[1:] - ratio * c.alpha[:-1], std=std)

    def step(model, c, x, state, key):
        x1 = c.cx * x + c.cd * predictions.denoise(model, c.node, x) + c.std * _normal(key, x)
        return x1, state, jnp.int32(1)

    return Sampler(prepare, lambda x: None, step, order=1, stochastic=True,
                   check=variances_check("ancestral", var), name="ancestral" if var is None else "ancestral(analytic)")


class _PCCoeffs(NamedTuple):
    em: _EMCoeffs
    inv_sigma2: jax.Array


@memoized
def predictor_corrector(snr: float = 0.16, n_corrector: int = 1) -> Sampler:
    """Predictor-corrector: at each t_i, ``n_corrector`` Langevin steps then an Euler-Maruyama step.

    Langevin corrector, with per-sample norms over all non-batch axes averaged over the batch
    (as score_sde; per-sample step sizes blow up in low dimension where ||g|| ~ 0 at a mode):
        g = score(x, t_i) = (alpha D - x) / sigma^2,  z ~ N(0, I),
        eps = 2 (snr mean_b ||z_b|| / mean_b ||g_b||)^2,   x <- x + eps g + sqrt(2 eps) z.
    NFE per step: n_corrector + 1. The step size couples the samples of a batch (only through
    this scalar).

    References: Song et al. 2021, "Score-Based Generative Modeling through SDEs", Algorithms 4-5.
    """
    if isinstance(snr, bool) or not isinstance(snr, (int, float)) or not snr > 0:
        raise ValueError(f"predictor_corrector: snr must be > 0, got {snr!r}")
    if isinstance(n_corrector, bool) or not isinstance(n_corrector, int) or n_corrector < 0:
        raise ValueError(f"predictor_corrector: n_corrector must be an int >= 0, got {n_corrector!r}")

    def prepare(s, ts):
        em = _em_table(s, ts)
        return _PCCoeffs(em=em, inv_sigma2=1.0 / jnp.square(em.node.sigma))

    def step(model, c, x, state, key):
        axes = tuple(range(1, x.ndim))
        node = c.em.node

        def langevin(j, x):
            z = _normal(jax.random.fold_in(key, j + 1), x)
            g = (node.alpha * predictions.denoise(model, node, x) - x) * c.inv_sigma2
            z_norm = jnp.mean(jnp.sqrt(jnp.sum(z * z, axes)))
            g_norm = jnp.mean(jnp.sqrt(jnp.sum(g * g, axes)))
            eps = 2.0 * jnp.square(snr * z_norm / jnp.maximum(g_norm, 1e-20))
            return x + eps * g + jnp.sqrt(2.0 * eps) * z

        x = jax.lax.fori_loop(0, n_corrector, langevin, x)
        x1 = _em_step(model, c.em, x, _normal(jax.random.fold_in(key, 0), x))
        return x1, state, jnp.int32(n_corrector + 1)

    return Sampler(prepare, lambda x: None, step, order=1, stochastic=True, check=_check_alpha_positive,
                   name=f"pc(snr={snr:g},n={n_corrector})")


class _ChurnCoeffs(NamedTuple):
    scale: jax.Array    # alpha(t_hat) / alpha(t_i)
    noise: jax.Array    # alpha(t_hat) s_noise sqrt(r_hat^2 - r_i^2)
    heun: object        # Heun coefficients t_hat -> t_{i+1}


@memoized
def edm_stochastic(s_churn: float = 0.0, s_tmin: float = 0.0, s_tmax: float = math.inf,
                   s_noise: float = 1.0) -> Sampler:
    """EDM stochastic sampler (Algorithm 2): churn, then a Heun step.

    In the scaled variable x / alpha with noise level r = sigma / alpha (r = sigma = t for EDM):
    gamma_i = min(S_churn / N, sqrt(2) - 1) if S_tmin <= r_i <= S_tmax else 0;
    r_hat = r_i (1 + gamma_i), t_hat = r^{-1}(r_hat) (clipped to t_max);
    x_hat = (alpha(t_hat)/alpha_i) x_i + alpha(t_hat) S_noise sqrt(r_hat^2 - r_i^2) z;
    then EDM Algorithm 1's Heun step from t_hat to t_{i+1} (Euler only if sigma(t_{i+1}) = 0).
    ``s_tmin`` / ``s_tmax`` bound the noise level r. NFE = 2N (2N - 1 ending at sigma = 0).
    With s_churn = 0 it is deterministic Heun.

    References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    Models", Algorithm 2.
    """
    for name, val in (("s_churn", s_churn), ("s_tmin", s_tmin), ("s_noise", s_noise)):
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not val >= 0:
            raise ValueError(f"edm_stochastic: {name} must be a float >= 0, got {val!r}")
    if not isinstance(s_tmax, (int, float)) or not s_tmax >= s_tmin:
        raise ValueError(f"edm_stochastic: s_tmax must be >= s_tmin, got {s_tmax!r}")
    s_churn, s_tmin, s_tmax, s_noise = float(s_churn), float(s_tmin), float(s_tmax), float(s_noise)

    def prepare(s, ts):
        n = ts.shape[0] - 1
        t0 = ts[:-1]
        c0 = predictions.coefficients(s, t0)
        r0 = jnp.exp(-c0.log_snr)
        # no churn at r = inf (alpha = 0: already pure noise)
        churn = (r0 >= s_tmin) & (r0 <= s_tmax) & jnp.isfinite(r0)
        gamma = jnp.where(churn, min(s_churn / n, math.sqrt(2.0) - 1.0), 0.0)
        t_hat = jnp.where(gamma > 0, s.t_from_log_snr(-jnp.log(r0 * (1.0 + gamma))), t0)
        ch = predictions.coefficients(s, t_hat)
        r_hat = jnp.exp(-ch.log_snr)
        noise = ch.alpha * s_noise * jnp.sqrt(jnp.maximum(jnp.square(r_hat) - jnp.square(r0), 0.0))
        return _ChurnCoeffs(scale=jnp.where(gamma > 0, ch.alpha / c0.alpha, 1.0), noise=jnp.where(gamma > 0, noise, 0.0),
                            heun=heun_prepare(s, t_hat, ts[1:]))

    def step(model, c, x, state, key):
        if s_churn > 0:
            x = c.scale * x + c.noise * _normal(key, x)
        x1, nfe = heun_step(model, c.heun, x)
        return x1, state, nfe

    return Sampler(prepare, lambda x: None, step, order=2, stochastic=s_churn > 0, check=no_check,
                   name=f"edm_stochastic(churn={s_churn:g})")
