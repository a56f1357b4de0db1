r"""WGAN-GP on the bundled 8x8 digits (MLP generator and critic, lambda = 10 as for images).

Command:
    python -m experiments.train --config experiments/configs/digits_wgan_gp.py --workdir runs/digits_wgan_gp
    (``:runlocal`` for a seconds-long run.)

Hardware: one CPU; 20k steps of 5 x 256 images.

Expected result: digit-like 8x8 samples; the runlocal-plus test asserts MMD^2 to held-out digits
down >= 5x after 600 steps.

References: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs".
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
