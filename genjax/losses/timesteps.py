"""Training-time samplers for t, one factory per variant: ``sampler(s, shape, key) -> (t, iw)``.

t lies in [t_min, t_max]; iw = (uniform density) / (sampling density) keeps an estimate of
E_{t ~ U}[w(t) l(t)] unbiased. Only ``importance()`` reweights; the others *define* the objective
(as in EDM and SD3) and return iw = 1.

    uniform()                  t ~ U[t_min, t_max]
    logit_normal(loc, scale)   logit(u) ~ N(loc, scale^2), t = t_min + u (t_max - t_min)   (Esser et al. 2024)
    lognormal(p_mean, p_std)   log(sigma / alpha) ~ N(p_mean, p_std^2), t by the inverse ratio (Karras et al. 2022)
    importance()               lambda uniform: p(t) = -lambda'(t) / (lambda(t_min) - lambda(t_max)),
                               iw = 1 / (p(t) (t_max - t_min)); the likelihood weighting becomes constant
                               (Song et al. 2021, Sec. 4.2)
    fixed(t)                   t = value (diagnostics: the loss at one noise level)

``get(name, **kwargs)`` looks a factory up by name (configs).

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1); Esser et al. 2024, "Scaling Rectified Flow Transformers"; Song et al. 2021,
"Maximum Likelihood Training of Score-Based Diffusion Models".
"""
from __future__ import annotations

import inspect
from typing import Callable

import jax
import jax.numpy as jnp

from genjax._memo import memoized
from genjax.schedules import Schedule


def _ones(shape):
    return jnp.ones(shape, jnp.result_type(float))


@memoized
def uniform() -> Callable:
    """t ~ U[t_min, t_max], iw = 1."""
    def sample(s: Schedule, shape, key):
        return jax.random.uniform(key, shape, minval=s.t_min, maxval=s.t_max), _ones(shape)
    return sample


@memoized
def logit_normal(loc: float = 0.0, scale: float = 1.0) -> Callable:
    """logit(u) ~ N(loc, scale^2), t = t_min + u (t_max - t_min) (SD3's rectified-flow sampler).

    References: Esser et al. 2024, "Scaling Rectified Flow Transformers", Sec. 3.1.
    """
    def sample(s: Schedule, shape, key):
        u = jax.nn.sigmoid(loc + scale * jax.random.normal(key, shape))
        return s.t_min + u * (s.t_max - s.t_min), _ones(shape)
    return sample


@memoized
def lognormal(p_mean: float = -1.2, p_std: float = 1.2) -> Callable:
    """EDM's ln(sigma / alpha) ~ N(p_mean, p_std^2), mapped to t and clipped to the range.

    References: Karras et al. 2022, Table 1 (P_mean, P_std).
    """
    def sample(s: Schedule, shape, key):
        log_r = p_mean + p_std * jax.random.normal(key, shape)
        return s.t_from_log_snr(-log_r), _ones(shape)
    return sample


@memoized
def importance() -> Callable:
    """lambda ~ U[lambda(t_max), lambda(t_min)], t = lambda^{-1}, iw = (lam_hi - lam_lo) / ((t_max - t_min) (-lambda'(t))).

    References: Song et al. 2021, "Maximum Likelihood Training of Score-Based Diffusion Models", Sec. 4.2.
    """
    def sample(s: Schedule, shape, key):
        dt = jnp.result_type(float)
        lam_hi, lam_lo = s.log_snr(jnp.asarray(s.t_min, dt)), s.log_snr(jnp.asarray(s.t_max, dt))
        t = s.t_from_log_snr(jax.random.uniform(key, shape, dt, minval=lam_lo, maxval=lam_hi))
        dlam = jax.jvp(s.log_snr, (t,), (jnp.ones_like(t),))[1]
        return t, (lam_hi - lam_lo) / ((s.t_max - s.t_min) * -dlam)
    return sample


@memoized
def fixed(t: float) -> Callable:
    """t = value for every example, iw = 1."""
    def sample(s: Schedule, shape, key):
        del s, key
        return jnp.full(shape, t, jnp.result_type(float)), _ones(shape)
    return sample


BY_NAME = {"uniform": uniform, "logit_normal": logit_normal, "lognormal": lognormal, "importance": importance,
           "fixed": fixed}
NAMES = tuple(BY_NAME)


def get(name: str, **kwargs) -> Callable:
    """The time sampler ``BY_NAME[name](**kwargs)``; a ValueError names ``t_sampler`` and the arguments."""
    if name not in BY_NAME:
        raise ValueError(f"t_sampler must be one of {NAMES}, got {name!r}")
    params = inspect.signature(BY_NAME[name]).parameters
    bad = sorted(set(kwargs) - set(params))
    if bad:
        raise ValueError(f"t_sampler {name!r} takes arguments {tuple(params)}, got {bad}")
    missing = [p for p, v in params.items() if v.default is inspect.Parameter.empty and p not in kwargs]
    if missing:
        raise ValueError(f"t_sampler {name!r} needs the argument {missing[0]}")
    return BY_NAME[name](**kwargs)
