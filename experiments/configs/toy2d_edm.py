r"""EDM (Karras et al. 2022) on a 2-D toy set: preconditioned MLP, log-normal sigma, Heun sampler.

Command:
    python -m experiments.train --config experiments/configs/toy2d_edm.py --workdir runs/toy2d_edm
    python -m experiments.train --config experiments/configs/toy2d_edm.py --workdir runs/toy2d_edm --mode eval

Hardware: one CPU (laptop); 20k steps of batch 256.

Expected result: samples on the 8 Gaussians (std 0.35 at radius 2.83) with few stragglers between
modes; 18 Heun steps (35 denoiser calls) on the rho = 7 grid.

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1: preconditioning, P_mean = -1.2, P_std = 1.2, sigma_data; Algorithm 1).
"""
from experiments.configs import common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    c.model.net = "mlp"
    c.model.net_kwargs.features = (256, 256, 256)
    c.model.net_kwargs.embed_dim = 64
    c.model.predicts = "edm"
    c.schedule.name = "edm"
    c.schedule.kwargs.sigma_min = 0.002
    c.schedule.kwargs.sigma_max = 80.0
    c.schedule.kwargs.sigma_data = 1.0    # the toy sets have per-coordinate std ~1-2
    c.loss.name = "edm"
    c.loss.kwargs.p_mean = -1.2
    c.loss.kwargs.p_std = 1.2
    c.data.source = "toy2d"
    c.data.name = "8gaussians"
    c.training.batch_size = 256
    c.training.num_steps = 20_000
    c.optim.lr = 1e-3
    c.optim.warmup_steps = 200
    c.ema.rate = 0.999
    c.sampling.solver = "heun"
    c.sampling.num_steps = 18
    c.sampling.grid = "karras"
    c.sampling.rho = 7.0
    c.sampling.to_zero = True
    c.sampling.num_samples = 2000
    c.eval.num_samples = 2000
    if arg == "runlocal":
        common.runlocal(c)
        c.model.net_kwargs.features = (64, 64)
        c.model.net_kwargs.embed_dim = 32
        c.ema.rate = 0.9
    return c
