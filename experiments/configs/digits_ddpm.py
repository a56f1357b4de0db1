r"""DDPM (VP SDE, eps prediction) on the bundled 8x8 digits with a small DDPM++ U-Net.

Command:
    python -m experiments.train --config experiments/configs/digits_ddpm.py --workdir runs/digits_ddpm
    python -m experiments.train --config experiments/configs/digits_ddpm.py --workdir runs/digits_ddpm --mode eval

Hardware: any single GPU (minutes for 20k steps of batch 128). A CPU works but takes hours
(steps/s on a 2-core CPU: benchmarks/train.py, docs/readme/train.md); ``:runlocal`` takes seconds.

Network: ``genjax.nets.SongUNet`` (DDPM++ blocks; model_channels 32, channel_mult (1, 2), 2 blocks,
attention at 4x4): 1,032,353 parameters.

Expected result: recognisable digits from 200 ancestral steps; eval bits/dim (probability-flow
ODE, dequantized 17-level pixels) well below the uniform model's log2(17) = 4.09.

References: Ho et al. 2020, "Denoising Diffusion Probabilistic Models"; Song et al. 2021,
"Score-Based Generative Modeling through Stochastic Differential Equations" (VP SDE, DDPM++).
"""
from experiments.configs import cifar10_ddpmpp, common

NET = dict(img_resolution=8, in_channels=1, out_channels=1, model_channels=32, channel_mult=(1, 2), num_blocks=2,
           attn_resolutions=(4,), dropout=0.1)


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    cifar10_ddpmpp.set_net(c, "song_unet", **NET, noise_scale=999.0)   # DDPM's time label (M - 1) t
    c.model.predicts = "eps"
    c.schedule.name = "vp_linear"
    c.loss.name = "dsm"
    c.data.source = "digits"
    c.data.name = "digits"
    c.training.batch_size = 128
    c.training.num_steps = 20_000
    c.training.sample_every = 5000
    c.optim.lr = 2e-4
    c.optim.warmup_steps = 500
    c.ema.rate = 0.999
    c.sampling.solver = "ancestral"
    c.sampling.num_steps = 200
    c.sampling.denoise_final = True
    c.sampling.num_samples = 256
    c.eval.num_samples = 512
    c.eval.sample_metrics = ("digits_fd", "digits_score") + common.SAMPLE_METRICS
    c.eval.bits_per_dim = True
    c.eval.model_batch = 128
    if arg == "runlocal":
        cifar10_ddpmpp.runlocal_net(c)
    return c
