"""MonoFlow on 8 Gaussians (Yi et al. 2023): logistic discriminator (logit ~ log p/q), particle
matching x' = x + eta grad h(d(x)) with several generator steps per round.

    python -m experiments.train --config experiments/configs/toy2d_monoflow.py[:runlocal] --workdir DIR

``--config.gan.h`` picks the increasing map (vanilla, non_saturating, logit, arcsinh);
``--config.gan.particle_step_size=0`` trains on the loss -E h(d(G(z))) instead.
"""
from experiments.configs._gan_common import gan_config


def get_config(arg=None):
    c = gan_config("monoflow", "8gaussians", arg)
    c.gan.h = "logit"
    c.gan.n_gen = 5
    c.gan.particle_step_size = 0.2
    return c
