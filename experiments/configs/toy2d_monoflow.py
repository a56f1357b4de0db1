r"""MonoFlow on 8 Gaussians (Yi et al. 2023): a logistic discriminator (logit ~ log p/q) and particle
matching x' = x + eta grad h(d(x)) with several generator steps per round.

Command:
    python -m experiments.train --config experiments/configs/toy2d_monoflow.py --workdir runs/monoflow
    (``:runlocal`` for a seconds-long run.) ``--config.gan.h`` picks the increasing map (vanilla,
    non_saturating, logit, arcsinh); ``--config.gan.particle_step_size=0`` trains on the loss
    -E h(d(G(z))) instead of particle matching.

Hardware: one CPU; 20k rounds of 256 samples (1 discriminator step, 5 generator steps).

Expected result: all 8 modes covered with high-quality rate > 0.9; the runlocal-plus test asserts
MMD^2 down >= 5x and >= 6 modes after 600 rounds.

References: Yi et al. 2023, "MonoFlow: Rethinking Divergence GANs via the Perspective of
Wasserstein Gradient Flows".
"""
from experiments.configs._gan_common import gan_config


def get_config(arg=None):
    c = gan_config("monoflow", "8gaussians", arg)
    c.gan.h = "logit"
    c.gan.n_gen = 5
    c.gan.particle_step_size = 0.2
    return c
