"""Exponential-integrator samplers in the data prediction: DDIM (with eta) and DPM-Solver++.

With lambda = log(alpha / sigma) and h_i = lambda(t_{i+1}) - lambda(t_i) > 0, the PF ODE solved
exactly in its linear part gives, for a denoiser held constant over the step,

    x_{i+1} = (sigma_{i+1} / sigma_i) x_i + alpha_{i+1} (1 - e^{-h_i}) D_i           (DDIM, eta = 0)

DPM-Solver++(2M) replaces D_i by the linear extrapolation in lambda
``(1 + 1/(2 r_i)) D_i - 1/(2 r_i) D_{i-1}``, r_i = h_{i-1} / h_i. All coefficients use ratios
(e^{-h} = (sigma_{i+1}/alpha_{i+1}) / (sigma_i/alpha_i)), so a final step to sigma = 0 is
finite and returns alpha D exactly.

References: Song et al. 2021, "Denoising Diffusion Implicit Models"; Lu et al. 2022,
"DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models" (Alg. 2).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from genjax import predictions
from genjax.predictions import Node
from genjax.samplers.base import Sampler, check_variances, head, memoized, no_check, variances_check


class _ExpCoeffs(NamedTuple):
    node: Node          # coefficients at t_i
    cx: jax.Array       # sigma_{i+1} / sigma_i
    cd: jax.Array       # alpha_{i+1} (1 - e^{-h_i})
    w0: jax.Array       # multistep weight of D_i
    w1: jax.Array       # multistep weight of D_{i-1}


def _exp_table(s, ts):
    """(t_i, e^{-h_i}, sigma ratio, alpha_{i+1}, h_i) for the steps of the grid."""
    c = predictions.coefficients(s, ts)
    lam0, lam1 = c.log_snr[:-1], c.log_snr[1:]
    expm1_neg_h = jnp.expm1(lam0 - lam1)                      # e^{-h} - 1, exactly -1 at sigma = 0
    cx = jnp.exp(s.log_sigma(ts[1:]) - s.log_sigma(ts[:-1]))  # sigma_{i+1} / sigma_i
    return c, lam1 - lam0, expm1_neg_h, cx


@memoized
def dpm_solver_pp(order: int = 2) -> Sampler:
    """DPM-Solver++ multistep in the data prediction, order 1 or 2 (2M).

    x_{i+1} = (sigma_{i+1}/sigma_i) x_i - alpha_{i+1} (e^{-h_i} - 1) [(1 + 1/(2 r_i)) D_i - D_{i-1}/(2 r_i)]

    with the first-order update (D_i alone) on the first step (no history) and on the last step.
    One NFE per step. ``order=1`` is DDIM (eta = 0).

    References: Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
    Probabilistic Models", Algorithm 2 (multistep second order, lower order at the ends).
    """
    if order not in (1, 2):
        raise ValueError(f"dpm_solver_pp: order must be 1 or 2, got {order!r}")

    def prepare(s, ts):
        c, h, expm1_neg_h, cx = _exp_table(s, ts)
        n = ts.shape[0] - 1
        if order == 2 and n > 2:
            r = h[:-1] / h[1:]                        # r_i = h_{i-1} / h_i for i >= 1
            w1 = jnp.concatenate([jnp.zeros((1,), r.dtype), -0.5 / r])
            w1 = w1.at[-1].set(0.0)                   # lower order on the last step
        else:
            w1 = jnp.zeros((n,), ts.dtype)
        return _ExpCoeffs(node=head(c), cx=cx, cd=-c.alpha[1:] * expm1_neg_h, w0=1.0 - w1, w1=w1)

    def step(model, c, x, d_prev, key):
        del key
        d = predictions.denoise(model, c.node, x)
        x1 = c.cx * x + c.cd * (c.w0 * d + c.w1 * d_prev)
        return x1, d, jnp.int32(1)

    return Sampler(prepare, jnp.zeros_like, step, order=order, stochastic=False, check=no_check,
                   name=f"dpm_solver_pp{order}")


class _DDIMCoeffs(NamedTuple):
    node: Node
    alpha0: jax.Array
    inv_sigma0: jax.Array
    alpha1: jax.Array
    c_eps: jax.Array    # sqrt(sigma_{i+1}^2 - s_i^2)
    c_noise: jax.Array  # s_i = eta sigma_{i+1} sqrt(1 - e^{-2 h_i})


def ddim(eta: float = 0.0, variances=None) -> Sampler:
    """DDIM: x_{i+1} = alpha_{i+1} D + sqrt(sigma_{i+1}^2 - s_i^2) eps_hat + std_i z, z ~ N(0, I),

    eps_hat = (x_i - alpha_i D) / sigma_i and s_i = eta sigma_{i+1} sqrt(1 - e^{-2 h_i}) (the
    general-path form of sigma_t(eta): eta = 1 is the DDPM posterior std, ancestral sampling;
    eta = 0 is deterministic and equals DPM-Solver++ first order). The noise std is std_i = s_i,
    or sqrt(variances[i]) when given: Analytic-DPM's optimal variance of the DDIM-eta step
    (``analytic_dpm.optimal_variances(..., eta=eta)``; with eta = 0 this is Analytic-DDIM).
    Noise of step i is drawn from ``fold_in(key, i)``. One NFE per step.

    Args:
      eta: the member of the DDIM family, a float in [0, 1].
      variances: optional [num_steps] reverse variances in sampling order, checked eagerly
        (1-D, finite, >= 0) and against ``len(ts) - 1`` at ``sample``.

    References: Song et al. 2021, "Denoising Diffusion Implicit Models" (eq. 12, 16); Bao et al.
    2022, "Analytic-DPM" (Theorem 1, the DDIM family).
    """
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"ddim: eta must be a float in [0, 1], got {eta!r}")
    if variances is None:
        return _ddim_default(float(eta))
    return _ddim(float(eta), check_variances("ddim", variances))


@memoized
def _ddim_default(eta: float) -> Sampler:
    return _ddim(eta, None)


def _ddim(eta: float, var) -> Sampler:
    def prepare(s, ts):
        c, h, expm1_neg_h, _ = _exp_table(s, ts)
        one_minus_e2h = -jnp.expm1(-2.0 * h)         # 1 - e^{-2h}, exactly 1 at sigma = 0
        sigma1 = c.sigma[1:]
        return _DDIMCoeffs(node=head(c), alpha0=c.alpha[:-1], inv_sigma0=1.0 / c.sigma[:-1], alpha1=c.alpha[1:],
                           c_eps=sigma1 * jnp.sqrt(jnp.maximum(1.0 - eta**2 * one_minus_e2h, 0.0)),
                           c_noise=eta * sigma1 * jnp.sqrt(one_minus_e2h) if var is None
                           else jnp.sqrt(jnp.asarray(var, ts.dtype)))

    stochastic = eta > 0 or var is not None

    def step(model, c, x, state, key):
        d = predictions.denoise(model, c.node, x)
        eps = (x - c.alpha0 * d) * c.inv_sigma0
        x1 = c.alpha1 * d + c.c_eps * eps
        if stochastic:
            x1 = x1 + c.c_noise * jax.random.normal(key, x.shape, x.dtype)
        return x1, state, jnp.int32(1)

    name = f"ddim(eta={eta:g})" if var is None else f"ddim(eta={eta:g}, analytic)"
    return Sampler(prepare, lambda x: None, step, order=1, stochastic=stochastic,
                   check=variances_check("ddim", var), name=name)
