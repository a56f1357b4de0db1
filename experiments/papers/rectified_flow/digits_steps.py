r"""Rectified flow on the digits: digits FD vs Euler steps for 1-RF, 2-RF and the distilled one-step flow.

The three trained models of ``digits_rf`` (shared with the other digits figures):

    1-RF      flow matching on independent (noise, digit) pairs
    2-RF      ReFlow: retrained on 5k couplings (z, ODE_1RF(z)) (RK4, 8 steps), from the 1-RF weights
    distill   the 2-RF distilled for one step: the loss at t = t_max only on the same kind of couplings

are sampled with Euler on a uniform grid from t_max to t_min with N in {1, 2, 4, 8, 16, 32} steps
(N NFE), from the same noise draws. The straightness S (Liu et al. Definition 3.6) of each flow's
paths is measured on a 32-step RK4 solve from 256 of those draws.

Writes ``rectified_flow_digits_steps.png`` (FD vs steps; sample rows at 1, 2 and 8 steps) and
``rectified_flow_digits_steps.csv`` (model, steps, nfe, fd, straightness, seconds).

    python -m experiments.papers.rectified_flow.digits_steps [--quick] [--num_samples 500]

References: Liu, Gong & Liu 2023, "Flow Straight and Fast: Learning to Generate and Transfer Data with
Rectified Flow" (Fig. 5's FID vs steps, Sec. 2.3 distillation, Definition 3.6).
"""
from __future__ import annotations


import jax
import numpy as np

from experiments.papers.digits import common
from genjax import reflow, samplers, schedules

MODELS = {"1-RF": "rf", "2-RF": "2rf", "2-RF + distill": "distill"}
STEPS = (1, 2, 4, 8, 16, 32)
SHOWN = (1, 2, 8)


def run(args, log=print):
    steps = (1, 8) if args.quick else STEPS
    rows, grids = [], {}
    for label, name in MODELS.items():
        m = common.model(name, args)
        s, den = m.schedule, m.denoiser()
        x0 = np.asarray(s.prior_sample((args.num_samples,) + common.SHAPE, jax.random.key(args.seed)))
        ts_ref = schedules.time_grid(s, 8 if args.quick else 32)
        straight = float(reflow.straightness(den, s, samplers.rk4(), ts_ref, x0[:256]).value)
        for n in steps:
            x, nfe, sec = common.draw(den, s, samplers.euler(), schedules.time_grid(s, n), x0)
            rows.append(dict(model=label, steps=n, nfe=nfe, fd=common.fd(x), straightness=straight,
                             seconds=round(sec, 2)))
            if n in SHOWN:
                grids[(label, n)] = x[:10]
            log(f"{label:15s} euler {n:3d}: fd {rows[-1]['fd']:8.3f} (S = {straight:.3g})")
    return rows, grids


def plot(rows, grids, fd_floor, path):
    plt = common.pyplot()

    fig = plt.figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    for label, st in zip(MODELS, ("o-", "s-", "D-")):
        r = [x for x in rows if x["model"] == label]
        ax.plot([x["steps"] for x in r], [x["fd"] for x in r], st, label=f"{label} (S = {r[0]['straightness']:.2e})")
    ax.axhline(fd_floor, color="k", lw=0.8, ls=":", label=f"floor: real digits, same n ({fd_floor:.2f})")
    common.decorate(ax, "Euler steps (NFE)", xlog=2)
    ax2 = fig.add_subplot(1, 2, 2)
    keys = [k for k in grids]
    img = np.concatenate([np.concatenate(list(np.clip(grids[k][..., 0], -1, 1)), axis=1) for k in keys], axis=0)
    ax2.imshow(img, cmap="gray_r", vmin=-1, vmax=1)
    ax2.set_yticks([4 + 8 * i for i in range(len(keys))], [f"{k[0]}, {k[1]} step{'s' if k[1] > 1 else ''}"
                                                          for k in keys], fontsize=7)
    ax2.set_xticks([])
    ax2.set_title("Euler samples from the same noise")
    common.save(fig, path, "Rectified flow on the digits: ReFlow straightens, distillation samples in one step")


def main(argv=None):
    args = common.start(__doc__, argv, num_samples=500, quick_samples=128)
    rows, grids = run(args)
    common.finish(args, "rectified_flow_digits_steps", rows, lambda png, fl: plot(rows, grids, fl, png))


if __name__ == "__main__":
    main()
