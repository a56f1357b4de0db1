"""What a network predicts, and how its output becomes a denoiser D(x, t) ~ E[x_0 | x_t].

A network is called through an *apply function* with one signature everywhere (losses, samplers,
the trainer):

    apply_fn(params, x, t, label=None, train=False, key=None) -> out      # x, out: [B, ...]

``apply_fn(module)`` builds it from a flax module (params = the "params" collection; ``key``
feeds the "dropout" rng stream). ``predicts`` declares what ``out`` is:

    "eps", "x0", "v", "score", "velocity"   converted by ``genjax.predictions.to_denoiser``
    "edm"                                   the raw F of EDM preconditioning (below)

EDM preconditioning for any schedule. EDM writes D(y; s~) = c_skip(s~) y + c_out(s~) F(c_in(s~) y,
c_noise(s~)) for y = x_0 + s~ n (alpha = 1). A general path x_t = alpha x_0 + sigma eps gives
exactly such a y = x_t / alpha with s~ = sigma / alpha = exp(-lambda), and E[x_0 | x_t] =
E[x_0 | y] because x_t -> y is a bijection. Substituting y = x_t / alpha and multiplying numerator
and denominator by alpha gives coefficients on x_t that stay finite as alpha -> 0:

    c_skip = alpha sd^2 / (sigma^2 + alpha^2 sd^2)        c_in    = 1 / sqrt(sigma^2 + alpha^2 sd^2)
    c_out  = sigma sd / sqrt(sigma^2 + alpha^2 sd^2)       c_noise = log(sigma / alpha) / 4 = -lambda / 4
    D(x_t, t) = c_skip x_t + c_out F(c_in x_t, c_noise)

(alpha = 1 recovers Karras et al.'s Table 1), and the EDM loss weight is 1 / c_out^2 evaluated at s~.

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1, Appendix B.6); Salimans & Ho 2022, "Progressive Distillation" (v).
"""
from __future__ import annotations

import functools
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from genjax import predictions
from genjax.nets.embeddings import batch_times
from genjax.schedules import Schedule

Array = jax.Array

PREDICTS = ("eps", "x0", "v", "score", "velocity", "edm")


def check_predicts(predicts: str) -> None:
    """ValueError naming ``predicts`` unless it is one of ``PREDICTS``."""
    if predicts not in PREDICTS:
        raise ValueError(f"predicts must be one of {PREDICTS}, got {predicts!r}")


def apply_fn(module) -> Callable:
    """The apply function of a flax module: ``(params, x, t, label=None, train=False, key=None)``.

    ``params`` is the "params" collection (``module.init(...)["params"]``); ``key`` (only read
    when ``train``) seeds the "dropout" rng stream.
    """

    def apply(params, x, t, label=None, train=False, key=None):
        rngs = {"dropout": key} if (train and key is not None) else None
        return module.apply({"params": params}, x, t, label, train, rngs=rngs)

    return apply


def init_params(module, x: Array, key, label: Optional[Array] = None):
    """``module.init`` on an example batch x [B, ...] (t = 0.5): the "params" pytree."""
    t = jnp.full((x.shape[0],), 0.5, jnp.float32)
    if getattr(module, "num_classes", None) is not None and label is None:
        label = jnp.zeros((x.shape[0],), jnp.int32)
    return module.init({"params": key}, x, t, label, False)["params"]


def _bcast(c: Array, x: Array) -> Array:
    return c.reshape(c.shape + (1,) * (x.ndim - c.ndim))


def edm_coefficients(s: Schedule, t: Array, sigma_data: float = 0.5):
    """(c_skip, c_out, c_in, c_noise) on x_t for any schedule (module docstring), each shaped like t.

    References: Karras et al. 2022, Table 1, generalised to alpha != 1 through y = x_t / alpha.
    """
    if not isinstance(sigma_data, jax.core.Tracer) and float(sigma_data) <= 0:
        raise ValueError(f"sigma_data must be > 0, got {sigma_data}")
    t = jnp.asarray(t, jnp.float32)
    a, sg = s.alpha(t), s.sigma(t)
    sd2 = sigma_data**2
    tot = jnp.square(sg) + jnp.square(a) * sd2
    r = jax.lax.rsqrt(tot)
    return a * sd2 / tot, sg * sigma_data * r, r, -0.25 * s.log_snr(t)


