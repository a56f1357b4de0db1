r"""Glow-style flow on 2-D data (actnorm, invertible linear map in LU form, affine coupling).

Command:
    python -m experiments.train --config experiments/configs/toy2d_glow.py --workdir runs/toy2d_glow
    python -m experiments.train --config experiments/configs/toy2d_glow.py --workdir runs/toy2d_glow --mode eval

Hardware: one CPU core, a few minutes (10k steps of batch 256); ``:runlocal`` in under a minute.

Expected result: held-out nll 3.73 nats on the checkerboard (optimum log 32 = 3.47), 2.47 on
pinwheel, 3.08 on 8 Gaussians after 2000 steps of batch 256 with 8 steps of width 128
(experiments/papers/ffjord/toy_densities.py). Other toy sets: ``--config.data.name=pinwheel``.

References: Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions".
"""
import ml_collections

from experiments.configs import common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    c.model.family = "flows"
    c.data.source = "toy2d"
    c.data.name = "checkerboard"
    c.flow = ml_collections.ConfigDict()
    c.flow.name = "glow"
    c.flow.kwargs = ml_collections.ConfigDict({"levels": 1, "steps_per_level": 8, "hidden": 128})
    c.flow.logit_alpha = 0.0
    c.flow.eval_num_steps = 0
    c.training.num_steps = 10_000
    c.optim.lr = 1e-3
    c.optim.grad_clip = 10.0
    c.ema.rate = 0.99
    if arg == "runlocal":
        common.runlocal(c, num_steps=500)
        c.flow.kwargs.steps_per_level = 6
        c.flow.kwargs.hidden = 64
        c.ema.rate = 0.0
    return c
