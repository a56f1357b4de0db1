"""SDEs ``dx = drift(t, x) dt + g(t) dW`` and the Euler-Maruyama stepper, on pytree states.

With ``t1 < t0`` the step integrates backwards in time: ``dt = t1 - t0 < 0`` and the Brownian
increment has standard deviation ``g sqrt(|dt|)``. That is exactly the reverse-time SDE
``dx = [f x - g^2 score] dt + g dW_bar`` of Anderson 1982 written with the forward time variable.

References: Kloeden & Platen 1992, "Numerical Solution of Stochastic Differential Equations";
Anderson 1982, "Reverse-time diffusion equation models".
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from genjax.integrators.base import Solver


class SDE(NamedTuple):
    """An Ito SDE with diagonal, state-independent noise.

    Attributes:
      drift: ``drift(t, x) -> pytree like x``.
      diffusion: ``diffusion(t) -> g`` (scalar or broadcastable to each leaf of x).
    """

    drift: Callable
    diffusion: Callable


def tree_normal(key, x):
    """Standard normal noise with the structure, shapes and dtypes of the pytree x."""
    leaves, treedef = jax.tree_util.tree_flatten(x)
    keys = jax.random.split(key, len(leaves))
    noise = [jax.random.normal(k, jnp.shape(leaf), jnp.result_type(leaf)) for k, leaf in zip(keys, leaves)]
    return jax.tree_util.tree_unflatten(treedef, noise)


def em_update(h, drift0: Callable, scale, z, x):
    """One Euler-Maruyama update, written once: x1 = x0 + h drift0(x0) + scale z (scale = g sqrt|h|)."""
    return jax.tree_util.tree_map(lambda xi, di, zi: xi + (h * di + scale * zi).astype(xi.dtype), x, drift0(x), z)


def euler_maruyama() -> Solver:
    """Euler-Maruyama, strong order 1/2 (weak order 1):

        x1 = x0 + drift(t0, x0) h + g(t0) sqrt(|h|) z,   z ~ N(0, I),   h = t1 - t0.

    References: Kloeden & Platen 1992, "Numerical Solution of Stochastic Differential Equations".
    """
    def step(sde, t0, t1, x, state, key):
        if key is None:
            raise ValueError("euler_maruyama needs a PRNG key")
        h = t1 - t0
        x1 = em_update(h, lambda y: sde.drift(t0, y), sde.diffusion(t0) * jnp.sqrt(jnp.abs(h)), tree_normal(key, x), x)
        return x1, state, jnp.int32(1)

    return Solver(init=lambda x: None, step=step, order=1)
