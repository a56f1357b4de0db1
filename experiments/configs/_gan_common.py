"""Shared GAN section for the gan configs (not a config itself: no ``get_config``)."""
from __future__ import annotations

import ml_collections

from experiments.configs import common


def gan_config(kind: str, data_name: str = "8gaussians", arg: str | None = None) -> ml_collections.ConfigDict:
    """A 2-D toy GAN of ``kind`` (WGAN-GP toy script settings: Adam(1e-4, 0.5, 0.9), n_critic 5).

    ``arg == "runlocal"``: seconds-long run with small MLPs and a larger learning rate.
    """
    arg = common.parse_arg(arg)
    c = common.base()
    c.model.family = "gan"
    c.data.source = "toy2d"
    c.data.name = data_name

    c.gan = ml_collections.ConfigDict()
    c.gan.kind = kind
    c.gan.n_critic = 5 if kind in ("wgan", "wgan_gp", "reflow_critic") else 1
    c.gan.n_gen = 1
    c.gan.latent_dim = 2
    c.gan.gp_weight = 0.1               # the WGAN-GP toy script's lambda (10 for images)
    c.gan.clip = 0.01                   # WGAN weight clipping
    c.gan.h = "logit"                   # MonoFlow's increasing map
    c.gan.particle_step_size = 0.0      # > 0: MonoFlow particle matching
    c.gan.particle_max_step = 0.0       # > 0: cap on each particle's displacement
    c.gan.gen_hidden = (512, 512, 512)
    c.gan.critic_hidden = (512, 512, 512)
    c.gan.act = "relu"

    c.training.batch_size = 256 * c.gan.n_critic
    c.training.num_steps = 20_000
    c.optim.lr = 1e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.9
    c.optim.grad_clip = 0.0
    c.ema.rate = 0.999
    c.eval.num_samples = 2500           # PacGAN's mode-coverage sample size
    if arg == "runlocal":
        common.runlocal(c, num_steps=600)
        c.training.batch_size = 64 * c.gan.n_critic
        c.gan.gen_hidden = (64, 64)
        c.gan.critic_hidden = (64, 64)
        c.optim.lr = 2e-3
        c.ema.rate = 0.9
        c.eval.num_samples = 1000
    return c
