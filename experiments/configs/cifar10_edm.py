r"""EDM on CIFAR-10 (unconditional, DDPM++ architecture, VP-style network): Karras et al. 2022.

Command (tfds must have cifar10 prepared in its data_dir; nothing downloads at run time):
    python -m experiments.train --config experiments/configs/cifar10_edm.py --workdir /shared/runs/cifar10_edm
    python -m experiments.train --config experiments/configs/cifar10_edm.py --workdir ... --mode sample
    multi-host: add --multihost (TPU pods, SLURM) or --coordinator_address/--num_processes/--process_id;
    the workdir must be a directory every host can reach (a shared file system).

Hardware: 8 x V100-class GPUs for about 2 days in the paper (200 Mimg = 390k steps of batch 512),
or a TPU v3-8 / v4-8.

Expected result (Karras et al. 2022, Table 2): FID 1.97 unconditional with 35 NFE (Heun, 18
steps). Differences from the paper: no geometric augmentation pipeline (the paper's 0.12
augment probability with augmentation labels), and genjax.nets.UNet instead of the DDPM++
SongUNet (no BigGAN-type resampling residual blocks); expect a somewhat higher FID.

Hyper-parameters (EDM, cifar10 uncond ddpmpp): sigma_data 0.5, ln sigma ~ N(-1.2, 1.2^2),
preconditioning of Table 1, model_channels 128, channel_mult (2, 2, 2), 4 blocks, attention at
16x16, dropout 0.13; Adam lr 1e-3, lr ramp-up 10 Mimg (19531 steps), EMA half-life 500 kimg with
ramp-up ratio 0.05; batch 512; Heun sampler, 18 steps, rho 7, sigma in [0.002, 80].

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1, Table 7, Algorithm 1; train.py presets).
"""
from experiments.configs import cifar10_ddpmpp, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    c.model.net = "unet"
    c.model.net_kwargs.ch = 128
    c.model.net_kwargs.ch_mult = (2, 2, 2)
    c.model.net_kwargs.num_res_blocks = 4
    c.model.net_kwargs.attn_resolutions = (16,)
    c.model.net_kwargs.dropout = 0.13
    c.model.net_kwargs.time_embedding = "sinusoidal"
    c.model.net_kwargs.t_scale = 1.0     # c_noise = ln(sigma) / 4 fed to the embedding as in EDM
    c.model.predicts = "edm"
    c.schedule.name = "edm"
    c.schedule.kwargs.sigma_min = 0.002
    c.schedule.kwargs.sigma_max = 80.0
    c.schedule.kwargs.sigma_data = 0.5
    c.loss.name = "edm"
    c.loss.kwargs.p_mean = -1.2
    c.loss.kwargs.p_std = 1.2
    c.data.source = "tfds"
    c.data.name = "cifar10"
    c.training.batch_size = 512
    c.training.num_steps = 390_625       # 200 Mimg
    c.training.log_every = 100
    c.training.checkpoint_every = 5000
    c.training.sample_every = 25_000
    c.optim.optimizer = "adam"
    c.optim.lr = 1e-3
    c.optim.warmup_steps = 19_531        # 10 Mimg
    c.optim.grad_clip = 0.0              # EDM does not clip
    c.ema.half_life_images = 500_000.0
    c.ema.rampup_ratio = 0.05
    c.sampling.solver = "heun"
    c.sampling.num_steps = 18
    c.sampling.grid = "karras"
    c.sampling.rho = 7.0
    c.sampling.to_zero = True
    c.sampling.num_samples = 64
    c.eval.num_samples = 50_000          # FID of 50k samples against the training set, as the papers report
    c.eval.sample_metrics = ("fid", "kid")
    c.eval.fid_reference = ""            # data statistics .npz (EDM / pytorch-fid format; written at the first eval)
    c.eval.inception_weights = ""        # "" -> $GENJAX_INCEPTION or ~/.cache/genjax/pt_inception-2015-12-05.npz
    c.eval.metrics_batch = 500           # Inception batch (global, over all devices)
    if arg == "runlocal":
        cifar10_ddpmpp._runlocal_unet(c)
        c.ema.half_life_images = 64 * 10.0
    return c
