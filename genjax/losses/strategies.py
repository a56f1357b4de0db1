"""Training-time strategies shared by the losses: time samplers, loss weightings, label dropout.

Time samplers, ``sampler(s, shape, key) -> (t, iw)``: t in [t_min, t_max] and an importance weight
iw = (uniform density) / (sampling density) that keeps the estimate of E_{t ~ U}[w(t) l(t)]
unbiased. Only "importance" reweights; the other kinds *define* the objective (as in EDM and SD3)
and return iw = 1.

    "uniform"       t ~ U[t_min, t_max]
    "logit_normal"  logit(u) ~ N(loc, scale^2), t = t_min + u (t_max - t_min)       (Esser et al. 2024)
    "lognormal"     log(sigma / alpha) ~ N(p_mean, p_std^2)                         (Karras et al. 2022)
    "importance"    density p(t) = -lambda'(t) / (lambda(t_min) - lambda(t_max)), i.e. lambda uniform;
                    iw = 1 / (p(t) (t_max - t_min)). It makes the likelihood weighting constant
                    (Song et al. 2021, Sec. 4.2), for every schedule.
    "fixed"         t = value (diagnostics: the loss at one noise level).

Weightings, ``weight(s, t, target) -> w``: the weight on the per-dimension squared error of the
*target* (eps, x0, v, velocity or score). Each named weighting is defined on the denoiser error
||D - x_0||^2 and moved to the target through the exact ratio ||target error||^2 / ||D - x0||^2
(a deterministic function of t, with SNR = alpha^2 / sigma^2 = exp(2 lambda)):

    x0: 1    eps: SNR    v: SNR + 1    velocity: (alpha lambda')^2    score: alpha^2 / sigma^4

    "none"        w = 1 on the target itself (DDPM's simple loss for target="eps")
    "snr"         w_x0 = SNR           (equals "none" for target="eps")
    "min_snr"     w_x0 = min(SNR, gamma)                                  (Hang et al. 2023)
    "likelihood"  w_eps = (t_max - t_min) g^2 / (2 sigma^2) = -(t_max - t_min) lambda'
                  so that the loss is J_DSM / d = (1/2d) int g^2 E||s_theta - grad log p_0t||^2 dt,
                  the score-matching part of the negative ELBO in nats per dimension
                  (Song, Durkan, Murray & Ermon 2021, Theorem 1)
    "edm"         w_x0 = (s~^2 + sd^2) / (s~ sd)^2 with s~ = sigma / alpha   (Karras et al. 2022)

Weights are computed in log space, so large SNRs at t_min do not overflow float32.

References: Ho et al. 2020; Song et al. 2021, "Maximum Likelihood Training of Score-Based
Diffusion Models"; Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting
Strategy"; Karras et al. 2022; Esser et al. 2024, "Scaling Rectified Flow Transformers".
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

from genjax import schedules
from genjax.nets.embeddings import NULL_LABEL
from genjax.preconditioning import edm_coefficients
from genjax.schedules import Schedule

Array = jax.Array

TARGETS = ("eps", "x0", "v", "velocity", "score")
WEIGHTINGS = ("none", "snr", "min_snr", "likelihood", "edm")
T_SAMPLERS = ("uniform", "logit_normal", "lognormal", "importance", "fixed")


def _dlog_snr(s: Schedule, t: Array) -> Array:
    return jax.jvp(s.log_snr, (t,), (jnp.ones_like(t),))[1]


# --- time samplers -------------------------------------------------------------------------------
def time_sampler(kind: str = "uniform", **kwargs) -> Callable:
    """A time sampler ``sampler(s, shape, key) -> (t, iw)`` (module docstring).

    kwargs: "logit_normal": loc=0, scale=1; "lognormal": p_mean=-1.2, p_std=1.2; "fixed": t.
    """
    if kind not in T_SAMPLERS:
        raise ValueError(f"t_sampler must be one of {T_SAMPLERS}, got {kind!r}")
    allowed = {"uniform": (), "logit_normal": ("loc", "scale"), "lognormal": ("p_mean", "p_std"),
               "importance": (), "fixed": ("t",)}[kind]
    bad = sorted(set(kwargs) - set(allowed))
    if bad:
        raise ValueError(f"t_sampler {kind!r} takes arguments {allowed}, got {bad}")
    if kind == "fixed" and "t" not in kwargs:
        raise ValueError("t_sampler 'fixed' needs the argument t")

    def sample(s: Schedule, shape, key):
        ones = jnp.ones(shape, jnp.float32)
        if kind == "fixed":
            return jnp.full(shape, kwargs["t"], jnp.float32), ones
        if kind == "importance":
            lam_hi, lam_lo = s.log_snr(jnp.float32(s.t_min)), s.log_snr(jnp.float32(s.t_max))
            lam = jax.random.uniform(key, shape, minval=lam_lo, maxval=lam_hi)
            t = s.t_from_log_snr(lam)
            iw = (lam_hi - lam_lo) / ((s.t_max - s.t_min) * -_dlog_snr(s, t))
            return t, iw
        return schedules.sample_t(s, shape, key, kind, **kwargs), ones

    return sample


def as_time_sampler(t_sampler) -> Callable:
    """A name (default arguments) or an already-built sampler -> sampler."""
    if isinstance(t_sampler, str):
        return time_sampler(t_sampler)
    if not callable(t_sampler):
        raise TypeError(f"t_sampler must be a name in {T_SAMPLERS} or a callable, got {t_sampler!r}")
    return t_sampler


# --- weightings ----------------------------------------------------------------------------------
def log_target_factor(target: str, s: Schedule, t: Array) -> Array:
    """log(||target error||^2 / ||D - x0||^2) at t: [B] (module docstring)."""
    check_target(target)
    lam = s.log_snr(t)
    if target == "x0":
        return jnp.zeros_like(lam)
    if target == "eps":
        return 2.0 * lam
    if target == "v":
        return jax.nn.softplus(2.0 * lam)
    if target == "velocity":
        return 2.0 * (s.log_alpha(t) + jnp.log(-_dlog_snr(s, t)))
    return 2.0 * s.log_alpha(t) - 4.0 * s.log_sigma(t)  # score


def weighting(name: str = "none", **kwargs) -> Callable:
    """A weighting ``weight(s, t, target) -> w`` ([B]) on the target's squared error (docstring).

    kwargs: "min_snr": gamma=5.0; "edm": sigma_data (default: the schedule's, else 0.5).
    """
    if name not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {name!r}")
    allowed = {"min_snr": ("gamma",), "edm": ("sigma_data",)}.get(name, ())
    bad = sorted(set(kwargs) - set(allowed))
    if bad:
        raise ValueError(f"weighting {name!r} takes arguments {allowed}, got {bad}")
    gamma = float(kwargs.get("gamma", 5.0))
    if gamma <= 0:
        raise ValueError(f"weighting 'min_snr': gamma must be > 0, got {gamma}")

    def weight(s: Schedule, t: Array, target: str) -> Array:
        t = jnp.asarray(t, jnp.float32)
        if name == "none":
            return jnp.ones_like(t)
        lam = s.log_snr(t)
        if name == "snr":
            log_w_x0 = 2.0 * lam
        elif name == "min_snr":
            log_w_x0 = jnp.minimum(2.0 * lam, jnp.log(gamma))
        elif name == "likelihood":
            log_w_x0 = jnp.log((s.t_max - s.t_min) * -_dlog_snr(s, t)) + 2.0 * lam
        else:  # edm
            sd = kwargs.get("sigma_data", getattr(s, "sigma_data", 0.5))
            log_w_x0 = -2.0 * jnp.log(edm_coefficients(s, t, sd)[1])
        return jnp.exp(log_w_x0 - log_target_factor(target, s, t))

    return weight


def as_weighting(w) -> Callable:
    """A name (default arguments) or an already-built weighting -> weighting."""
    if isinstance(w, str):
        return weighting(w)
    if not callable(w):
        raise TypeError(f"weighting must be a name in {WEIGHTINGS} or a callable, got {w!r}")
    return w


def check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")


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
