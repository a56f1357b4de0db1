"""Probability-flow ODE samplers: Euler, Heun (EDM Algorithm 1), RK4, and adaptive Dormand-Prince.

All integrate the probability-flow velocity dx/dt = v(x, t) = p x + q D (p = sigma'/sigma,
q = alpha' - p alpha) with the update formulas of ``genjax.integrators.ode`` (written once there):
the schedule coefficients of every stage are tabulated over the grid before the scan, and each
stage calls ``predictions.velocity(model, node, x)``: one network call, and a velocity network's
output is used as is (no round trip through D, so rectified flow with t_max = 1 stays finite).

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

from genjax import predictions
from genjax import sde as sde_lib
from genjax.integrators import ode
from genjax.integrators.adaptive import AdaptiveInfo, dopri5
from genjax.predictions import Node
from genjax.samplers.base import Sampler, as_traced, check_x_init, memoized, no_check, sigma_is_zero
from genjax.schedules import Schedule


def nodes(s: Schedule, t, valid=None, fallback=None) -> Node:
    """The coefficient table at the stage times t; where ``valid`` is False (a clean end sigma = 0,
    never evaluated) the entries of ``fallback`` are used instead, so the table stays finite."""
    c = predictions.finite(predictions.coefficients(s, t))
    if valid is None:
        return c
    return Node(*(jnp.where(valid, a, b) for a, b in zip(c, fallback)))


def _field(model, node: Node):
    """The stage field x -> PF-ODE velocity at one tabulated node (one network call)."""
    return lambda x: predictions.velocity(model, node, x)


class HeunCoeffs(NamedTuple):
    """One Heun step's table: the nodes at both ends, h = t1 - t0, and the sigma(t1) = 0 flag."""

    n0: Node
    n1: Node
    h: jax.Array
    to_zero: jax.Array


@memoized
def euler() -> Sampler:
    """Euler on the PF ODE, order 1: x_{i+1} = x_i + (t_{i+1} - t_i) v(x_i, t_i). One NFE per step.

    References: Song et al. 2021 (probability-flow ODE); Karras et al. 2022 (Table 1).
    """
    def prepare(s, ts):
        return nodes(s, ts[:-1]), ts[1:] - ts[:-1]

    def step(model, c, x, state, key):
        del key
        node, h = c
        x1, nfe = ode.euler_update(h, _field(model, node), x)
        return x1, state, nfe

    return Sampler(prepare, lambda x: None, step, order=1, stochastic=False, check=no_check, name="euler")


def heun_prepare(s, t0, t1) -> HeunCoeffs:
    """The Heun table for steps t0 -> t1 (arrays of equal shape)."""
    to_zero = sigma_is_zero(s, t1)
    n0 = nodes(s, t0)
    return HeunCoeffs(n0, nodes(s, t1, ~to_zero, n0), t1 - t0, to_zero)


def heun_step(model, c: HeunCoeffs, x):
    """One EDM Algorithm 1 step from c.n0.t to c.n1.t: returns (x1, nfe), nfe = 1 if sigma_1 = 0 else 2."""
    return ode.heun_update(c.h, _field(model, c.n0), _field(model, c.n1), x, skip=c.to_zero)


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
        return heun_prepare(s, ts[:-1], ts[1:])

    def step(model, c, x, state, key):
        del key
        x1, nfe = heun_step(model, c, x)
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
        n0 = nodes(s, t0)
        return n0, nodes(s, 0.5 * (t0 + t1)), nodes(s, t1, ~to_zero, n0), t1 - t0, to_zero

    def step(model, c, x, state, key):
        del key
        n0, nm, n1, h, to_zero = c
        x1, nfe = ode.rk4_update(h, _field(model, n0), _field(model, nm), _field(model, n1), x, skip=to_zero)
        return x1, state, nfe

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
    x_init = check_x_init(x_init)
    dt = x_init.dtype
    return _adaptive(as_traced(denoiser), s, x_init, jnp.asarray(rtol, dt), jnp.asarray(atol, dt),
                     jnp.asarray(t0, dt), jnp.asarray(t1, dt), max_steps, denoise_final)
