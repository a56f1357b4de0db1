"""WGAN-GP on 8 Gaussians (Gulrajani et al. 2017, the toy script's settings).

    python -m experiments.train --config experiments/configs/toy2d_wgan_gp.py[:runlocal] --workdir DIR

The other GAN objectives share this config: ``--config.gan.kind=minimax | non_saturating | wgan |
reflow_critic | monoflow`` (genjax.families.gan; "wgan" clips the critic's weights at
``gan.clip``), and ``--config.data.name=25gaussians`` or ``swissroll`` changes the data.
"""
from experiments.configs._gan_common import gan_config


def get_config(arg=None):
    return gan_config("wgan_gp", "8gaussians", arg)
