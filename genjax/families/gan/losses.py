"""GAN losses: minimax, non-saturating, WGAN (weight clipping), WGAN-GP, the ReFlow critic, MonoFlow.

The maths of each objective as plain functions (``genjax.families.gan.objectives`` bundles them,
one factory per objective). A critic is any function ``critic(x) -> [B]`` acting on each sample of
``x: [B, ...]`` independently (the gradient penalties differentiate ``sum_b critic(x)_b``). For the logistic
objectives (minimax, non-saturating, MonoFlow) the critic returns the discriminator *logit*
d(x), D(x) = sigmoid(d(x)); at the optimum d*(x) = log p_data(x) / p_gen(x).

Critic losses (minimised by the critic; "real" ~ data, "fake" ~ generator):

    minimax, non_saturating, monoflow:  E_real softplus(-d) + E_fake softplus(d)
                                         = -E log D(real) - E log(1 - D(fake))
    wgan:                               E D(fake) - E D(real)     (+ weight clipping, ``project``)
    wgan_gp:                            E D(fake) - E D(real) + lambda E (||grad D(x_hat)|| - 1)^2,
                                        x_hat = u real + (1 - u) fake, u ~ U[0, 1]
    reflow_critic:                      E [1/2 ||grad D(x_t)||^2 - D(x_1) + D(x_0)],
                                        x_t = (1 - t) x_0 + t x_1, x_0 = fake, x_1 = real, t ~ U[0, 1]

Generator losses (minimised by the generator): minimax E log(1 - D(fake)) = -E softplus(d);
non_saturating -E log D(fake) = E softplus(-d); wgan / wgan_gp / reflow_critic -E D(fake);
monoflow -E h(d(fake)) for an increasing h (``genjax.families.monoflow``).

The ReFlow critic. Rectified flow fits the velocity v(x) of the straight path from x_0 to x_1:
min_v E_{t, x_0, x_1} ||x_1 - x_0 - v(x_t)||^2. Restrict v to a gradient field v = grad D of a
time-independent critic. Since d/dt D(x_t) = (x_1 - x_0) . grad D(x_t),
E_t[(x_1 - x_0) . grad D(x_t)] = D(x_1) - D(x_0), so

    E ||x_1 - x_0 - grad D(x_t)||^2 = const + 2 E [1/2 ||grad D(x_t)||^2 - D(x_1) + D(x_0)].

The critic loss is thus ReFlow restricted to gradient fields; its gradient penalty is centred at
zero and weighted 1/2 by the derivation (not a tuned lambda), and grad D transports fake -> real,
so the generator ascends D exactly as in WGAN. Optimality condition: for every test function phi,
E[grad phi(x_t) . grad D*(x_t)] = E[phi(x_1) - phi(x_0)]. With phi linear: the mean slope is the
mean gap, E_{t, x_t}[grad D*(x_t)] = E x_1 - E x_0. For 1-D Gaussians fake N(m0, s0^2), real
N(m1, s1^2) and the quadratic critic D(x) = a x^2 / 2 + b x (phi = x and x^2/2):

    a = (s1^2 - s0^2) / (2 V),   b = (m1 - m0) - a (m0 + m1) / 2,
    V = Var(x_t) = (s0^2 + s1^2) / 3 + (m1 - m0)^2 / 12,

so with equal variances D* is linear with slope exactly m1 - m0 (positive when the data lie to the
right of the generator: the critic rises towards the data), and a wider data distribution makes
D* convex (a > 0). ``tests/families/test_gan.py`` checks both.

References: Goodfellow et al. 2014, "Generative Adversarial Nets"; Arjovsky et al. 2017,
"Wasserstein GAN"; Gulrajani et al. 2017, "Improved Training of Wasserstein GANs";
Liu et al. 2023, "Flow Straight and Fast" (ReFlow); Yi et al. 2023, "MonoFlow: Rethinking
Divergence GANs via the Perspective of Wasserstein Gradient Flows".
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from genjax.families import monoflow

Array = jax.Array


def scores(critic: Callable, x: Array) -> Array:
    """critic(x) [B], or ValueError unless the critic maps x [B, ...] to one value per sample."""
    out = critic(x)
    if out.ndim != 1 or out.shape[0] != x.shape[0]:
        raise ValueError(f"critic must map x [B, ...] to [B], got output shape {out.shape} "
                         f"for input shape {x.shape}")
    return out


def check_pair(real: Array, fake: Array) -> None:
    """ValueError unless ``real`` and ``fake`` are both [B, ...] with the same B and event shape.

    A fake batch of 1 (or any other size) would otherwise broadcast against the real batch inside
    the gradient penalty and the ReFlow critic's interpolation, and pair samples silently wrongly.
    """
    rs, fs = tuple(jnp.shape(real)), tuple(jnp.shape(fake))
    if len(rs) < 1 or rs != fs:
        raise ValueError(f"fake must have the shape of real [B, ...] (same batch and event shape), "
                         f"got real {rs}, fake {fs}")


def _mix_weights(key, x: Array) -> Array:
    """u ~ U[0, 1] per sample, shaped [B, 1, ..., 1] to broadcast over x [B, ...]."""
    return jax.random.uniform(key, (x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype)


def input_grad(critic: Callable, x: Array) -> Array:
    """Per-sample gradient grad_x critic(x)_b, [B, ...] (critic acts on samples independently)."""
    return jax.grad(lambda y: jnp.sum(scores(critic, y)))(x)


def _sq_norm(g: Array) -> Array:
    return jnp.sum(jnp.square(g.reshape(g.shape[0], -1)), axis=-1)


def logistic_critic_loss(critic: Callable, real: Array, fake: Array) -> Array:
    """E_real softplus(-d) + E_fake softplus(d) = -E log D(real) - E log(1 - D(fake)), D = sigmoid(d).

    References: Goodfellow et al. 2014, "Generative Adversarial Nets", Eq. (1).
    """
    check_pair(real, fake)
    return jnp.mean(jax.nn.softplus(-scores(critic, real))) + jnp.mean(jax.nn.softplus(scores(critic, fake)))


def wasserstein_critic_loss(critic: Callable, real: Array, fake: Array) -> Array:
    """E D(fake) - E D(real) (the critic maximises the Kantorovich-Rubinstein gap).

    References: Arjovsky et al. 2017, "Wasserstein GAN" (Kantorovich-Rubinstein duality).
    """
    check_pair(real, fake)
    return jnp.mean(scores(critic, fake)) - jnp.mean(scores(critic, real))


def gradient_penalty(critic: Callable, real: Array, fake: Array, key, center: float = 1.0) -> Array:
    """E_u (||grad D(x_hat)|| - center)^2 at x_hat = u real + (1 - u) fake, u ~ U[0, 1] per sample.

    ``center = 1`` is WGAN-GP's two-sided penalty; ``center = 0`` a zero-centred penalty. The norm
    is sqrt(||g||^2 + 1e-12) so the penalty stays differentiable at g = 0.

    Args:
      critic: x [B, ...] -> [B].
      real, fake: [B, ...].
      key: PRNG key for the interpolation weights.

    References: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Eq. (3).
    """
    check_pair(real, fake)
    u = _mix_weights(key, real)
    x_hat = u * real + (1.0 - u) * fake
    norm = jnp.sqrt(_sq_norm(input_grad(critic, x_hat)) + 1e-12)
    return jnp.mean(jnp.square(norm - center))


def reflow_critic_loss(critic: Callable, real: Array, fake: Array, key) -> Array:
    """E [1/2 ||grad D(x_t)||^2 - D(x_1) + D(x_0)], x_t = (1 - t) x_0 + t x_1, x_0 = fake, x_1 = real.

    ReFlow's least-squares velocity loss restricted to gradient fields v = grad D (module
    docstring); t ~ U[0, 1] per sample pairs real[b] with fake[b] (independent coupling).

    References: Liu et al. 2023, "Flow Straight and Fast" (the ReFlow objective).
    """
    check_pair(real, fake)
    t = _mix_weights(key, real)
    x_t = (1.0 - t) * fake + t * real
    half_sq = 0.5 * _sq_norm(input_grad(critic, x_t))
    return jnp.mean(half_sq - scores(critic, real) + scores(critic, fake))


def minimax_generator_loss(critic: Callable, fake: Array) -> Array:
    """E log(1 - D(fake)) = -E softplus(d(fake)) (Goodfellow et al. 2014, Eq. (1))."""
    return -jnp.mean(jax.nn.softplus(scores(critic, fake)))


def non_saturating_generator_loss(critic: Callable, fake: Array) -> Array:
    """-E log D(fake) = E softplus(-d(fake)) (Goodfellow et al. 2014: the non-saturating heuristic)."""
    return jnp.mean(jax.nn.softplus(-scores(critic, fake)))


def wasserstein_generator_loss(critic: Callable, fake: Array) -> Array:
    """-E D(fake) (WGAN, WGAN-GP and the ReFlow critic: the generator ascends the critic)."""
    return -jnp.mean(scores(critic, fake))


def monoflow_generator_loss(critic: Callable, fake: Array, h="logit") -> Array:
    """-E h(d(fake)) for an increasing h (``monoflow.H_FUNCTIONS`` name or callable).

    References: Yi et al. 2023, "MonoFlow" (the generator loss of a monotone h).
    """
    return -jnp.mean(monoflow.h_function(h)(scores(critic, fake)))


def clip_weights(params, clip: float):
    """WGAN's projection: every parameter clipped to [-clip, clip] after each critic update.

    References: Arjovsky et al. 2017, "Wasserstein GAN", Algorithm 1 (c = 0.01).
    """
    return jax.tree_util.tree_map(lambda p: jnp.clip(p, -clip, clip), params)
