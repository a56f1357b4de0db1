"""EDM preconditioning coefficients for any schedule (schedule maths, no network).

EDM writes D(y; s~) = c_skip(s~) y + c_out(s~) F(c_in(s~) y, c_noise(s~)) for y = x_0 + s~ n
(alpha = 1). A general path x_t = alpha x_0 + sigma eps gives exactly such a y = x_t / alpha with
s~ = sigma / alpha = exp(-lambda), and E[x_0 | x_t] = E[x_0 | y] because x_t -> y is a bijection.
Substituting y = x_t / alpha and multiplying numerator and denominator by alpha gives coefficients
on x_t that stay finite as alpha -> 0:

    c_skip = alpha sd^2 / (sigma^2 + alpha^2 sd^2)        c_in    = 1 / sqrt(sigma^2 + alpha^2 sd^2)
    c_out  = sigma sd / sqrt(sigma^2 + alpha^2 sd^2)       c_noise = log(sigma / alpha) / 4 = -lambda / 4
    D(x_t, t) = c_skip x_t + c_out F(c_in x_t, c_noise)

(alpha = 1 recovers Karras et al.'s Table 1), and the EDM loss weight is 1 / c_out^2 at s~.
Used by the losses (``genjax.losses``) and the "edm" parameterization (``genjax.predictions``).

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1, Appendix B.6).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from genjax.schedules import Schedule

Array = jax.Array


def _check_sigma_data(caller: str, sigma_data) -> None:
    if not isinstance(sigma_data, jax.core.Tracer) and not float(sigma_data) > 0:
        raise ValueError(f"{caller}: sigma_data must be > 0, got {sigma_data}")


def _float(t) -> Array:
    t = jnp.asarray(t)
    return t if jnp.issubdtype(t.dtype, jnp.floating) else t.astype(jnp.result_type(float))


def edm_precond(sigma: Array, sigma_data: float = 0.5):
    """EDM preconditioning coefficients on the alpha = 1 state: D = c_skip x + c_out F(c_in x, c_noise).

        c_skip = sd^2 / (sigma^2 + sd^2),    c_out = sigma sd / sqrt(sigma^2 + sd^2),
        c_in   = 1 / sqrt(sigma^2 + sd^2),   c_noise = log(sigma) / 4.

    Args:
      sigma: noise level(s), any shape (broadcast against x yourself).
      sigma_data: std of the data.

    Returns:
      (c_skip, c_out, c_in, c_noise), each shaped like sigma.

    References: Karras et al. 2022, Table 1 and Appendix B.6.
    """
    _check_sigma_data("edm_precond", sigma_data)
    return edm_coefficients_at(1.0, _float(sigma), -jnp.log(_float(sigma)), sigma_data)


def edm_loss_weight(sigma: Array, sigma_data: float = 0.5) -> Array:
    """EDM loss weight lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2 = 1 / c_out^2.

    References: Karras et al. 2022, Table 1.
    """
    _check_sigma_data("edm_loss_weight", sigma_data)
    sigma = _float(sigma)
    return (jnp.square(sigma) + sigma_data**2) / jnp.square(sigma * sigma_data)


def edm_coefficients_at(alpha, sigma, log_snr, sigma_data: float):
    """(c_skip, c_out, c_in, c_noise) on x_t from alpha, sigma and lambda at the same times."""
    sd2 = sigma_data**2
    tot = jnp.square(sigma) + jnp.square(alpha) * sd2
    r = jax.lax.rsqrt(tot)
    return alpha * sd2 / tot, sigma * sigma_data * r, r, -0.25 * log_snr


def edm_coefficients(s: Schedule, t: Array, sigma_data: float = 0.5):
    """(c_skip, c_out, c_in, c_noise) on x_t for any schedule (module docstring), each shaped like t.

    References: Karras et al. 2022, Table 1, generalised to alpha != 1 through y = x_t / alpha.
    """
    _check_sigma_data("edm_coefficients", sigma_data)
    t = _float(t)
    return edm_coefficients_at(s.alpha(t), s.sigma(t), s.log_snr(t), sigma_data)


def edm_weight(s: Schedule, t: Array, sigma_data: float = 0.5) -> Array:
    """EDM loss weight 1 / c_out^2 = (s~^2 + sd^2) / (s~ sd)^2 at s~ = sigma / alpha.

    References: Karras et al. 2022, Table 1.
    """
    _, c_out, _, _ = edm_coefficients(s, t, sigma_data)
    return 1.0 / jnp.square(c_out)
