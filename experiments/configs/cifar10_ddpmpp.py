r"""DDPM++ cont. (VP) on CIFAR-10: the score_sde configuration (vp/cifar10_ddpmpp_continuous).

Command (tfds must have cifar10 prepared in its data_dir; nothing downloads at run time):
    python -m experiments.train --config experiments/configs/cifar10_ddpmpp.py --workdir /shared/runs/cifar10_ddpmpp
    python -m experiments.train --config experiments/configs/cifar10_ddpmpp.py --workdir ... --mode eval
    multi-host: add --multihost (TPU pods, SLURM) or --coordinator_address/--num_processes/--process_id;
    the workdir must be a directory every host can reach (a shared file system).

Hardware: a TPU v3-8 / 8-GPU class machine, several days (1.3M steps of batch 128); the global
batch is split over every device of every host.

Network: ``genjax.nets.SongUNet`` (EDM's reimplementation of score_sde's DDPM++: BigGAN-type
residual up/down-sampling, skip rescaling, positional embedding of 999 t), 61,804,419 parameters.

Expected result (Song et al. 2021, Table 2, DDPM++ cont. (VP)): 3.16 bits/dim on the test set
with the probability-flow ODE, FID 3.93 with ODE samples. The network, the loss (eps prediction,
uniform t, mean reduction), the optimiser, EMA and the random horizontal flip follow score_sde.

Hyper-parameters (score_sde): VP beta in [0.1, 20]; eps prediction with uniform t (reduce_mean);
nf 128, ch_mult (1, 2, 2, 2), 4 res blocks, attention at 16x16, dropout 0.1, positional time
embedding of 999 t; Adam lr 2e-4 (b1 0.9, eps 1e-8), warm-up 5000, grad clip 1, EMA 0.9999;
batch 128, 1.3M steps, random horizontal flip; Euler-Maruyama sampler with 1000 steps and final
denoising.

``:runlocal`` trains a tiny SongUNet (8x8 digits, 16 channels) for seconds on one CPU.

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations" (configs/vp/cifar10_ddpmpp_continuous.py); Karras et al. 2022, "Elucidating the
Design Space of Diffusion-Based Generative Models" (SongUNet).
"""
import ml_collections

from experiments.configs import common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    set_net(c, "song_unet", img_resolution=32, in_channels=3, out_channels=3, model_channels=128,
            channel_mult=(1, 2, 2, 2), num_blocks=4, attn_resolutions=(16,), dropout=0.1, embedding_type="positional",
            noise_scale=999.0)   # score_sde's VP time label: (M - 1) t
    c.model.predicts = "eps"
    c.schedule.name = "vp_linear"
    c.schedule.kwargs.beta_min = 0.1
    c.schedule.kwargs.beta_max = 20.0
    c.loss.name = "dsm"
    c.data.source = "tfds"
    c.data.name = "cifar10"
    c.data.split = "train"
    c.data.random_flip = True
    c.training.batch_size = 128
    c.training.num_steps = 1_300_001
    c.training.log_every = 50
    c.training.checkpoint_every = 10_000
    c.training.keep_checkpoints = 3
    c.training.sample_every = 50_000
    c.optim.optimizer = "adam"
    c.optim.lr = 2e-4
    c.optim.warmup_steps = 5000
    c.optim.grad_clip = 1.0
    c.ema.rate = 0.9999
    c.sampling.solver = "euler_maruyama"
    c.sampling.num_steps = 1000
    c.sampling.denoise_final = True
    c.sampling.num_samples = 64
    c.eval.num_samples = 50_000          # FID of 50k samples against the training set, as the papers report
    c.eval.bits_per_dim = True
    c.eval.model_batch = 128
    c.eval.sample_metrics = ("fid", "kid")
    c.eval.fid_reference = ""            # data statistics .npz (EDM / pytorch-fid format; written at the first eval)
    c.eval.inception_weights = ""        # "" -> $GENJAX_INCEPTION or ~/.cache/genjax/pt_inception-2015-12-05.npz
    c.eval.metrics_batch = 500           # Inception batch (global, over all devices)
    if arg == "runlocal":
        runlocal_net(c)
    return c


def set_net(c, name: str, **kwargs):
    """``config.model.net = name`` with exactly ``kwargs`` as its hyper-parameters."""
    c.model.net = name
    c.model.net_kwargs = ml_collections.ConfigDict(kwargs)
    return c


def runlocal_net(c, model_channels: int = 16):
    """Shrink a U-Net image config to seconds on one CPU: 8x8 digits, a two-level network."""
    common.runlocal(c)
    c.data.source = "digits"
    c.data.name = "digits"
    c.data.split = "train"
    c.model.net_kwargs.img_resolution = 8
    c.model.net_kwargs.in_channels = 1
    c.model.net_kwargs.out_channels = 1
    c.model.net_kwargs.model_channels = model_channels
    c.model.net_kwargs.channel_mult = (1, 2)
    c.model.net_kwargs.num_blocks = 1
    c.model.net_kwargs.attn_resolutions = ()      # the lowest level's first decoder block still attends
    c.model.net_kwargs.dropout = 0.0              # dropout's random bits dominate the CPU compile
    c.optim.warmup_steps = 10
    c.eval.bits_per_dim = False
    c.eval.sample_metrics = ("digits_fd",) + common.SAMPLE_METRICS   # runlocal always trains on 8x8 digits
    return c
