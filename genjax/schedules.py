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
from __future__ import annotations

import abc
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

GRID_KINDS = ("uniform", "karras", "log_snr")


def _elementwise_grad(fn, t):
    """d fn / dt for an elementwise fn, for any shape of t (one forward-mode pass)."""
    t = jnp.asarray(t, jnp.result_type(float))
    return jax.jvp(fn, (t,), (jnp.ones_like(t),))[1]


@dataclasses.dataclass(frozen=True)
class Schedule(abc.ABC):
    """Base class: subclasses define ``log_alpha`` and ``log_sigma`` (elementwise in t)."""

    t_min: float
    t_max: float

    name = "schedule"

    # --- defined by each schedule ---------------------------------------------------------
    @abc.abstractmethod
    def log_alpha(self, t: Array) -> Array:
        """log alpha(t), elementwise."""

    @abc.abstractmethod
    def log_sigma(self, t: Array) -> Array:
        """log sigma(t), elementwise."""

    # --- derived ----------------------------------------------------------------------------
    def alpha(self, t: Array) -> Array:
        return jnp.exp(self.log_alpha(t))

    def sigma(self, t: Array) -> Array:
        return jnp.exp(self.log_sigma(t))

    def log_snr(self, t: Array) -> Array:
        """lambda(t) = log(alpha / sigma); strictly decreasing in t."""
        return self.log_alpha(t) - self.log_sigma(t)

    def f(self, t: Array) -> Array:
        """Drift coefficient f(t) = d log alpha / dt of the forward SDE dx = f x dt + g dW."""
        return _elementwise_grad(self.log_alpha, t)

    def g2(self, t: Array) -> Array:
        """Squared diffusion g(t)^2 = d sigma^2/dt - 2 f sigma^2 = -2 sigma^2 d lambda / dt."""
        return -2.0 * jnp.square(self.sigma(t)) * _elementwise_grad(self.log_snr, t)

    def t_from_log_snr(self, lam: Array) -> Array:
        """Inverse of ``log_snr``; generic bisection (64 halvings), clipped to [t_min, t_max]."""
        lam = jnp.asarray(lam, jnp.result_type(float))
        lo = jnp.full_like(lam, self.t_min)
        hi = jnp.full_like(lam, self.t_max)

        def body(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            above = self.log_snr(mid) > lam  # log_snr decreasing: root lies to the right
            return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

        lo, hi = jax.lax.fori_loop(0, 64, body, (lo, hi))
        return 0.5 * (lo + hi)

    def t_from_ratio(self, r: Array) -> Array:
        """Inverse of the noise-to-signal ratio r(t) = sigma / alpha = exp(-lambda)."""
        return self.t_from_log_snr(-jnp.log(r))

    # --- prior ------------------------------------------------------------------------------
    def prior_std(self) -> float:
        """Std of the prior N(0, sigma(t_max)^2 I); alpha(t_max) x_0 is neglected by convention."""
        with jax.ensure_compile_time_eval():  # a Python float also under jit (t_max is static)
            return float(self.sigma(jnp.float32(self.t_max)))

    def prior_sample(self, shape, key) -> Array:
        """x ~ N(0, sigma(t_max)^2 I) with the given shape."""
        return self.prior_std() * jax.random.normal(key, shape)

    def prior_log_prob(self, x: Array) -> Array:
        """log N(x; 0, sigma(t_max)^2 I) summed over all but the leading axis: [B, ...] -> [B]."""
        std = self.prior_std()
        z = x / std
        d = math.prod(x.shape[1:])
        return -0.5 * jnp.sum(jnp.square(z).reshape(x.shape[0], -1), -1) - d * (
            math.log(std) + 0.5 * math.log(2 * math.pi)
        )

    def check_t(self, t, name: str = "t") -> None:
        """Raise ValueError (before tracing) when a concrete t lies outside [t_min, t_max]."""
        if isinstance(t, jax.core.Tracer):
            return
        t = jnp.asarray(t)
        tol = 1e-6 * max(1.0, abs(self.t_max))
        if bool(jnp.any(t < self.t_min - tol)) or bool(jnp.any(t > self.t_max + tol)):
            raise ValueError(
                f"{name} must lie in [t_min, t_max] = [{self.t_min}, {self.t_max}] for the "
                f"{self.name} schedule; got values in [{float(jnp.min(t))}, {float(jnp.max(t))}]"
            )


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


# --- time grids ---------------------------------------------------------------------------------
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
