"""WGAN-GP on the bundled 8x8 digits (MLP generator and critic, lambda = 10 as for images).

    python -m experiments.train --config experiments/configs/digits_wgan_gp.py[:runlocal] --workdir DIR
"""
from experiments.configs._gan_common import gan_config


def get_config(arg=None):
    c = gan_config("wgan_gp", "8gaussians", arg)
    c.data.source = "digits"
    c.data.name = "digits"
    c.gan.gp_weight = 10.0
    c.gan.latent_dim = 32
    c.eval.num_samples = min(c.eval.num_samples, 1000)
    return c
