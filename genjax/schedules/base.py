"""The ``Schedule`` base class: a Gaussian path defined by ``log_alpha(t)`` and ``log_sigma(t)``.

Everything else (log-SNR ``lambda``, drift ``f = d log alpha / dt``, ``g2 = -2 sigma^2 d lambda / dt``,
the inverse maps and the prior) is derived here by autodiff; the convention and the formulas are
in the package docstring (``genjax.schedules``).

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations"; Kingma et al. 2021, "Variational Diffusion Models".
"""
from __future__ import annotations

import abc
import dataclasses
import math

import jax
import jax.numpy as jnp

Array = jax.Array



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
