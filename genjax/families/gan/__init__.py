"""GANs: the losses (``losses``), one factory per objective (``objectives``), trained by
``genjax.families.gan_train`` on ``genjax.train.players``.

    from genjax.families import gan
    obj = gan.objectives.wgan_gp(gp_weight=10.0)
    loss = obj.critic_loss(critic, real, fake, key)
    gp = gan.gradient_penalty(critic, real, fake, key)

Every public name of ``losses`` is importable from here.

References: Goodfellow et al. 2014, "Generative Adversarial Nets"; Gulrajani et al. 2017,
"Improved Training of Wasserstein GANs".
"""
from genjax.families.gan import losses, objectives
from genjax.families.gan.losses import (check_pair, clip_weights, gradient_penalty, input_grad,
                                        logistic_critic_loss, minimax_generator_loss,
                                        monoflow_generator_loss, non_saturating_generator_loss,
                                        reflow_critic_loss, scores, wasserstein_critic_loss,
                                        wasserstein_generator_loss)
from genjax.families.gan.objectives import Objective

__all__ = ["Objective", "check_pair", "clip_weights", "gradient_penalty", "input_grad", "logistic_critic_loss",
           "losses", "minimax_generator_loss", "monoflow_generator_loss", "non_saturating_generator_loss",
           "objectives", "reflow_critic_loss", "scores", "wasserstein_critic_loss", "wasserstein_generator_loss"]
