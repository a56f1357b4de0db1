"""How a network's apply function becomes a ``genjax.predictions.Model`` (callable as D(x, t)).

A network is called through an *apply function* with one signature everywhere (losses, samplers,
the trainer):

    apply_fn(params, x, t, label=None, train=False, key=None) -> out      # x, out: [B, ...]

``apply_fn(module)`` builds it from a flax module (params = the "params" collection; ``key``
feeds the "dropout" rng stream). ``predicts`` declares what ``out`` is, one of
``genjax.predictions.PREDICTS`` ("eps", "x0", "v", "score", "velocity", or "edm": the raw F of EDM
preconditioning, whose coefficients live in ``genjax.preconditioning`` and are re-exported here).

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1, Appendix B.6); Salimans & Ho 2022, "Progressive Distillation" (v).
"""
from __future__ import annotations

import functools
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from genjax import predictions
from genjax.nets.embeddings import batch_times as _batch_times_f32
from genjax.preconditioning import edm_coefficients, edm_weight
from genjax.schedules import Schedule

Array = jax.Array

PREDICTS = predictions.PREDICTS
__all__ = ["PREDICTS", "apply_fn", "check_predicts", "denoise", "denoiser_from", "edm_coefficients", "edm_weight",
           "init_params", "model_from", "velocity_from"]


def batch_times(t, batch: int) -> Array:
    """t: [] or [B] -> [B], keeping a floating dtype (float64 under x64 stays float64)."""
    t = jnp.asarray(t)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        return _batch_times_f32(t, batch)
    if t.ndim == 0:
        return jnp.broadcast_to(t, (batch,))
    if t.shape != (batch,):
        raise ValueError(f"t must be a scalar or have shape ({batch},), got {t.shape}")
    return t


def check_predicts(predicts: str) -> None:
    """ValueError naming ``predicts`` unless it is one of ``PREDICTS``."""
    predictions.check_predicts(predicts)


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


def _sigma_data(s: Schedule, sigma_data: Optional[float]) -> float:
    return float(getattr(s, "sigma_data", 0.5) if sigma_data is None else sigma_data)


@functools.lru_cache(maxsize=256)
def _raw_net(apply: Callable) -> Callable:
    """One function object per apply: ``net(params, label, x, t_in)`` (a stable jit cache key)."""

    def net(params, label, x, t):
        return apply(params, x, batch_times(t, x.shape[0]), label)

    return net


def model_from(apply: Callable, params, s: Schedule, predicts: str, label: Optional[Array] = None,
               *, sigma_data: Optional[float] = None) -> predictions.Model:
    """The network as a ``predictions.Model``: callable as ``D(x, t)``, and the samplers call it
    once per stage with at most one conversion (a velocity network gives its velocity as is).

    ``label`` is fixed (None: the null label of a conditional network, the unconditional model of
    classifier-free guidance). (params, label) are pytree leaves, so ``genjax.samplers.sample``
    traces them: new params reuse the compiled sampler as long as ``apply`` is the same object.
    """
    param = predictions.parameterization(predicts, _sigma_data(s, sigma_data))
    return predictions.Model(jax.tree_util.Partial(_raw_net(apply), params, label), param, s)


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

    References: Karras et al. 2022 (EDM preconditioning); ``genjax.predictions`` for the conversions.
    """
    param = predictions.parameterization(predicts, _sigma_data(s, sigma_data))
    node = predictions.coefficients(s, batch_times(t, x.shape[0]))
    x_in, t_in = param.inputs(x, node)
    return param.to_denoiser(apply(params, x_in, t_in, label, train=train, key=key), x, node)


def denoiser_from(apply: Callable, params, s: Schedule, predicts: str, label: Optional[Array] = None,
                  *, sigma_data: Optional[float] = None) -> predictions.Model:
    """``denoiser(x, t) -> E[x_0 | x_t]`` of a trained network, for samplers and guidance: the
    ``model_from`` Model (a pytree carrying (params, label) as leaves, callable as D)."""
    return model_from(apply, params, s, predicts, label, sigma_data=sigma_data)


def velocity_from(apply: Callable, params, s: Schedule, predicts: str, label: Optional[Array] = None,
                  *, sigma_data: Optional[float] = None) -> Callable:
    """``velocity(x, t) -> E[dx_t/dt | x_t]`` (the probability-flow ODE field) of a network.

    A "velocity" network is returned as is (no round trip through the denoiser, so the ends
    t = 0 and t = 1 of a rectified flow stay finite); other kinds convert through D once.
    """
    return jax.tree_util.Partial(_velocity, model_from(apply, params, s, predicts, label, sigma_data=sigma_data))


def _velocity(model, x, t):
    return predictions.velocity(model, predictions.coefficients(model.schedule, batch_times(t, x.shape[0])), x)
