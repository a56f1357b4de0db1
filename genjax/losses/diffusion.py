"""Denoising score matching (eps / x0 / v / velocity / score targets, any weighting) and the EDM loss.

    dsm:  L = E_{x0, t, eps} [ iw(t) w(t) mean_dims (net(x_t, t) - target(x0, eps, t))^2 ],
          x_t = alpha(t) x0 + sigma(t) eps
    edm:  L = E [ lambda(s~) mean_dims (D(x_t, t) - x0)^2 ],  lambda = (s~^2 + sd^2) / (s~ sd)^2,
          computed on the raw network output F as mean_dims (F - F_target)^2 with
          F_target = (x0 - c_skip x_t) / c_out = (sigma x0 - alpha sd^2 eps) / (sd sqrt(sigma^2 + alpha^2 sd^2))
          (no cancellation at small sigma; equal to the weighted D-loss because D - x0 = c_out (F - F_target)).

Losses are per-dimension means (averaged over the batch), so their scale does not depend on the
image size; the likelihood weighting therefore gives nats per dimension. Every factory returns
``loss_fn(params, batch, key) -> (loss, aux)`` with batch = {"x": [B, ...], optional "label": [B]}
and aux = {"loss", "mse"} (mse: the unweighted per-dimension squared error of the network output).

References: Vincent 2011, "A Connection Between Score Matching and Denoising Autoencoders"; Ho et
al. 2020; Song et al. 2021, "Maximum Likelihood Training of Score-Based Diffusion Models";
Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models" (Table 1).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

from genjax.losses import strategies as wt
from genjax.preconditioning import edm_coefficients
from genjax.schedules import Schedule

Array = jax.Array


def _check_schedule(s) -> None:
    if not isinstance(s, Schedule):
        raise TypeError(f"s must be a genjax.schedules.Schedule, got {type(s).__name__}")


def dsm(apply: Callable, s: Schedule, target: str = "eps", weighting="none", t_sampler="uniform", *,
        p_uncond: float = 0.0, train: bool = True) -> Callable:
    """Denoising score matching with a network that predicts ``target``.

    Args:
      apply: ``apply(params, x, t, label=None, train=False, key=None) -> out`` ([B, ...]).
      s: the schedule.
      target: what the network predicts: "eps", "x0", "v", "velocity" or "score".
      weighting: a name in ``WEIGHTINGS`` or ``losses.weighting(name, ...)``.
      t_sampler: a name in ``T_SAMPLERS`` or ``losses.time_sampler(kind, ...)``; use "importance"
        with the "likelihood" weighting for a constant weight (Song et al. 2021, Sec. 4.2).
      p_uncond: label-dropout probability for classifier-free guidance (needs batch["label"]).
      train: passed to the network (dropout on).

    Returns:
      ``loss_fn(params, batch, key) -> (loss, {"loss", "mse"})``.

    References: Vincent 2011; Ho et al. 2020; Song et al. 2021; Hang et al. 2023.
    """
    _check_schedule(s)
    wt.check_target(target)
    weight = wt.as_weighting(weighting)
    sampler = wt.as_time_sampler(t_sampler)
    wt.check_p_uncond(p_uncond)

    def loss_fn(params, batch, key):
        n = wt.noised(s, sampler, batch, p_uncond, key)
        out = apply(params, n.xt, n.t, n.label, train=train, key=n.key)
        err = wt.per_example(jnp.square(out - wt.conditional_target(target, s, n.x0, n.eps, n.t)))
        loss = jnp.mean(n.iw * weight(s, n.t, target) * err)
        return loss, {"loss": loss, "mse": jnp.mean(err)}

    return loss_fn


def edm(apply: Callable, s: Schedule, *, sigma_data: Optional[float] = None, p_mean: float = -1.2,
        p_std: float = 1.2, t_sampler=None, p_uncond: float = 0.0, train: bool = True) -> Callable:
    """The EDM loss for a network F under EDM preconditioning (``predicts="edm"``), any schedule.

    Args:
      apply: the raw network F, ``apply(params, c_in x_t, c_noise, label, train, key)``.
      s: the schedule (EDM's own: alpha = 1, sigma = t; others through s~ = sigma / alpha).
      sigma_data: data std (default: ``s.sigma_data`` when present, else 0.5).
      p_mean, p_std: the lognormal law of log s~ (Karras et al. 2022: -1.2, 1.2).
      t_sampler: overrides the lognormal sampler (e.g. ``time_sampler("fixed", t=...)``).
      p_uncond: label-dropout probability for classifier-free guidance.
      train: passed to the network.

    Returns:
      ``loss_fn(params, batch, key) -> (loss, {"loss", "mse"})``; loss = E lambda(s~) ||D - x0||^2 / d.

    References: Karras et al. 2022, Table 1 and eq. (8).
    """
    _check_schedule(s)
    sd = sigma_data if sigma_data is not None else getattr(s, "sigma_data", 0.5)
    if sd <= 0:
        raise ValueError(f"sigma_data must be > 0, got {sd}")
    if p_std <= 0:
        raise ValueError(f"p_std must be > 0, got {p_std}")
    sampler = (wt.time_sampler("lognormal", p_mean=p_mean, p_std=p_std) if t_sampler is None
               else wt.as_time_sampler(t_sampler))
    wt.check_p_uncond(p_uncond)

    def loss_fn(params, batch, key):
        n = wt.noised(s, sampler, batch, p_uncond, key)
        a, sg = wt.bcast(s.alpha(n.t), n.x0), wt.bcast(s.sigma(n.t), n.x0)
        _, _, c_in, c_noise = edm_coefficients(s, n.t, sd)
        c_in = wt.bcast(c_in, n.x0)
        out = apply(params, c_in * n.xt, c_noise, n.label, train=train, key=n.key)
        f_target = (sg * n.x0 - a * sd**2 * n.eps) * c_in / sd
        err = wt.per_example(jnp.square(out - f_target))
        loss = jnp.mean(n.iw * err)
        return loss, {"loss": loss, "mse": jnp.mean(err)}

    return loss_fn
