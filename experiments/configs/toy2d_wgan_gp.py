r"""WGAN-GP on 8 Gaussians (Gulrajani et al. 2017, the toy script's settings: 3x512 ReLU MLPs,
Adam(1e-4, 0.5, 0.9), n_critic = 5, lambda = 0.1).

Command:
    python -m experiments.train --config experiments/configs/toy2d_wgan_gp.py --workdir runs/wgan_gp
    python -m experiments.train --config experiments/configs/toy2d_wgan_gp.py --workdir runs/wgan_gp --mode eval
    (``:runlocal`` for a seconds-long run.) The other GAN objectives share this config:
    ``--config.gan.kind=minimax | non_saturating | wgan | reflow_critic | monoflow``
    (genjax.families.gan; "wgan" clips the critic's weights at ``gan.clip``; ``gan.n_critic`` is
    5 for the Wasserstein kinds and 1 otherwise when set by ``kind`` here, so pass it explicitly
    with an overridden kind), and ``--config.data.name=25gaussians`` or ``swissroll``.

Hardware: one CPU; 20k steps of 5 x 256 samples. The global batch is n_critic micro-batches
(one per critic step), so the runlocal batch is 5 x 64.

Expected result: all 8 modes covered, high-quality rate > 0.9 (eval's ``modes_covered``,
``hq_rate``); the runlocal-plus test (tests/families/test_gan.py) asserts MMD^2 down >= 5x and
>= 6 modes after 600 steps.

References: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs".
"""
from experiments.configs._gan_common import gan_config


def get_config(arg=None):
    return gan_config("wgan_gp", "8gaussians", arg)
