r"""NCSN++ cont. (VE) on CIFAR-10: the score_sde configuration (ve/cifar10_ncsnpp_continuous).

Command (tfds must have cifar10 prepared in its data_dir; nothing downloads at run time):
    python -m experiments.train --config experiments/configs/cifar10_ncsnpp.py --workdir /shared/runs/cifar10_ncsnpp
    python -m experiments.train --config experiments/configs/cifar10_ncsnpp.py --workdir ... --mode sample
    multi-host: add --multihost (TPU pods, SLURM) or --coordinator_address/--num_processes/--process_id;
    the workdir must be a directory every host can reach (a shared file system).

Hardware: a TPU v3-8 / 8-GPU class machine, several days (1.3M steps of batch 128); sampling
with 1000 predictor-corrector steps (2000 network calls) takes minutes per 1000 images there.

Network: ``genjax.nets.SongUNet`` as NCSN++ (Gaussian Fourier embedding of log sigma with 2 x 128
channels, residual "input skip" encoder, FIR resampling with the 1-3-3-1 filter, BigGAN-type
residual blocks), 62,758,787 parameters.

Expected result (Song et al. 2021, Table 3, NCSN++ cont. (VE)): FID 2.38, IS 9.83 with the PC
sampler (reverse-diffusion predictor, one Langevin corrector step at snr 0.16, 1000 steps, final
denoising). Differences from score_sde: the loss is the mean (not the sum) of the eps error, the
same minimiser; Adam is insensitive to the scale except through the clip at 1.

Hyper-parameters (score_sde): VE sigma in [0.01, 50]; the network's output is -sigma * score
(score_sde's scale_by_sigma), i.e. an eps prediction up to sign; nf 128, ch_mult (1, 2, 2, 2),
4 res blocks, attention at 16x16, dropout 0.1, Fourier scale 16; Adam lr 2e-4, warm-up 5000,
grad clip 1, EMA 0.999; batch 128, 1.3M steps, random horizontal flip.

``:runlocal`` trains a tiny NCSN++ (8x8 digits, 16 channels) for seconds on one CPU.

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
Equations" (configs/ve/cifar10_ncsnpp_continuous.py); Karras et al. 2022, "Elucidating the
Design Space of Diffusion-Based Generative Models" (SongUNet).
"""
import math

from experiments.configs import cifar10_ddpmpp, common

SIGMA_MIN, SIGMA_MAX = 0.01, 50.0


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = cifar10_ddpmpp.get_config(None)
    k = c.model.net_kwargs
    k.embedding_type = "fourier"
    k.channel_mult_noise = 2
    k.encoder_type = "residual"
    k.resample_filter = (1, 3, 3, 1)
    # score_sde conditions NCSN++ on log sigma(t) = log(s_min) + t log(s_max / s_min)
    k.noise_scale = math.log(SIGMA_MAX / SIGMA_MIN)
    k.noise_shift = math.log(SIGMA_MIN)
    c.model.predicts = "eps"
    c.schedule.name = "ve"
    c.schedule.kwargs = common.ml_collections.ConfigDict(dict(sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX))
    c.ema.rate = 0.999
    c.eval.bits_per_dim = False
    c.sampling.solver = "predictor_corrector"
    c.sampling.solver_kwargs.snr = 0.16
    c.sampling.solver_kwargs.n_corrector = 1
    c.sampling.num_steps = 1000
    c.sampling.denoise_final = True
    if arg == "runlocal":
        cifar10_ddpmpp.runlocal_net(c)
    return c
