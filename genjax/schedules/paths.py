"""The schedules: VP (linear beta, cosine), sub-VP, VE, EDM and rectified flow, with their factories.

Each defines ``log_alpha`` and ``log_sigma`` (and closed-form inverses where they exist); every
other quantity is derived in ``genjax.schedules.base.Schedule``.

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations"; Nichol & Dhariwal 2021, "Improved Denoising Diffusion Probabilistic Models"; Karras et
al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models"; Liu et al. 2023,
"Flow Straight and Fast".
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from genjax.schedules.base import Array, Schedule

def _log1mexp(a: Array) -> Array:
    """log(1 - exp(a)) for a < 0, accurate for a near 0 and for a very negative."""
    return jnp.where(a > -0.6931, jnp.log(-jnp.expm1(a)), jnp.log1p(-jnp.exp(a)))


@dataclasses.dataclass(frozen=True)
class VPLinear(Schedule):
    """VP SDE with linear beta(t) = b_min + t (b_max - b_min): alpha^2 + sigma^2 = 1.

    log alpha(t) = -t^2 (b_max - b_min) / 4 - t b_min / 2;  sigma = sqrt(1 - alpha^2).
    """

    beta_min: float = 0.1
    beta_max: float = 20.0
    name = "vp_linear"

    def log_alpha(self, t):
        t = jnp.asarray(t, jnp.result_type(float))
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def log_sigma(self, t):
        return 0.5 * _log1mexp(2.0 * self.log_alpha(t))

    def t_from_log_snr(self, lam):
        # alpha^2 = sigmoid(2 lam) => c := -log alpha = softplus(-2 lam) / 2; solve the quadratic
        # (b_max - b_min)/4 t^2 + b_min/2 t - c = 0 in its cancellation-free form.
        c = 0.5 * jax.nn.softplus(-2.0 * jnp.asarray(lam, jnp.result_type(float)))
        a, b = self.beta_max - self.beta_min, self.beta_min
        t = 2.0 * c / (0.5 * b + jnp.sqrt(0.25 * b * b + a * c))
        return jnp.clip(t, self.t_min, self.t_max)


@dataclasses.dataclass(frozen=True)
class VPCosine(Schedule):
    """Cosine VP schedule: alpha(t) = cos(pi/2 (t + s) / (1 + s)) / cos(pi/2 s / (1 + s)).

    As in Nichol & Dhariwal 2021 ("Improved DDPM"); sigma = sqrt(1 - alpha^2); t_max < 1 keeps
    alpha > 0.
    """

    s: float = 0.008
    name = "vp_cosine"

    def _phase(self, t):
        return 0.5 * math.pi * (jnp.asarray(t, jnp.result_type(float)) + self.s) / (1 + self.s)

    def log_alpha(self, t):
        return jnp.log(jnp.cos(self._phase(t))) - math.log(math.cos(0.5 * math.pi * self.s / (1 + self.s)))

    def log_sigma(self, t):
        return 0.5 * _log1mexp(2.0 * self.log_alpha(t))


@dataclasses.dataclass(frozen=True)
class SubVP(Schedule):
    """sub-VP SDE (Song et al. 2021): alpha as VP linear, sigma = 1 - alpha^2."""

    beta_min: float = 0.1
    beta_max: float = 20.0
    name = "sub_vp"

    def log_alpha(self, t):
        return VPLinear.log_alpha(self, t)

    def log_sigma(self, t):
        return _log1mexp(2.0 * self.log_alpha(t))


@dataclasses.dataclass(frozen=True)
class VE(Schedule):
    """VE SDE: alpha = 1, sigma(t) = sigma_min (sigma_max / sigma_min)^t, t in [t_min, 1]."""

    sigma_min: float = 0.01
    sigma_max: float = 50.0
    name = "ve"

    def log_alpha(self, t):
        return jnp.zeros_like(jnp.asarray(t, jnp.result_type(float)))

    def log_sigma(self, t):
        t = jnp.asarray(t, jnp.result_type(float))
        return math.log(self.sigma_min) + t * math.log(self.sigma_max / self.sigma_min)

    def t_from_log_snr(self, lam):
        t = (-jnp.asarray(lam) - math.log(self.sigma_min)) / math.log(self.sigma_max / self.sigma_min)
        return jnp.clip(t, self.t_min, self.t_max)


@dataclasses.dataclass(frozen=True)
class EDM(Schedule):
    """EDM (Karras et al. 2022): alpha = 1, sigma(t) = t; time is the noise level."""

    sigma_data: float = 0.5
    name = "edm"

    def log_alpha(self, t):
        return jnp.zeros_like(jnp.asarray(t, jnp.result_type(float)))

    def log_sigma(self, t):
        return jnp.log(jnp.asarray(t, jnp.result_type(float)))

    def t_from_log_snr(self, lam):
        return jnp.clip(jnp.exp(-jnp.asarray(lam, jnp.result_type(float))), self.t_min, self.t_max)


@dataclasses.dataclass(frozen=True)
class Rectified(Schedule):
    """Rectified flow / flow matching: alpha = 1 - t, sigma = t.

    The ends t = 0 and t = 1 make log-SNR infinite, so the default range is [1e-3, 1 - 1e-3]
    (pass t_min=0 / t_max=1 explicitly to integrate to the ends with velocity-form solvers).
    """

    name = "rectified"

    def log_alpha(self, t):
        return jnp.log1p(-jnp.asarray(t, jnp.result_type(float)))

    def log_sigma(self, t):
        return jnp.log(jnp.asarray(t, jnp.result_type(float)))

    # alpha and sigma in closed form (same values as exp of the logs) so that their derivatives
    # stay finite at the ends: d alpha/dt = -1 at t = 1 (alpha = 0), where exp(log alpha) gives 0 * inf.
    def alpha(self, t):
        return 1.0 - jnp.asarray(t, jnp.result_type(float))

    def sigma(self, t):
        return jnp.asarray(t, jnp.result_type(float))

    def t_from_log_snr(self, lam):
        # (1 - t) / t = exp(lam)  =>  t = sigmoid(-lam)
        return jnp.clip(jax.nn.sigmoid(-jnp.asarray(lam, jnp.result_type(float))), self.t_min, self.t_max)


def _check_range(name, t_min, t_max):
    if not (t_min < t_max):
        raise ValueError(f"{name}: need t_min < t_max, got t_min={t_min}, t_max={t_max}")


def vp_linear(beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-3, t_max: float = 1.0) -> Schedule:
    """VP SDE of DDPM / score_sde (beta in [0.1, 20] over t in [eps, 1])."""
    if not 0 < beta_min < beta_max:
        raise ValueError(f"vp_linear: need 0 < beta_min < beta_max, got {beta_min}, {beta_max}")
    _check_range("vp_linear", t_min, t_max)
    return VPLinear(t_min=t_min, t_max=t_max, beta_min=beta_min, beta_max=beta_max)


def vp_cosine(s: float = 0.008, t_min: float = 1e-3, t_max: float = 0.999) -> Schedule:
    """Cosine VP schedule; t_max < 1 keeps alpha(t_max) > 0."""
    if s < 0:
        raise ValueError(f"vp_cosine: s must be >= 0, got {s}")
    if t_max >= 1.0:
        raise ValueError(f"vp_cosine: t_max must be < 1 (alpha(1) = 0), got {t_max}")
    _check_range("vp_cosine", t_min, t_max)
    return VPCosine(t_min=t_min, t_max=t_max, s=s)


def sub_vp(beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-3, t_max: float = 1.0) -> Schedule:
    """sub-VP SDE of score_sde."""
    if not 0 < beta_min < beta_max:
        raise ValueError(f"sub_vp: need 0 < beta_min < beta_max, got {beta_min}, {beta_max}")
    _check_range("sub_vp", t_min, t_max)
    return SubVP(t_min=t_min, t_max=t_max, beta_min=beta_min, beta_max=beta_max)


def ve(sigma_min: float = 0.01, sigma_max: float = 50.0, t_min: float = 1e-5, t_max: float = 1.0) -> Schedule:
    """VE SDE (SMLD / NCSN++)."""
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"ve: need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    _check_range("ve", t_min, t_max)
    return VE(t_min=t_min, t_max=t_max, sigma_min=sigma_min, sigma_max=sigma_max)


def edm(sigma_min: float = 0.002, sigma_max: float = 80.0, sigma_data: float = 0.5) -> Schedule:
    """EDM schedule: t = sigma in [sigma_min, sigma_max]."""
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"edm: need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    if sigma_data <= 0:
        raise ValueError(f"edm: sigma_data must be > 0, got {sigma_data}")
    return EDM(t_min=sigma_min, t_max=sigma_max, sigma_data=sigma_data)


def rectified(t_min: float = 1e-3, t_max: float = 1.0 - 1e-3) -> Schedule:
    """Rectified flow / flow matching path x_t = (1 - t) x_0 + t eps."""
    if not 0.0 <= t_min < t_max <= 1.0:
        raise ValueError(f"rectified: need 0 <= t_min < t_max <= 1, got {t_min}, {t_max}")
    return Rectified(t_min=t_min, t_max=t_max)


BY_NAME = {"vp_linear": vp_linear, "vp_cosine": vp_cosine, "sub_vp": sub_vp, "ve": ve, "edm": edm,
           "rectified": rectified}


def get(name: str, **kwargs) -> Schedule:
    """A schedule by name (for configs): one of ``BY_NAME``."""
    if name not in BY_NAME:
        raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(BY_NAME)}")
    return BY_NAME[name](**kwargs)
