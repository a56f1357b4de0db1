"""Probability-flow ODE samplers: Euler, Heun (EDM Algorithm 1), RK4, and adaptive Dormand-Prince.

All integrate dx/dt = alpha' D + (sigma'/sigma)(x - alpha D) in t. Writing the velocity as
``v = p x + q D`` with p = sigma'/sigma and q = alpha' - p alpha, each stage is a single affine
update whose coefficients are tabulated over the grid before the scan.

A step to a clean time with sigma(t_{i+1}) = 0 (``time_grid(..., to_zero=True)``) makes no
evaluation there (the velocity is 0 * inf at sigma = 0): Heun and RK4 take an Euler step, as in
EDM Algorithm 1 ("if sigma_{i+1} != 0: second-order correction"); for alpha = 1 paths that Euler
step lands exactly on D(x_i, t_i).

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models", Algorithm 1; Song et al. 2021, "Score-Based Generative Modeling through SDEs" (PF ODE).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from genjax import sde as sde_lib
from genjax.integrators.adaptive import AdaptiveInfo, dopri5
from genjax.samplers.base import Sampler, memoized, no_check, sigma_is_zero
from genjax.schedules import Schedule


class _Node(NamedTuple):
    """The PF-ODE velocity at one time as v = p x + q D."""

    t: jax.Array
    p: jax.Array
    q: jax.Array


def _nodes(s: Schedule, t, valid=None) -> _Node:
    c = sde_lib.coefficients(s, t)
    p, q = c.dlog_sigma, c.dalpha - c.dlog_sigma * c.alpha
    if valid is not None:  # clean ends (sigma = 0) are never evaluated; keep the table finite
        p, q = jnp.where(valid, p, 0.0), jnp.where(valid, q, 0.0)
    return _Node(c.t, p, q)


def _vel(denoiser, node: _Node, x):
    return node.p * x + node.q * denoiser(x, node.t)


class _HeunCoeffs(NamedTuple):
    n0: _Node
    n1: _Node
    h: jax.Array
    to_zero: jax.Array


@memoized
def euler() -> Sampler:
    """Euler on the PF ODE, order 1: x_{i+1} = x_i + (t_{i+1} - t_i) v(x_i, t_i). One NFE per step.

    References: Song et al. 2021 (probability-flow ODE); Karras et al. 2022 (Table 1).
    """
    def prepare(s, ts):
        return _nodes(s, ts[:-1]), ts[1:] - ts[:-1]

    def step(denoiser, c, x, state, key):
        del key
        node, h = c
        return x + h * _vel(denoiser, node, x), state, jnp.int32(1)

    return Sampler(prepare, lambda x: None, step, order=1, stochastic=False, check=no_check, name="euler")


def _heun_prepare(s, t0, t1):
    to_zero = sigma_is_zero(s, t1)
    return _HeunCoeffs(_nodes(s, t0), _nodes(s, t1, ~to_zero), t1 - t0, to_zero)


def heun_step(denoiser, c: _HeunCoeffs, x):
    """One EDM Algorithm 1 step from c.n0.t to c.n1.t: returns (x1, nfe), nfe = 1 if sigma_1 = 0 else 2."""
    d0 = _vel(denoiser, c.n0, x)
    x_euler = x + c.h * d0

    def correct(_):
        d1 = _vel(denoiser, c.n1, x_euler)
        return x + (0.5 * c.h) * (d0 + d1)

    x1 = jax.lax.cond(c.to_zero, lambda _: x_euler, correct, None)
    return x1, jnp.where(c.to_zero, 1, 2).astype(jnp.int32)


@memoized
def heun() -> Sampler:
    """Heun's second-order method on the PF ODE (EDM Algorithm 1).

    d_i = v(x_i, t_i);  x' = x_i + h d_i;  x_{i+1} = x_i + h/2 (d_i + v(x', t_{i+1})) unless
    sigma(t_{i+1}) = 0, where x_{i+1} = x' (no second evaluation). NFE = 2N, or 2N - 1 on a grid
    ending at sigma = 0.

    References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    Models", Algorithm 1.
    """
    def prepare(s, ts):
        return _heun_prepare(s, ts[:-1], ts[1:])

    def step(denoiser, c, x, state, key):
        del key
        x1, nfe = heun_step(denoiser, c, x)
        return x1, state, nfe

    return Sampler(prepare, lambda x: None, step, order=2, stochastic=False, check=no_check, name="heun")


@memoized
def rk4() -> Sampler:
    """Classical RK4 on the PF ODE, order 4, four NFE per step (an Euler step, one NFE, to sigma = 0).

    References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I", II.1.
    """
    def prepare(s, ts):
        t0, t1 = ts[:-1], ts[1:]
        to_zero = sigma_is_zero(s, t1)
        return _nodes(s, t0), _nodes(s, 0.5 * (t0 + t1)), _nodes(s, t1, ~to_zero), t1 - t0, to_zero

    def step(denoiser, c, x, state, key):
        del key
        n0, nm, n1, h, to_zero = c
        k1 = _vel(denoiser, n0, x)

        def full(_):
            k2 = _vel(denoiser, nm, x + (0.5 * h) * k1)
            k3 = _vel(denoiser, nm, x + (0.5 * h) * k2)
            k4 = _vel(denoiser, n1, x + h * k3)
            return x + (h / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)

        x1 = jax.lax.cond(to_zero, lambda _: x + h * k1, full, None)
        return x1, state, jnp.where(to_zero, 1, 4).astype(jnp.int32)

    return Sampler(prepare, lambda x: None, step, order=4, stochastic=False, check=no_check, name="rk4")


@functools.partial(jax.jit, static_argnames=("s", "max_steps", "denoise_final"))
def _adaptive(denoiser, s, x_init, rtol, atol, t0, t1, max_steps, denoise_final):
    field = sde_lib.pf_ode(s, denoiser)
    x, info = dopri5(field, t0, t1, x_init, rtol=rtol, atol=atol, max_steps=max_steps)
    if denoise_final:
        x = denoiser(x, t1)
        info = info._replace(nfe=info.nfe + 1)
    return x, info


def sample_adaptive(denoiser, s: Schedule, x_init, rtol: float = 1e-5, atol: float = 1e-5, *,
                    t_start=None, t_end=None, max_steps: int = 4096,
                    denoise_final: bool = False) -> tuple[jax.Array, AdaptiveInfo]:
    """Solve the PF ODE from t_start (default t_max) to t_end (default t_min) with adaptive dopri5.

    Args:
      denoiser: ``denoiser(x, t) -> E[x_0 | x_t]``.
      s: the schedule.
      x_init: [B, ...] state at t_start.
      rtol, atol: local error tolerances (RMS over every element of the batch).
      t_start, t_end: integration interval inside [t_min, t_max].
      max_steps: most step attempts; ``info.converged`` is False if they run out.
      denoise_final: return D(x, t_end) (one more evaluation).

    Returns:
      ``(x, AdaptiveInfo(nfe, num_steps, num_accepted, num_rejected, converged, t))``.

    References: Dormand & Prince 1980; Song et al. 2021 (PF ODE solved with RK45).
    """
    if not isinstance(s, Schedule):
        raise TypeError(f"s must be a genjax.schedules.Schedule, got {type(s).__name__}")
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable denoiser(x, t), got {type(denoiser).__name__}")
    t0 = s.t_max if t_start is None else t_start
    t1 = s.t_min if t_end is None else t_end
    s.check_t(jnp.asarray([t0, t1]), "t_start / t_end")
    if not rtol >= 0 or not atol >= 0 or rtol + atol <= 0:
        raise ValueError(f"sample_adaptive: need rtol, atol >= 0 and not both 0, got {rtol}, {atol}")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"sample_adaptive: max_steps must be an int >= 1, got {max_steps!r}")
    if jnp.ndim(x_init) < 1:
        raise ValueError(f"x_init must have a batch axis, x_init: [B, ...]; got shape {jnp.shape(x_init)}")
    if not isinstance(denoiser, jax.tree_util.Partial):
        denoiser = jax.tree_util.Partial(denoiser)
    return _adaptive(denoiser, s, jnp.asarray(x_init), jnp.float32(rtol), jnp.float32(atol), jnp.float32(t0),
                     jnp.float32(t1), max_steps, denoise_final)
