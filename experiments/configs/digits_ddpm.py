r"""DDPM (VP SDE, eps prediction) on the bundled 8x8 digits with a small DDPM++ U-Net.

Command:
    python -m experiments.train --config experiments/configs/digits_ddpm.py --workdir runs/digits_ddpm
    python -m experiments.train --config experiments/configs/digits_ddpm.py --workdir runs/digits_ddpm --mode eval

Hardware: sized for a 2-core CPU: 1500 steps of batch 128 take ~3 minutes on an idle machine (about 8
steps/s with the network below; seconds on any GPU); the figures' models trained on a loaded machine. ``:runlocal`` takes seconds. The paper figures on the digits
(``experiments/papers/digits/``) train this config once into their shared workdir.

Network: ``genjax.nets.SongUNet`` (DDPM++ blocks; model_channels 16, channel_mult (1, 2), one block
per level, the lowest decoder level's attention only), 180,193 parameters; DDPM's time label
999 t (noise_scale 999).

Expected result: digits from 100 ancestral steps; digits FD (``genjax.metrics.digits_fd``, floor 3.56)
and eval bits/dim (probability-flow ODE, dequantized 17-level pixels) far below the uniform
model's log2(17) = 4.09. Measured numbers: README, "Diffusion on the digits".

References: Ho et al. 2020, "Denoising Diffusion Probabilistic Models"; Song et al. 2021,
"Score-Based Generative Modeling through Stochastic Differential Equations" (VP SDE, DDPM++).
"""
from experiments.configs import cifar10_ddpmpp, common

# The CPU-scale digits network shared by every digits diffusion config (180,193 parameters).
NET = dict(img_resolution=8, in_channels=1, out_channels=1, model_channels=16, channel_mult=(1, 2), num_blocks=1,
           attn_resolutions=(), dropout=0.1)
NUM_STEPS = 1500


def digits_training(c) -> None:
    """The data, batch, step budget, EMA and eval keys every CPU-scale digits config shares."""
    c.data.source = "digits"
    c.data.name = "digits"
    c.training.batch_size = 128
    c.training.num_steps = NUM_STEPS
    c.training.sample_every = 2000
    c.training.checkpoint_every = 1000
    c.optim.lr = 1e-3
    c.optim.warmup_steps = 200
    # EDM's EMA: a half-life in images with a ramp-up (half-life <= 5 % of the images seen). A constant
    # rate 0.999 keeps 0.999^1500 = 22 % of the random initialisation after 1500 steps (noise samples).
    c.ema.half_life_images = 128 * 250.0
    c.ema.rampup_ratio = 0.05
    c.sampling.num_samples = 256
    c.eval.num_samples = 1000
    c.eval.sample_metrics = ("digits_fd", "digits_score") + common.SAMPLE_METRICS


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    cifar10_ddpmpp.set_net(c, "song_unet", **NET, noise_scale=999.0)   # DDPM's time label (M - 1) t
    c.model.predicts = "eps"
    c.schedule.name = "vp_linear"
    c.loss.name = "dsm"
    digits_training(c)
    c.sampling.solver = "ancestral"
    c.sampling.num_steps = 100
    c.sampling.denoise_final = True
    c.eval.bits_per_dim = True
    c.eval.model_batch = 128
    if arg == "runlocal":
        cifar10_ddpmpp.runlocal_net(c)
    return c
