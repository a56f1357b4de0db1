r"""Poisson flow generative model on 8 Gaussians (Xu et al. 2022).

Command:
    python -m experiments.train --config experiments/configs/toy2d_pfgm.py --workdir runs/pfgm
    (``:runlocal`` for a seconds-long run.)

Hardware: one CPU; 20k steps of batch 1024 (the empirical-field target is computed over the whole
batch, ``pfgm.small_batch`` points are perturbed).

Expected result: backward-ODE samples (RK4 in log z from z_max = 40) on all 8 modes; the
runlocal-plus test asserts MMD^2 down >= 5x and >= 6 modes after 500 steps. The paper's
perturbation (sigma 0.01, tau 0.03, M 291: z up to ~ 54) and target gamma = 5 are kept.

References: Xu et al. 2022, "Poisson Flow Generative Models".
"""
import ml_collections

from experiments.configs import common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    c.model.family = "pfgm"
    c.data.source = "toy2d"
    c.data.name = "8gaussians"

    c.pfgm = ml_collections.ConfigDict()
    c.pfgm.hidden = (256, 256, 256)
    c.pfgm.act = "swish"
    c.pfgm.sigma = 0.01
    c.pfgm.tau = 0.03
    c.pfgm.M = 291.0
    c.pfgm.gamma = 5.0
    c.pfgm.small_batch = 256
    c.pfgm.z_max = 40.0
    c.pfgm.z_min = 1e-3
    c.pfgm.sample_steps = 100
    c.pfgm.solver = "rk4"
    c.pfgm.max_radius = 3000.0          # the paper's upper_norm

    c.training.batch_size = 1024        # large batch: the empirical field target is less biased
    c.training.num_steps = 20_000
    c.optim.lr = 2e-4
    c.optim.grad_clip = 1.0
    c.ema.rate = 0.999
    if arg == "runlocal":
        common.runlocal(c, num_steps=500)
        c.training.batch_size = 256
        c.pfgm.small_batch = 64
        c.pfgm.hidden = (64, 64)
        c.pfgm.sample_steps = 32
        c.optim.lr = 2e-3
        c.ema.rate = 0.9
    return c
