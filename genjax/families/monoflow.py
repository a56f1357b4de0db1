"""MonoFlow: GAN generators as particles of a rescaled Wasserstein gradient flow.

With a logistic discriminator trained to optimality, its logit is the log density ratio
d*(x) = log r(x) = log p_data(x) / q_gen(x). MonoFlow moves the generator's particles along

    dx/dt = grad_x h(d(x)) = h'(d(x)) grad_x d(x)

for any *increasing* h: since h' > 0 the flow is the KL gradient flow grad log r rescaled
pointwise, and it stops exactly where q = p. The generator loss -E h(d(G(z))) realises this flow
one step at a time; the particle-matching form computes targets x' = x + eta grad h(d(x)) once
per round and regresses the generator onto them for several steps.

The variants (names of ``H_FUNCTIONS``), written as functions of the logit d = log r:

    vanilla         h(d) = log(1 + e^d) = softplus(d)        minimax GAN: E log(1 - D) = -E h(d)
    non_saturating  h(d) = -log(1 + e^-d) = log sigmoid(d)   non-saturating GAN: -E log D
    logit           h(d) = d                                  the "logit" / log-ratio loss
    arcsinh         h(d) = arcsinh(d)                         an increasing h with bounded slope

h'(d): sigmoid(d), sigmoid(-d), 1 and 1 / sqrt(1 + d^2): the vanilla loss's slope vanishes where
the generator is worst (d << 0, saturation), the non-saturating one's is largest there.

References: Yi et al. 2023, "MonoFlow: Rethinking Divergence GANs via the Perspective of
Wasserstein Gradient Flows" (ICML 2023).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

Array = jax.Array

H_FUNCTIONS = {
    "vanilla": jax.nn.softplus,
    "non_saturating": lambda d: -jax.nn.softplus(-d),
    "logit": lambda d: d,
    "arcsinh": jnp.arcsinh,
}


def h_function(h) -> Callable:
    """The increasing map ``h``: a name in ``H_FUNCTIONS`` or a callable (returned as is)."""
    if callable(h):
        return h
    if h not in H_FUNCTIONS:
        raise ValueError(f"h must be a callable or one of {sorted(H_FUNCTIONS)}, got {h!r}")
    return H_FUNCTIONS[h]


def velocity(critic: Callable, x: Array, h="logit") -> Array:
    """MonoFlow's vector field grad_x h(d(x)) = h'(d(x)) grad_x d(x), per sample: [B, ...].

    Args:
      critic: the discriminator logit, x [B, ...] -> [B].
      x: [B, ...] particles.
      h: the increasing map (name or callable).
    """
    hf = h_function(h)
    return jax.grad(lambda y: jnp.sum(hf(critic(y))))(x)


def clip_displacement(dx: Array, max_step) -> Array:
    """dx_b * min(1, max_step / ||dx_b||) per particle b (a trust region; None: unchanged)."""
    if max_step is None:
        return dx
    norm = jnp.sqrt(jnp.sum(jnp.square(dx.reshape(dx.shape[0], -1)), axis=-1))
    scale = jnp.minimum(1.0, max_step / jnp.maximum(norm, 1e-30))
    return dx * scale.reshape((-1,) + (1,) * (dx.ndim - 1))


def particle_targets(critic: Callable, x: Array, step_size: float, h="logit", max_step=None) -> Array:
    """x' = x + clip(step_size * grad_x h(d(x)), max_step), without gradient (particle matching).

    ``max_step`` (> 0 or None) caps each particle's displacement norm: near sharp modes the
    log-ratio's gradient grows like distance / std^2 and one Euler step overshoots the mode.
    """
    return jax.lax.stop_gradient(x + clip_displacement(step_size * velocity(critic, x, h), max_step))


def particle_matching_loss(x_gen: Array, targets: Array) -> Array:
    """1/2 E_b ||x_gen_b - target_b||^2: regress the generator's samples onto moved particles."""
    diff = (x_gen - targets).reshape(x_gen.shape[0], -1)
    return 0.5 * jnp.mean(jnp.sum(jnp.square(diff), axis=-1))


def flow_particles(critic: Callable, x: Array, step_size: float, num_steps: int,
                   h="logit") -> Array:
    """Euler steps of dx/dt = grad h(d(x)) with a fixed critic: [num_steps + 1, B, ...] trajectory."""
    def body(x, _):
        x_next = x + step_size * velocity(critic, x, h)
        return x_next, x_next

    _, traj = jax.lax.scan(body, x, None, length=num_steps)
    return jnp.concatenate([x[None], traj], axis=0)
