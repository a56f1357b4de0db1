"""Prediction types: conversions among eps, x0, v, score and velocity, and EDM preconditioning.

A network may predict any of five quantities about ``x_t = alpha(t) x_0 + sigma(t) eps``; the
canonical one is the denoiser ``D(x, t) ~ E[x_0 | x_t]`` (DESIGN.md section 1). With
``a = alpha(t)``, ``s = sigma(t)``, ``a' = da/dt``, ``s' = ds/dt`` and ``n = sqrt(a^2 + s^2)``:

    kind        output from the denoiser D                       denoiser from the output
    "x0"        D                                                D
    "eps"       (x - a D) / s                                    (x - s eps) / a
    "score"     (a D - x) / s^2                                  (x + s^2 score) / a
    "v"         (a eps - s D) / n                                a x / n^2 - s v / n
    "velocity"  a' D + s'/s (x - a D)                            (u - (s'/s) x) / (a dlambda/dt)

"v" is the v-prediction of Salimans & Ho 2022 written for the state normalised to unit
signal-plus-noise scale, ``x / n = (a/n) x_0 + (s/n) eps``; it reduces to ``a eps - s x_0`` on VP
schedules (n = 1). "velocity" is the marginal velocity E[dx_t/dt | x_t] of the path, which equals
the probability-flow ODE field f x - g^2/2 * score; its inverse divides by
``a' - a s'/s = a dlambda/dt``, nonzero because log-SNR is strictly decreasing.

``t`` is a scalar or a [B] array; it broadcasts over the trailing axes of ``x`` ([B, ...]).

References: Salimans & Ho 2022, "Progressive Distillation for Fast Sampling of Diffusion Models"
(v-prediction); Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1, preconditioning); Lipman et al. 2023, "Flow Matching for Generative Modeling".
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from genjax.schedules import Schedule

Array = jax.Array

KINDS = ("eps", "x0", "v", "score", "velocity")


def _check_kind(kind) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown prediction kind {kind!r}; choose one of {KINDS}")


def broadcast_time(t: Array, x: Array) -> Array:
    """t: [] or [B] -> broadcastable against x: [B, ...] (trailing singleton axes added)."""
    t = jnp.asarray(t, jnp.result_type(float))
    if t.ndim == 0:
        return t
    return t.reshape(t.shape + (1,) * (x.ndim - t.ndim))


def _coeffs(s: Schedule, t: Array):
    """(alpha, sigma, d log alpha / dt, d log sigma / dt) at t, elementwise."""
    a, sg = s.alpha(t), s.sigma(t)
    ones = jnp.ones_like(t)
    dla = jax.jvp(s.log_alpha, (t,), (ones,))[1]
    dls = jax.jvp(s.log_sigma, (t,), (ones,))[1]
    return a, sg, dla, dls


def to_denoiser(kind: str, s: Schedule, out: Array, x: Array, t: Array) -> Array:
    """The denoiser D = E[x_0 | x_t] from a network output of the given kind.

    Args:
      kind: one of ``KINDS``: "eps", "x0", "v", "score", "velocity".
      s: the schedule.
      out: the prediction, [B, ...] (same shape as x).
      x: the noisy state x_t, [B, ...].
      t: time, [] or [B].

    Returns:
      D: [B, ...]; formulas in the module docstring.

    References: Salimans & Ho 2022; Karras et al. 2022; Lipman et al. 2023.
    """
    _check_kind(kind)
    if kind == "x0":
        return out
    a, sg, dla, dls = _coeffs(s, broadcast_time(t, x))
    if kind == "eps":
        return (x - sg * out) / a
    if kind == "score":
        return (x + jnp.square(sg) * out) / a
    if kind == "v":
        n2 = jnp.square(a) + jnp.square(sg)
        return a * x / n2 - sg * out / jnp.sqrt(n2)
    # velocity: u = a' D + s'/s (x - a D) = a (dla - dls) D + dls x
    return (out - dls * x) / (a * (dla - dls))


def from_denoiser(kind: str, s: Schedule, d: Array, x: Array, t: Array) -> Array:
    """The prediction of the given kind implied by the denoiser output ``d`` at (x, t).

    Args:
      kind: one of ``KINDS``.
      s: the schedule.
      d: denoiser output E[x_0 | x_t], [B, ...].
      x: the noisy state x_t, [B, ...].
      t: time, [] or [B].

    Returns:
      The prediction, [B, ...]; formulas in the module docstring.

    References: Salimans & Ho 2022; Karras et al. 2022; Lipman et al. 2023.
    """
    _check_kind(kind)
    if kind == "x0":
        return d
    a, sg, dla, dls = _coeffs(s, broadcast_time(t, x))
    if kind == "eps":
        return (x - a * d) / sg
    if kind == "score":
        return (a * d - x) / jnp.square(sg)
    if kind == "v":
        eps = (x - a * d) / sg
        return (a * eps - sg * d) / jnp.sqrt(jnp.square(a) + jnp.square(sg))
    return a * (dla - dls) * d + dls * x


def convert(from_kind: str, to_kind: str, s: Schedule, out: Array, x: Array, t: Array) -> Array:
    """Any-to-any conversion through the denoiser: ``from_denoiser(to, to_denoiser(from, out))``."""
    _check_kind(from_kind)
    _check_kind(to_kind)
    if from_kind == to_kind:
        return out
    return from_denoiser(to_kind, s, to_denoiser(from_kind, s, out, x, t), x, t)


def denoiser_from_prediction(predict, kind: str, s: Schedule):
    """Wrap ``predict(x, t) -> out`` of the given kind as a ``denoiser(x, t) -> E[x_0 | x_t]``."""
    _check_kind(kind)

    def denoiser(x, t):
        return to_denoiser(kind, s, predict(x, t), x, t)

    return denoiser


def edm_precond(sigma: Array, sigma_data: float = 0.5):
    """EDM preconditioning coefficients: D(x; sigma) = c_skip x + c_out F(c_in x, c_noise).

        c_skip = sd^2 / (sigma^2 + sd^2),    c_out = sigma sd / sqrt(sigma^2 + sd^2),
        c_in   = 1 / sqrt(sigma^2 + sd^2),   c_noise = log(sigma) / 4.

    ``sigma`` is the noise level of the alpha = 1 state; for a schedule with alpha != 1 use
    sigma / alpha on the state x / alpha. Broadcast ``sigma`` ([] or [B]) yourself against x.

    Args:
      sigma: noise level(s), any shape.
      sigma_data: std of the data.

    Returns:
      (c_skip, c_out, c_in, c_noise), each shaped like sigma.

    References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    Models", Table 1 and Appendix B.6.
    """
    if not isinstance(sigma_data, jax.core.Tracer) and float(sigma_data) <= 0:
        raise ValueError(f"edm_precond: sigma_data must be > 0, got {sigma_data}")
    sigma = jnp.asarray(sigma, jnp.result_type(float))
    sd2 = jnp.square(sigma_data)
    tot = jnp.square(sigma) + sd2
    c_skip = sd2 / tot
    c_out = sigma * sigma_data * jax.lax.rsqrt(tot)
    c_in = jax.lax.rsqrt(tot)
    c_noise = 0.25 * jnp.log(sigma)
    return c_skip, c_out, c_in, c_noise


def edm_loss_weight(sigma: Array, sigma_data: float = 0.5) -> Array:
    """EDM loss weight lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2 = 1 / c_out^2.

    With it the loss on D equals the unit-weighted loss on the network output F's target.

    References: Karras et al. 2022, Table 1.
    """
    if not isinstance(sigma_data, jax.core.Tracer) and float(sigma_data) <= 0:
        raise ValueError(f"edm_loss_weight: sigma_data must be > 0, got {sigma_data}")
    sigma = jnp.asarray(sigma, jnp.result_type(float))
    return (jnp.square(sigma) + sigma_data**2) / jnp.square(sigma * sigma_data)
