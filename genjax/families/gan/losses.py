"""GAN objectives: minimax, non-saturating, WGAN (weight clipping), WGAN-GP, the ReFlow critic, MonoFlow.

A critic is any function ``critic(x) -> [B]`` acting on each sample of ``x: [B, ...]``
independently (the gradient penalties differentiate ``sum_b critic(x)_b``). For the logistic
kinds ("minimax", "non_saturating", "monoflow") the critic returns the discriminator *logit*
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
D* convex (a > 0). ``tests/test_families_gan.py`` checks both.

References: Goodfellow et al. 2014, "Generative Adversarial Nets"; Arjovsky et al. 2017,
"Wasserstein GAN"; Gulrajani et al. 2017, "Improved Training of Wasserstein GANs";
Liu et al. 2023, "Flow Straight and Fast" (ReFlow); Yi et al. 2023, "MonoFlow: Rethinking
Divergence GANs via the Perspective of Wasserstein Gradient Flows".
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from genjax.families import monoflow

Array = jax.Array

KINDS = ("minimax", "non_saturating", "wgan", "wgan_gp", "reflow_critic", "monoflow")
LOGISTIC_KINDS = ("minimax", "non_saturating", "monoflow")


def check_kind(kind: str) -> str:
    """Return ``kind`` or raise ValueError naming the allowed kinds."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def _scores(critic: Callable, x: Array) -> Array:
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
    return jax.grad(lambda y: jnp.sum(_scores(critic, y)))(x)


def _sq_norm(g: Array) -> Array:
    return jnp.sum(jnp.square(g.reshape(g.shape[0], -1)), axis=-1)


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
    return jnp.mean(half_sq - _scores(critic, real) + _scores(critic, fake))


def critic_loss(kind: str, critic: Callable, real: Array, fake: Array, key, *,
                gp_weight: float = 10.0) -> Array:
    """The critic (discriminator) loss of ``kind`` (module docstring), a scalar to minimise.

    Args:
      kind: one of ``KINDS``.
      critic: x [B, ...] -> [B] (a logit for the logistic kinds).
      real, fake: [B, ...] data and generator samples.
      key: PRNG key (used by "wgan_gp" and "reflow_critic"; ignored by the others).
      gp_weight: lambda of "wgan_gp" (10 in the paper; its toy script uses 0.1).
    """
    check_kind(kind)
    check_pair(real, fake)
    if kind in LOGISTIC_KINDS:
        return jnp.mean(jax.nn.softplus(-_scores(critic, real))) + jnp.mean(
            jax.nn.softplus(_scores(critic, fake)))
    if kind == "reflow_critic":
        return reflow_critic_loss(critic, real, fake, key)
    loss = jnp.mean(_scores(critic, fake)) - jnp.mean(_scores(critic, real))
    if kind == "wgan_gp":
        loss = loss + gp_weight * gradient_penalty(critic, real, fake, key, center=1.0)
    return loss


def generator_loss(kind: str, critic: Callable, fake: Array, *, h="logit") -> Array:
    """The generator loss of ``kind`` (module docstring), a scalar to minimise.

    Args:
      kind: one of ``KINDS``.
      critic: x [B, ...] -> [B].
      fake: [B, ...] generator samples (differentiable in the generator's parameters).
      h: MonoFlow's increasing map (a name in ``monoflow.H_FUNCTIONS`` or a callable); only
        used by kind "monoflow".
    """
    check_kind(kind)
    d = _scores(critic, fake)
    if kind == "minimax":
        return -jnp.mean(jax.nn.softplus(d))          # E log(1 - sigmoid(d))
    if kind == "non_saturating":
        return jnp.mean(jax.nn.softplus(-d))          # -E log sigmoid(d)
    if kind == "monoflow":
        return -jnp.mean(monoflow.h_function(h)(d))
    return -jnp.mean(d)


def clip_weights(params, clip: float):
    """WGAN's projection: every parameter clipped to [-clip, clip] after each critic update.

    References: Arjovsky et al. 2017, "Wasserstein GAN", Algorithm 1 (c = 0.01).
    """
    return jax.tree_util.tree_map(lambda p: jnp.clip(p, -clip, clip), params)


class Objective(NamedTuple):
    """A GAN objective as pure functions.

    Attributes:
      kind: the name (one of ``KINDS``).
      critic_loss: ``(critic, real, fake, key) -> scalar``.
      generator_loss: ``(critic, fake) -> scalar``.
      project: ``critic_params -> critic_params`` after each critic step (WGAN's clipping; the
        identity otherwise).
    """

    kind: str
    critic_loss: Callable
    generator_loss: Callable
    project: Callable


def objective(kind: str, *, gp_weight: float = 10.0, clip: float = 0.01, h="logit") -> Objective:
    """Build the ``Objective`` of ``kind``; options are validated here, before any tracing.

    Args:
      kind: one of ``KINDS``.
      gp_weight: lambda of "wgan_gp" (>= 0).
      clip: weight-clipping bound of "wgan" (> 0).
      h: MonoFlow's increasing map for "monoflow" (see ``monoflow.H_FUNCTIONS``).
    """
    check_kind(kind)
    if not gp_weight >= 0:
        raise ValueError(f"gp_weight must be >= 0, got {gp_weight}")
    if kind == "wgan" and not clip > 0:
        raise ValueError(f"clip must be > 0 for kind 'wgan', got {clip}")
    if kind == "monoflow":
        monoflow.h_function(h)   # validate the name now

    def c_loss(critic, real, fake, key):
        return critic_loss(kind, critic, real, fake, key, gp_weight=gp_weight)

    def g_loss(critic, fake):
        return generator_loss(kind, critic, fake, h=h)

    project = (lambda p: clip_weights(p, clip)) if kind == "wgan" else (lambda p: p)
    return Objective(kind=kind, critic_loss=c_loss, generator_loss=g_loss, project=project)
