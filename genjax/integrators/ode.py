"""Explicit Runge-Kutta steppers for ``dx/dt = field(t, x)`` on pytree states.

Each factory returns a ``Solver`` (``genjax.integrators.base``); the step size ``h = t1 - t0`` may
be negative. The state may be any pytree (e.g. ``(x, logp)`` for likelihoods).

References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I", II.1.
"""
from __future__ import annotations

import jax.numpy as jnp

from genjax.integrators.base import Solver, tree_axpy, tree_lincomb


def _no_state(x):
    del x
    return None


def euler() -> Solver:
    """Forward Euler, order 1: x1 = x0 + h f(t0, x0).

    References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I".
    """
    def step(field, t0, t1, x, state, key):
        del key
        return tree_axpy(t1 - t0, field(t0, x), x), state, jnp.int32(1)

    return Solver(init=_no_state, step=step, order=1)


def heun() -> Solver:
    """Explicit trapezoid rule (Heun), order 2: x1 = x0 + h/2 (d0 + d1), d1 = f(t1, x0 + h d0).

    References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    Models", Algorithm 1 (the diffusion sampler with its sigma = 0 rule is ``samplers.heun``).
    """
    def step(field, t0, t1, x, state, key):
        del key
        h = t1 - t0
        d0 = field(t0, x)
        d1 = field(t1, tree_axpy(h, d0, x))
        return tree_lincomb(x, (0.5 * h, 0.5 * h), (d0, d1)), state, jnp.int32(2)

    return Solver(init=_no_state, step=step, order=2)


def midpoint() -> Solver:
    """Explicit midpoint rule, order 2: x1 = x0 + h f(t0 + h/2, x0 + h/2 f(t0, x0)).

    References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I".
    """
    def step(field, t0, t1, x, state, key):
        del key
        h = t1 - t0
        d0 = field(t0, x)
        d1 = field(t0 + 0.5 * h, tree_axpy(0.5 * h, d0, x))
        return tree_axpy(h, d1, x), state, jnp.int32(2)

    return Solver(init=_no_state, step=step, order=2)


def rk4() -> Solver:
    """Classical 4th-order Runge-Kutta: x1 = x0 + h/6 (k1 + 2 k2 + 2 k3 + k4).

    References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I", II.1.
    """
    def step(field, t0, t1, x, state, key):
        del key
        h = t1 - t0
        tm = t0 + 0.5 * h
        k1 = field(t0, x)
        k2 = field(tm, tree_axpy(0.5 * h, k1, x))
        k3 = field(tm, tree_axpy(0.5 * h, k2, x))
        k4 = field(t1, tree_axpy(h, k3, x))
        w = h / 6.0
        return tree_lincomb(x, (w, 2 * w, 2 * w, w), (k1, k2, k3, k4)), state, jnp.int32(4)

    return Solver(init=_no_state, step=step, order=4)
