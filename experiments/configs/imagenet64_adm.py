r"""EDM on class-conditional ImageNet 64x64 with the ADM network: Karras et al. 2022, config F.

Command (tfds must have imagenet_resized/64x64 prepared in its data_dir; nothing downloads at run time):
    python -m experiments.train --config experiments/configs/imagenet64_adm.py --workdir /shared/runs/imagenet64_adm --multihost
    python -m experiments.train --config experiments/configs/imagenet64_adm.py --workdir ... --mode sample
    the workdir must be a directory every host can reach (a shared file system).

Hardware: 32 x A100 (80 GB) for about 13 days in the paper (2500 Mimg = 610k steps of batch
4096, mixed precision); a TPU v4-64 class pod. Not a single-machine run.

Network: ``genjax.nets.DhariwalUNet`` (ADM: model_channels 192, channel_mult (1, 2, 3, 4), 3
blocks, attention at 32, 16 and 8 with 64 channels per head, adaptive group norm, dropout 0.1),
295,899,267 parameters with 1000 classes (ADM's published network, which also learns variances,
out_channels 6, has 295,904,454).

Expected result (Karras et al. 2022, Table 2 / Table 5): FID 1.36 with the stochastic sampler
(256 steps, S_churn 40, S_min 0.05, S_max 50, S_noise 1.003; 511 network calls); 2.44 with the
deterministic Heun sampler in 79 calls. Differences from the paper: float32 training (EDM: fp16
with loss scaling 100), and tfds's imagenet_resized (box-filter downsampling) instead of ADM's
preprocessing of ImageNet; expect a higher FID against EDM's reference statistics.

Hyper-parameters (EDM README, --cond=1 --arch=adm): EDM preconditioning and loss (sigma_data 0.5,
ln sigma ~ N(-1.2, 1.2^2)); Adam lr 1e-4, lr ramp-up 10 Mimg (2441 steps), EMA half-life 50 Mimg
with ramp-up ratio 0.05; batch 4096; no augmentation, no flip.

``:runlocal`` trains a tiny class-conditional DhariwalUNet (8x8 digits, 16 channels) for seconds
on one CPU.

References: Dhariwal & Nichol 2021, "Diffusion Models Beat GANs on Image Synthesis" (ADM); Karras
et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models" (Table 5,
Appendix F.3).
"""
from experiments.configs import cifar10_ddpmpp, cifar10_edm, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = cifar10_edm.get_config("cond")
    cifar10_ddpmpp.set_net(c, "dhariwal_unet", img_resolution=64, in_channels=3, out_channels=3, model_channels=192,
                           channel_mult=(1, 2, 3, 4), channel_mult_emb=4, num_blocks=3, attn_resolutions=(32, 16, 8),
                           dropout=0.10)
    c.data.name = "imagenet_resized/64x64"
    c.data.use_labels = True
    c.training.batch_size = 4096
    c.training.num_steps = 610_352       # 2500 Mimg
    c.training.checkpoint_every = 2000
    c.training.sample_every = 20_000
    c.optim.lr = 1e-4
    c.optim.warmup_steps = 2441          # 10 Mimg
    c.ema.half_life_images = 50_000_000.0
    c.sampling.solver = "edm_stochastic"
    c.sampling.solver_kwargs.s_churn = 40.0
    c.sampling.solver_kwargs.s_tmin = 0.05
    c.sampling.solver_kwargs.s_tmax = 50.0
    c.sampling.solver_kwargs.s_noise = 1.003
    c.sampling.num_steps = 256
    if arg == "runlocal":
        cifar10_ddpmpp.runlocal_net(c)
        c.data.use_labels = True
        c.ema.half_life_images = 64 * 10.0
    return c
