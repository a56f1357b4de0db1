r"""EDM on CIFAR-10 (DDPM++ network, EDM preconditioning and loss): Karras et al. 2022, config F.

Command (tfds must have cifar10 prepared in its data_dir; nothing downloads at run time):
    python -m experiments.train --config experiments/configs/cifar10_edm.py --workdir /shared/runs/cifar10_edm
    python -m experiments.train --config experiments/configs/cifar10_edm.py:cond --workdir /shared/runs/cifar10_edm_cond
    python -m experiments.train --config experiments/configs/cifar10_edm.py --workdir ... --mode sample
    multi-host: add --multihost (TPU pods, SLURM) or --coordinator_address/--num_processes/--process_id;
    the workdir must be a directory every host can reach (a shared file system).
Arguments: "cond" (class-conditional), "runlocal", "cond,runlocal".

Hardware: 8 x V100 for about 2 days in the paper (200 Mimg = 390k steps of batch 512), or a TPU
v3-8 / v4-8.

Network: ``genjax.nets.SongUNet`` (EDM's DDPM++: model_channels 128, channel_mult (2, 2, 2), 4
blocks, attention at 16x16, dropout 0.13): 55,732,739 parameters unconditional and 55,734,147
class-conditional; EDM's own counts, 55,733,891 and 55,735,299, include the 9 x 128 weights of the
augmentation-label embedding, which is absent here (augment_dim 0).

Expected result (Karras et al. 2022, Table 2): FID 1.97 unconditional, 1.79 conditional, with 35
network calls (Heun, 18 steps). Difference from the paper: no non-leaky geometric augmentation
(the paper's probability 0.12 with augmentation labels; EDM's data set is not x-flipped either),
so expect a somewhat higher FID (EDM, Table 2 ablations, and overfitting late in training).

Hyper-parameters (EDM train.py, --arch=ddpmpp --precond=edm): sigma_data 0.5, ln sigma ~ N(-1.2,
1.2^2), preconditioning of Table 1, c_noise = ln(sigma) / 4; Adam lr 1e-3, lr ramp-up 10 Mimg
(19531 steps), EMA half-life 500 kimg with ramp-up ratio 0.05; batch 512; Heun, 18 steps, rho 7,
sigma in [0.002, 80].

``:runlocal`` trains a tiny SongUNet (8x8 digits, 16 channels) for seconds on one CPU.

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1, Table 2, Algorithm 1; train.py presets).
"""
from experiments.configs import cifar10_ddpmpp, common

ARGS = ("cond", "runlocal")


def get_config(arg=None):
    parts = [common.parse_arg(p, ARGS) for p in (arg or "").split(",")]
    c = common.base()
    cifar10_ddpmpp.set_net(c, "song_unet", img_resolution=32, in_channels=3, out_channels=3, model_channels=128,
                           channel_mult=(2, 2, 2), num_blocks=4, attn_resolutions=(16,), dropout=0.13,
                           embedding_type="positional")
    c.model.predicts = "edm"              # the network sees c_noise = ln(sigma) / 4 (noise_scale 1)
    c.schedule.name = "edm"
    c.schedule.kwargs.sigma_min = 0.002
    c.schedule.kwargs.sigma_max = 80.0
    c.schedule.kwargs.sigma_data = 0.5
    c.loss.name = "edm"
    c.loss.kwargs.p_mean = -1.2
    c.loss.kwargs.p_std = 1.2
    c.data.source = "tfds"
    c.data.name = "cifar10"
    c.data.use_labels = "cond" in parts   # the trainer sets the network's num_classes from the data
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
    if "runlocal" in parts:
        cifar10_ddpmpp.runlocal_net(c)
        c.ema.half_life_images = 64 * 10.0
    return c
