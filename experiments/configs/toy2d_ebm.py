r"""Energy-based model on 8 Gaussians: contrastive loss with the L2 energy regulariser, Langevin
negatives (separate step size and noise) and a replay buffer (Du & Mordatch 2019).

Command:
    python -m experiments.train --config experiments/configs/toy2d_ebm.py --workdir runs/ebm
    (``:runlocal`` for a seconds-long run.) Persistent chains (``ebm.buffer_size > 0``, 5 %
    restarted from noise per step) by default; ``--config.ebm.buffer_size=0`` gives short-run
    chains from noise (Nijkamp et al. 2019).

Hardware: one CPU; 10k steps of batch 256 with 40 Langevin steps each.

Expected result: Langevin samples (200 steps from uniform noise) on all 8 modes; the runlocal-plus
test asserts MMD^2 down >= 5x and >= 6 modes after 500 steps.

References: Du & Mordatch 2019, "Implicit Generation and Generalization in Energy-Based Models".
"""
import ml_collections

from experiments.configs import common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    c.model.family = "ebm"
    c.data.source = "toy2d"
    c.data.name = "8gaussians"

    c.ebm = ml_collections.ConfigDict()
    c.ebm.hidden = (128, 128, 128)
    c.ebm.act = "swish"                 # smooth energy: Langevin follows its gradient
    c.ebm.num_steps = 40
    c.ebm.step_size = 0.05
    c.ebm.noise_std = 0.1               # cooler than ULA's sqrt(2 * 0.05) = 0.32 (Du & Mordatch)
    c.ebm.grad_clip = 0.0
    c.ebm.reg_weight = 0.1
    c.ebm.buffer_size = 10_000
    c.ebm.reinit_fraction = 0.05
    c.ebm.init_low = -4.0
    c.ebm.init_high = 4.0
    c.ebm.sample_steps = 200

    c.training.batch_size = 256
    c.training.num_steps = 10_000
    c.optim.lr = 1e-3
    c.optim.b1 = 0.0                    # Du & Mordatch train with beta1 = 0
    c.optim.b2 = 0.999
    c.optim.grad_clip = 1.0
    c.ema.rate = 0.99
    if arg == "runlocal":
        common.runlocal(c, num_steps=500)
        c.training.batch_size = 128
        c.ebm.hidden = (64, 64)
        c.ebm.buffer_size = 2048
        c.ebm.num_steps = 20
        c.ebm.sample_steps = 100
        c.ema.rate = 0.9
    return c
