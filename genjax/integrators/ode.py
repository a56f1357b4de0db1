"""Explicit Runge-Kutta steppers for ``dx/dt = field(t, x)`` on pytree states.

Each update formula (``euler_update``, ``heun_update``, ``midpoint_update``, ``rk4_update``) is
written once, over *stage fields* ``f(x) -> dx/dt`` frozen at the stage times; the ``Solver``
factories here apply them to a field ``field(t, x)``, and the diffusion samplers
(``genjax.samplers.ode``) apply the same formulas to the probability-flow velocity at tabulated
schedule nodes. The step size ``h = t1 - t0`` may be negative. The state may be any pytree (e.g.
``(x, logp)`` for likelihoods).

References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I", II.1.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from genjax.integrators.base import Solver, tree_axpy, tree_lincomb

PyTree = Any


def _no_state(x):
    del x
    return None


# --- the update formulas, written once over stage fields f(x) -> dx/dt --------------------------------
# A stage field is the vector field frozen at one stage time (``lambda x: field(t0, x)``, or a
# diffusion sampler's velocity at a tabulated node). ``skip`` (a bool, possibly traced) takes the
# Euler step alone, with one evaluation: the diffusion samplers' rule for a step ending at sigma = 0.
def euler_update(h, f0: Callable, x: PyTree):
    """x1 = x0 + h f0(x0); returns (x1, nfe = 1)."""
    return tree_axpy(h, f0(x), x), jnp.int32(1)


def _skippable(skip, x_euler, full: Callable, nfe_full: int):
    if skip is False:
        return full(), jnp.int32(nfe_full)
    x1 = jax.lax.cond(skip, lambda: x_euler, full)
    return x1, jnp.where(skip, 1, nfe_full).astype(jnp.int32)


def heun_update(h, f0: Callable, f1: Callable, x: PyTree, skip=False):
    """x1 = x0 + h/2 (d0 + d1), d0 = f0(x0), d1 = f1(x0 + h d0) (x0 + h d0 where ``skip``)."""
    d0 = f0(x)
    x_euler = tree_axpy(h, d0, x)
    return _skippable(skip, x_euler, lambda: tree_lincomb(x, (0.5 * h, 0.5 * h), (d0, f1(x_euler))), 2)


def midpoint_update(h, f0: Callable, fm: Callable, x: PyTree):
    """x1 = x0 + h fm(x0 + h/2 f0(x0)); returns (x1, nfe = 2)."""
    return tree_axpy(h, fm(tree_axpy(0.5 * h, f0(x), x)), x), jnp.int32(2)


def rk4_update(h, f0: Callable, fm: Callable, f1: Callable, x: PyTree, skip=False):
    """x1 = x0 + h/6 (k1 + 2 k2 + 2 k3 + k4) (x0 + h k1 where ``skip``); fm is the midpoint field."""
    k1 = f0(x)

    def full():
        k2 = fm(tree_axpy(0.5 * h, k1, x))
        k3 = fm(tree_axpy(0.5 * h, k2, x))
        k4 = f1(tree_axpy(h, k3, x))
        w = h * (1.0 / 6.0)
        return tree_lincomb(x, (w, 2 * w, 2 * w, w), (k1, k2, k3, k4))

    return _skippable(skip, tree_axpy(h, k1, x), full, 4)


def _at(field, t):
    return lambda x: field(t, x)


def euler() -> Solver:
    """Forward Euler, order 1: x1 = x0 + h f(t0, x0).

    References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I".
    """
    def step(field, t0, t1, x, state, key):
        del key
        x1, nfe = euler_update(t1 - t0, _at(field, t0), x)
        return x1, state, nfe

    return Solver(init=_no_state, step=step, order=1)


def heun() -> Solver:
    """Explicit trapezoid rule (Heun), order 2: x1 = x0 + h/2 (d0 + d1), d1 = f(t1, x0 + h d0).

    References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    Models", Algorithm 1 (the diffusion sampler with its sigma = 0 rule is ``samplers.heun``).
    """
    def step(field, t0, t1, x, state, key):
        del key
        x1, nfe = heun_update(t1 - t0, _at(field, t0), _at(field, t1), x)
        return x1, state, nfe

    return Solver(init=_no_state, step=step, order=2)


def midpoint() -> Solver:
    """Explicit midpoint rule, order 2: x1 = x0 + h f(t0 + h/2, x0 + h/2 f(t0, x0)).

    References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I".
    """
    def step(field, t0, t1, x, state, key):
        del key
        x1, nfe = midpoint_update(t1 - t0, _at(field, t0), _at(field, t0 + 0.5 * (t1 - t0)), x)
        return x1, state, nfe

    return Solver(init=_no_state, step=step, order=2)


def rk4() -> Solver:
    """Classical 4th-order Runge-Kutta: x1 = x0 + h/6 (k1 + 2 k2 + 2 k3 + k4).

    References: Hairer, Norsett & Wanner 1993, "Solving Ordinary Differential Equations I", II.1.
    """
    def step(field, t0, t1, x, state, key):
        del key
        h = t1 - t0
        x1, nfe = rk4_update(h, _at(field, t0), _at(field, t0 + 0.5 * h), _at(field, t1), x)
        return x1, state, nfe

    return Solver(init=_no_state, step=step, order=4)
