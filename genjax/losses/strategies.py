"""Training-time strategies shared by the losses: regression targets, label dropout, batch checks.

Time samplers and weightings are strategies of their own, one factory per variant
(``genjax.losses.timesteps``, ``genjax.losses.weightings``); ``time_sampler(name, **kwargs)`` and
``weighting(name, **kwargs)`` look them up by name for configs, and ``as_time_sampler`` /
``as_weighting`` accept a name or a built strategy.

References: Ho et al. 2020; Karras et al. 2022; Esser et al. 2024; Ho & Salimans 2022
(classifier-free guidance label dropout).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from genjax.losses import timesteps, weightings
from genjax.losses.weightings import TARGETS, check_target, log_target_factor  # noqa: F401 (re-exported)
from genjax.nets.embeddings import NULL_LABEL
from genjax.schedules import Schedule

Array = jax.Array

WEIGHTINGS = weightings.NAMES
T_SAMPLERS = timesteps.NAMES


def time_sampler(kind: str = "uniform", **kwargs) -> Callable:
    """The time sampler ``timesteps.get(kind, **kwargs)``: ``sampler(s, shape, key) -> (t, iw)``."""
    return timesteps.get(kind, **kwargs)


def weighting(name: str = "none", **kwargs) -> Callable:
    """The weighting ``weightings.get(name, **kwargs)``: ``weight(s, t, target) -> w`` ([B])."""
    return weightings.get(name, **kwargs)


def _built(value, registry, what: str) -> Callable:
    """A name (the registry's factory with default arguments) or an already-built strategy."""
    if isinstance(value, str):
        return registry.get(value)
    if not callable(value):
        raise TypeError(f"{what} must be a name in {registry.NAMES} or a callable, got {value!r}")
    return value


def as_time_sampler(t_sampler) -> Callable:
    """A name in ``T_SAMPLERS`` or a built time sampler -> time sampler."""
    return _built(t_sampler, timesteps, "t_sampler")


def as_weighting(w) -> Callable:
    """A name in ``WEIGHTINGS`` or a built weighting -> weighting."""
    return _built(w, weightings, "weighting")


# --- regression targets and labels -----------------------------------------------------------------
def bcast(c: Array, x: Array) -> Array:
    """c: [B] -> broadcastable against x: [B, ...]."""
    return c.reshape(c.shape + (1,) * (x.ndim - c.ndim))


def conditional_target(target: str, s: Schedule, x0: Array, eps: Array, t: Array) -> Array:
    """The regression target of x_t = alpha x0 + sigma eps, from (x0, eps) directly (no cancellation).

        eps, x0, v = (alpha eps - sigma x0) / sqrt(alpha^2 + sigma^2),
        velocity = alpha' x0 + sigma' eps,  score = -eps / sigma.
    """
    check_target(target)
    if target == "eps":
        return eps
    if target == "x0":
        return x0
    a, sg = bcast(s.alpha(t), x0), bcast(s.sigma(t), x0)
    if target == "v":
        return (a * eps - sg * x0) * jax.lax.rsqrt(jnp.square(a) + jnp.square(sg))
    if target == "score":
        return -eps / sg
    ones = jnp.ones_like(t)
    da = bcast(jax.jvp(s.log_alpha, (t,), (ones,))[1], x0)
    ds = bcast(jax.jvp(s.log_sigma, (t,), (ones,))[1], x0)
    return a * da * x0 + sg * ds * eps


def check_p_uncond(p_uncond: float) -> None:
    if not 0.0 <= p_uncond < 1.0:
        raise ValueError(f"p_uncond must lie in [0, 1), got {p_uncond}")


def labels(batch: dict, p_uncond: float, key) -> Optional[Array]:
    """batch["label"] with each entry replaced by NULL_LABEL with probability p_uncond (CFG)."""
    label = batch.get("label")
    if label is None:
        if p_uncond > 0:
            raise ValueError("p_uncond > 0 needs batch['label'] (label dropout for classifier-free guidance)")
        return None
    if p_uncond == 0:
        return label
    drop = jax.random.uniform(key, label.shape) < p_uncond
    return jnp.where(drop, NULL_LABEL, label)


def check_batch(batch, needs=("x",)) -> None:
    """TypeError / ValueError (at trace time) for a batch that is not a dict with the given keys."""
    if not isinstance(batch, dict):
        raise TypeError(f"batch must be a dict with keys {needs}, got {type(batch).__name__}")
    missing = [k for k in needs if k not in batch]
    if missing:
        raise ValueError(f"batch is missing key(s) {missing}; it has {sorted(batch)}")


def per_example(err2: Array) -> Array:
    """Mean over all but the leading axis: [B, ...] -> [B]."""
    return jnp.mean(err2.reshape(err2.shape[0], -1), axis=-1)


class Noised(NamedTuple):
    """One draw of the forward process for a batch (see ``noised``)."""
    x0: Array       # [B, ...] float32 data
    t: Array        # [B] times
    iw: Array       # [B] importance weights of the time sampler
    eps: Array      # [B, ...] standard normal noise
    xt: Array       # [B, ...] alpha(t) x0 + sigma(t) eps
    label: Optional[Array]   # [B] labels after dropout (None when the batch has none)
    key: jax.Array  # the network's own key (dropout)


def noised(s: Schedule, sampler: Callable, batch: dict, p_uncond: float, key) -> Noised:
    """x_t = alpha(t) x_0 + sigma(t) eps with t ~ ``sampler``, eps ~ N(0, I), labels dropped w.p. p_uncond.

    The shared first half of every denoising loss; ``key`` splits into (t, eps, label, network).
    References: Ho et al. 2020 (Algorithm 1); Karras et al. 2022 (Algorithm in Sec. 5).
    """
    check_batch(batch)
    x0 = jnp.asarray(batch["x"], jnp.float32)
    k_t, k_eps, k_lab, k_net = jax.random.split(key, 4)
    t, iw = sampler(s, (x0.shape[0],), k_t)
    eps = jax.random.normal(k_eps, x0.shape, x0.dtype)
    xt = bcast(s.alpha(t), x0) * x0 + bcast(s.sigma(t), x0) * eps
    return Noised(x0, t, iw, eps, xt, labels(batch, p_uncond, k_lab), k_net)
