"""Noise schedules: every Gaussian path x_t = alpha(t) x_0 + sigma(t) eps, from data to noise.

One convention everywhere (DESIGN.md section 1): ``t = s.t_min`` is (almost) clean data and
``t = s.t_max`` is the prior; samplers integrate from ``t_max`` down to ``t_min``. A schedule
defines only ``log_alpha(t)`` and ``log_sigma(t)`` (log space keeps float32 accurate at both ends);
everything else is derived by autodiff:

    lambda(t) = log alpha - log sigma                 (log-SNR / 2, strictly decreasing)
    f(t)      = d log alpha / dt                      (drift coefficient)
    g2(t)     = d sigma^2/dt - 2 f sigma^2 = -2 sigma^2 d lambda/dt

Schedules are frozen dataclasses, hashable by value, so they can be static arguments of ``jit``.

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations"; Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models"; Kingma et al. 2021, "Variational Diffusion Models"; Liu et al. 2023, "Flow Straight and
Fast". Training-time samplers for t live with the losses (``genjax.losses.timesteps``).
"""
from genjax.schedules.base import Schedule
from genjax.schedules.grids import GRID_KINDS, time_grid
from genjax.schedules.paths import (BY_NAME, EDM, VE, Rectified, SubVP, VPCosine, VPLinear, edm, get, rectified,
                                    sub_vp, ve, vp_cosine, vp_linear)

__all__ = ["BY_NAME", "EDM", "GRID_KINDS", "Rectified", "Schedule", "SubVP", "VE", "VPCosine", "VPLinear", "edm",
           "get", "rectified", "sub_vp", "time_grid", "ve", "vp_cosine", "vp_linear"]
