r"""RealNVP (affine couplings, alternating masks) on two moons by maximum likelihood.

Command:
    python -m experiments.train --config experiments/configs/toy2d_realnvp.py --workdir runs/toy2d_realnvp
    python -m experiments.train --config experiments/configs/toy2d_realnvp.py --workdir runs/toy2d_realnvp --mode eval

Hardware: one CPU core, a few minutes (10k steps of batch 256); ``:runlocal`` in under a minute.

Expected result: held-out nll 2.45 nats (1.77 bits/dim) after 4000 steps of batch 256 with 8
couplings of 128 x 128 (experiments/papers/realnvp/two_moons.py); f(x) of held-out data close to
N(0, I). Other toy sets: ``--config.data.name=checkerboard``.

References: Dinh et al. 2017, "Density estimation using Real NVP" (Fig. 1).
"""
import ml_collections

from experiments.configs import common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    c.model.family = "flows"
    c.data.source = "toy2d"
    c.data.name = "moons"
    c.flow = ml_collections.ConfigDict()
    c.flow.name = "realnvp"
    c.flow.kwargs = ml_collections.ConfigDict({"num_couplings": 8, "hidden": (256, 256)})
    c.flow.logit_alpha = 0.0
    c.flow.eval_num_steps = 0
    c.training.num_steps = 10_000
    c.optim.lr = 1e-3
    c.optim.grad_clip = 10.0
    c.ema.rate = 0.99
    if arg == "runlocal":
        common.runlocal(c, num_steps=500)
        c.flow.kwargs.num_couplings = 6
        c.flow.kwargs.hidden = (64, 64)
        c.ema.rate = 0.0
    return c