def edm_weight(s: Schedule, t: Array, sigma_data: float = 0.5) -> Array:
    """EDM loss weight lambda(s~) = (s~^2 + sd^2) / (s~ sd)^2 = 1 / c_out^2 at s~ = sigma / alpha."""
    _, c_out, _, _ = edm_coefficients(s, t, sigma_data)
    return 1.0 / jnp.square(c_out)


def _sigma_data(s: Schedule, sigma_data: Optional[float]) -> float:
    if sigma_data is not None:
        return sigma_data
    return getattr(s, "sigma_data", 0.5)


def denoise(apply: Callable, params, s: Schedule, predicts: str, x: Array, t: Array,
            label: Optional[Array] = None, *, sigma_data: Optional[float] = None, train: bool = False,
            key=None) -> Array:
    """D(x, t) = E[x_0 | x_t] from one network call: x [B, ...], t [] or [B] -> [B, ...].

    Args:
      apply: ``apply(params, x, t, label=None, train=False, key=None) -> out``.
      params: network parameters.
      s: the schedule of the path x_t = alpha x_0 + sigma eps.
      predicts: what ``out`` is, one of ``PREDICTS``.
      x: noisy states, [B, ...].
      t: times, [] or [B].
      label: class labels [B] (None: unconditional / null label).
      sigma_data: data std for "edm" (default: ``s.sigma_data`` when the schedule has one, else 0.5).
      train: forwarded to the network (dropout).
      key: dropout key, used when ``train``.

    References: Karras et al. 2022 (EDM preconditioning); module docstring for the conversions.
    """
    check_predicts(predicts)
    tb = batch_times(t, x.shape[0])
    if predicts == "edm":
        c_skip, c_out, c_in, c_noise = edm_coefficients(s, tb, _sigma_data(s, sigma_data))
        out = apply(params, _bcast(c_in, x) * x, c_noise, label, train=train, key=key)
        return _bcast(c_skip, x) * x + _bcast(c_out, x) * out
    out = apply(params, x, tb, label, train=train, key=key)
    return predictions.to_denoiser(predicts, s, out, x, tb)


@functools.lru_cache(maxsize=256)
def _bound(what: str, apply: Callable, s: Schedule, predicts: str, sigma_data: Optional[float]) -> Callable:
    """One function object per (apply, s, predicts, sigma_data): a stable jit cache key."""

    def fn(params, label, x, t):
        if what == "velocity" and predicts == "velocity":
            return apply(params, x, batch_times(t, x.shape[0]), label)
        d = denoise(apply, params, s, predicts, x, t, label, sigma_data=sigma_data)
        if what == "denoiser":
            return d
        return predictions.from_denoiser("velocity", s, d, x, batch_times(t, x.shape[0]))

    return fn


def denoiser_from(apply: Callable, params, s: Schedule, predicts: str, label: Optional[Array] = None,
                  *, sigma_data: Optional[float] = None) -> Callable:
    """``denoiser(x, t) -> E[x_0 | x_t]`` of a trained network, for samplers and guidance.

    ``label`` is fixed by the closure (None: the null label of a conditional network, i.e. the
    unconditional model of classifier-free guidance). The result is a ``jax.tree_util.Partial``
    carrying (params, label) as pytree leaves, so ``genjax.samplers.sample`` traces them instead of
    baking them into the program: new params (the trainer's periodic samples) reuse the compiled
    sampler as long as ``apply`` is the same object.
    """
    check_predicts(predicts)
    return jax.tree_util.Partial(_bound("denoiser", apply, s, predicts, sigma_data), params, label)


def velocity_from(apply: Callable, params, s: Schedule, predicts: str, label: Optional[Array] = None,
                  *, sigma_data: Optional[float] = None) -> Callable:
    """``velocity(x, t) -> E[dx_t/dt | x_t]`` (the probability-flow ODE field) of a network.

    A "velocity" network is returned as is (no round trip through the denoiser, so the ends
    t = 0 and t = 1 of a rectified flow stay finite); other kinds convert through D. A
    ``jax.tree_util.Partial`` like ``denoiser_from``.
    """
    check_predicts(predicts)
    return jax.tree_util.Partial(_bound("velocity", apply, s, predicts, sigma_data), params, label)
