r"""EDM (Karras et al. 2022) on the bundled 8x8 digits: preconditioned U-Net, Heun 18 steps.

Command:
    python -m experiments.train --config experiments/configs/digits_edm.py --workdir runs/digits_edm
    python -m experiments.train --config experiments/configs/digits_edm.py --workdir runs/digits_edm --mode eval

Hardware: any single GPU (minutes for 20k steps of batch 128). A CPU works but takes hours
(steps/s on a 2-core CPU: benchmarks/train.py, docs/readme/train.md); ``:runlocal`` takes seconds.

Network: ``genjax.nets.SongUNet`` (DDPM++ blocks; model_channels 32, channel_mult (1, 2), 2 blocks,
attention at 4x4), 1,032,353 parameters, preconditioned as in EDM (c_noise = ln(sigma) / 4).

Expected result: recognisable digits from 18 Heun steps (35 denoiser calls) on the rho = 7 grid;
sample MMD to held-in digits close to that of a second data draw.

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1 preconditioning and loss, Algorithm 1 sampler, EMA half-life).
"""
from experiments.configs import cifar10_ddpmpp, common, digits_ddpm


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    cifar10_ddpmpp.set_net(c, "song_unet", **digits_ddpm.NET)   # noise_scale 1: c_noise = ln(sigma) / 4
    c.model.predicts = "edm"
    c.schedule.name = "edm"
    c.schedule.kwargs.sigma_min = 0.002
    c.schedule.kwargs.sigma_max = 80.0
    c.schedule.kwargs.sigma_data = 0.5
    c.loss.name = "edm"
    c.data.source = "digits"
    c.data.name = "digits"
    c.training.batch_size = 128
    c.training.num_steps = 20_000
    c.training.sample_every = 5000
    c.optim.lr = 1e-3
    c.optim.warmup_steps = 1000
    c.ema.half_life_images = 128 * 500.0  # ~500 steps
    c.ema.rampup_ratio = 0.05
    c.sampling.solver = "heun"
    c.sampling.num_steps = 18
    c.sampling.grid = "karras"
    c.sampling.to_zero = True
    c.sampling.num_samples = 256
    c.eval.num_samples = 512
    c.eval.sample_metrics = ("digits_fd", "digits_score") + common.SAMPLE_METRICS
    if arg == "runlocal":
        cifar10_ddpmpp.runlocal_net(c)
        c.ema.half_life_images = 64 * 10.0
    return c
