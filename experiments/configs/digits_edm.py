r"""EDM (Karras et al. 2022) on the bundled 8x8 digits: preconditioned U-Net, Heun 18 steps.

Command:
    python -m experiments.train --config experiments/configs/digits_edm.py --workdir runs/digits_edm
    python -m experiments.train --config experiments/configs/digits_edm.py:cond --workdir runs/digits_edm_cond
    python -m experiments.train --config experiments/configs/digits_edm.py --workdir runs/digits_edm --mode eval

Arguments: "cond" (class-conditional, labels dropped with probability 0.1 during training, so the same
network is also the unconditional model of classifier-free guidance: label ``NULL_LABEL = -1``),
"runlocal", "cond,runlocal".

Hardware: sized for a 2-core CPU: 1500 steps of batch 128 take ~3 minutes on an idle machine (seconds on
any GPU; the unconditional model of the figures ran 3000);
``:runlocal`` takes seconds.

Network: the digits SongUNet of ``digits_ddpm`` (180,193 parameters unconditional and 180,369
class-conditional),
preconditioned as in EDM (c_noise = ln(sigma) / 4), lognormal training sigmas (P_mean -1.2, P_std 1.2).

Expected result: recognisable digits from 18 Heun steps (35 denoiser calls) on the rho = 7 grid;
digits FD a small multiple of the 3.56 floor (README, "Diffusion on the digits").

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1 preconditioning and loss, Algorithm 1 sampler, EMA half-life); Ho & Salimans 2021,
"Classifier-Free Diffusion Guidance" (label dropout).
"""
from experiments.configs import cifar10_ddpmpp, common, digits_ddpm

ARGS = ("cond", "runlocal")


def get_config(arg=None):
    parts = [common.parse_arg(p, ARGS) for p in (arg or "").split(",")]
    c = common.base()
    cond = "cond" in parts
    cifar10_ddpmpp.set_net(c, "song_unet", **digits_ddpm.NET, label_dropout=0.1 if cond else 0.0)
    c.model.predicts = "edm"
    c.schedule.name = "edm"
    c.schedule.kwargs.sigma_min = 0.002
    c.schedule.kwargs.sigma_max = 80.0
    c.schedule.kwargs.sigma_data = 0.5
    c.loss.name = "edm"
    digits_ddpm.digits_training(c)
    c.data.use_labels = cond
    c.ema.half_life_images = 128 * 500.0  # ~500 steps
    c.ema.rampup_ratio = 0.05
    c.sampling.solver = "heun"
    c.sampling.num_steps = 18
    c.sampling.grid = "karras"
    c.sampling.to_zero = True
    if "runlocal" in parts:
        cifar10_ddpmpp.runlocal_net(c)
        c.ema.half_life_images = 64 * 10.0
    return c
