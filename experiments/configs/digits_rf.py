r"""Rectified flow on the bundled 8x8 digits: 1-RF, 2-RF (ReFlow) and the one-step distilled flow.

Command:
    python -m experiments.train --config experiments/configs/digits_rf.py --workdir runs/digits_rf
    python -m experiments.train --config experiments/configs/digits_rf.py:reflow --workdir runs/digits_2rf \
        --config.reflow.teacher_workdir=$PWD/runs/digits_rf
    python -m experiments.train --config experiments/configs/digits_rf.py:distill --workdir runs/digits_distill \
        --config.reflow.teacher_workdir=$PWD/runs/digits_2rf

Arguments: "" (1-rectified flow: flow matching, straight interpolation x_t = (1 - t) x_0 + t z), "reflow"
(2-rectified flow: trained on 5k couplings (z, ODE_1RF(z)) drawn once with RK4, 8 steps, initialised
from the teacher), "distill" (one-step distillation of the 2-RF: the loss at t = t_max only, sampled with
one Euler step), each optionally with ",runlocal". The teacher of "reflow" is the "" config, that of
"distill" the "reflow" config; ``config.reflow.teacher_workdir`` ("" = <workdir>/teacher) is trained
there first if it has no finished run.

Hardware: sized for a 2-core CPU: 1500 steps (1-RF), 600 (2-RF) and 600 (distill) of batch 128, about
3 + 1 + 1 minutes on an idle machine plus the couplings (seconds on any GPU); ``:runlocal`` takes seconds.

Network: the digits SongUNet of ``digits_ddpm`` (180,193 parameters) predicting the velocity, time label
999 t.

Expected result: 1-RF digits need tens of Euler steps; the 2-RF gives digits in a few and the distilled
flow in one (README, "Diffusion on the digits", rectified-flow figure).

References: Liu, Gong & Liu 2023, "Flow Straight and Fast: Learning to Generate and Transfer Data with
Rectified Flow" (Sec. 2.3, Algorithm 1); Lipman et al. 2023, "Flow Matching for Generative Modeling".
"""
import ml_collections

from experiments.configs import cifar10_ddpmpp, common, digits_ddpm

ARGS = ("reflow", "distill", "runlocal")


def get_config(arg=None):
    parts = [common.parse_arg(p, ARGS) for p in (arg or "").split(",")]
    local = ",runlocal" if "runlocal" in parts else ""
    c = common.base()
    cifar10_ddpmpp.set_net(c, "song_unet", **digits_ddpm.NET, noise_scale=999.0)
    c.model.predicts = "velocity"
    c.schedule.name = "rectified"
    c.loss.name = "flow_matching"
    digits_ddpm.digits_training(c)
    c.sampling.solver = "heun"
    c.sampling.num_steps = 32
    stage = "distill" if "distill" in parts else "reflow" if "reflow" in parts else ""
    if stage:
        c.loss.name = stage
        c.training.num_steps = 600
        c.optim.warmup_steps = 0
        c.optim.lr = 2e-4
        c.sampling.solver = "euler"
        c.sampling.num_steps = 1 if stage == "distill" else 2
        c.eval.straightness = stage == "reflow"
        c.reflow = ml_collections.ConfigDict()
        c.reflow.teacher = get_config(("reflow" if stage == "distill" else "") + local)
        c.reflow.teacher_workdir = ""        # "" = <workdir>/teacher
        c.reflow.num_pairs = 5000
        c.reflow.solver = "rk4"
        c.reflow.num_steps = 8
        c.reflow.init_from_teacher = True
    if "runlocal" in parts:
        cifar10_ddpmpp.runlocal_net(c)
        if stage:
            c.training.num_steps = 20
            c.reflow.num_pairs = 256
            c.reflow.num_steps = 4
    return c
