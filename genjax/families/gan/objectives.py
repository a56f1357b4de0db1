"""GAN objectives as strategies: one factory per objective, each a NamedTuple of pure functions.

    obj = objectives.wgan_gp(gp_weight=10.0)
    obj.critic_loss(critic, real, fake, key)     # scalar the critic minimises
    obj.generator_loss(critic, fake)             # scalar the generator minimises
    obj.project(critic_params)                   # after every critic update (WGAN's clipping)

    factory                 critic loss                                generator loss
    minimax()               E softplus(-d(real)) + E softplus(d(fake))  -E softplus(d(fake))
    non_saturating()        same                                       E softplus(-d(fake))
    monoflow(h)             same                                       -E h(d(fake))
    wgan(clip)              E D(fake) - E D(real); clip to [-c, c]     -E D(fake)
    wgan_gp(gp_weight)      E D(fake) - E D(real) + lambda GP          -E D(fake)
    reflow_critic()         E [1/2 ||grad D(x_t)||^2 - D(x_1) + D(x_0)] -E D(fake)

The formulas and their derivations are in ``genjax.families.gan.losses``. Options are validated
when the objective is made, before any tracing; names are mapped to factories only where a config
is read (``experiments/tasks/gan.py``).

References: Goodfellow et al. 2014, "Generative Adversarial Nets"; Arjovsky et al. 2017,
"Wasserstein GAN"; Gulrajani et al. 2017, "Improved Training of Wasserstein GANs"; Liu et al.
2023, "Flow Straight and Fast"; Yi et al. 2023, "MonoFlow".
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from genjax.families.monoflow import h_function
from genjax.families.gan import losses


class Objective(NamedTuple):
    """A GAN objective as pure functions.

    Attributes:
      name: a label for logs and plots.
      critic_loss: ``(critic, real [B, ...], fake [B, ...], key) -> scalar``.
      generator_loss: ``(critic, fake [B, ...]) -> scalar``.
      project: ``critic_params -> critic_params`` after each critic update (identity but for WGAN).
    """

    name: str
    critic_loss: Callable
    generator_loss: Callable
    project: Callable


def _identity(params):
    return params


def _logistic_critic(critic, real, fake, key):
    del key                                        # deterministic
    return losses.logistic_critic_loss(critic, real, fake)


def minimax() -> Objective:
    """The original GAN: the generator minimises E log(1 - D(G(z))) (saturates when D wins)."""
    return Objective("minimax", _logistic_critic, losses.minimax_generator_loss, _identity)


def non_saturating() -> Objective:
    """The GAN with the non-saturating generator loss -E log D(G(z))."""
    return Objective("non_saturating", _logistic_critic, losses.non_saturating_generator_loss, _identity)


def monoflow(h="logit") -> Objective:
    """MonoFlow: a logistic discriminator and the generator loss -E h(d(G(z))), h increasing.

    Args:
      h: a name in ``genjax.families.monoflow.H_FUNCTIONS`` or a callable (validated here).
    """
    h_function(h)                                  # validate the name now

    def generator_loss(critic, fake):
        return losses.monoflow_generator_loss(critic, fake, h)

    return Objective("monoflow", _logistic_critic, generator_loss, _identity)


def wgan(clip: float = 0.01) -> Objective:
    """WGAN: the Wasserstein critic loss with every critic weight clipped to [-clip, clip] (> 0)."""
    if not clip > 0:
        raise ValueError(f"wgan: clip must be > 0, got {clip}")

    def critic_loss(critic, real, fake, key):
        del key
        return losses.wasserstein_critic_loss(critic, real, fake)

    return Objective("wgan", critic_loss, losses.wasserstein_generator_loss,
                     lambda params: losses.clip_weights(params, clip))


def wgan_gp(gp_weight: float = 10.0) -> Objective:
    """WGAN-GP: the Wasserstein critic loss + gp_weight E (||grad D(x_hat)|| - 1)^2 (lambda >= 0;
    10 in the paper, 0.1 in its toy script)."""
    if not gp_weight >= 0:
        raise ValueError(f"wgan_gp: gp_weight must be >= 0, got {gp_weight}")

    def critic_loss(critic, real, fake, key):
        return (losses.wasserstein_critic_loss(critic, real, fake)
                + gp_weight * losses.gradient_penalty(critic, real, fake, key, center=1.0))

    return Objective("wgan_gp", critic_loss, losses.wasserstein_generator_loss, _identity)


def reflow_critic() -> Objective:
    """The ReFlow critic: ReFlow's velocity loss restricted to gradient fields v = grad D."""
    return Objective("reflow_critic", losses.reflow_critic_loss, losses.wasserstein_generator_loss, _identity)
