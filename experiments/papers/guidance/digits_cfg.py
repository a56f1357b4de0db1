r"""Classifier-free guidance on the digits: quality / diversity vs the guidance weight w.

The trained class-conditional ``digits_edm:cond`` network (labels dropped with probability 0.1 in
training, so the null label ``-1`` gives the unconditional model; shared with the other digits
figures) is sampled with D_w = (1 + w) D(x, t, y) - w D(x, t, null) (``genjax.guidance.cfg_batched``:
one network pass on the doubled batch per call) by Heun on the Karras rho = 7 grid (18 steps, 35
NFE, to sigma = 0), with class-balanced labels y (num_samples / 10 per digit), for w in
{0, 1, 2, 4, 8}, and w = -1 (the unconditional model alone) as a reference. For each w:

    accuracy    fraction of samples the shipped digits classifier assigns to their label y
    FD          digits FD of all samples against the held-out test digits (quality and diversity)
    FD in class the mean over digits of the FD of class-y samples against the class-y training
                digits (diversity within a class shrinks as w grows)
    score       the digits classifier score exp(E KL(p(y|x) || p(y)))

Writes ``guidance_digits_cfg.png`` (accuracy and FD vs w; sample rows for w = 0, 2, 8) and
``guidance_digits_cfg.csv``.

    python -m experiments.papers.guidance.digits_cfg [--quick] [--num_samples 500]

References: Ho & Salimans 2021, "Classifier-Free Diffusion Guidance" (Fig. 4's trade-off);
Karras et al. 2022 (the sampler).
"""
from __future__ import annotations


import jax
import numpy as np

from experiments.papers.digits import common
from genjax import guidance, metrics, nets, samplers, schedules
from genjax.data import digits
from genjax.metrics import digits as digits_metric

S = schedules.edm()
WEIGHTS = (-1.0, 0.0, 1.0, 2.0, 4.0, 8.0)
NULL = -1


def batched_model(m):
    """model(x [2B], t [2B], label [2B]) -> D (the conditional EDM denoiser with per-row labels)."""
    def model(x, t, label):
        return nets.precond.denoise(m.apply, m.params, S, m.predicts, x, t, label, sigma_data=0.5)
    return model


def class_fd(x, y, labels) -> float:
    """Mean over classes of the FD between class-c samples and class-c training digits."""
    imgs, ys = digits.load("train")
    ref = digits_metric.to_model_space(imgs)
    return float(np.mean([metrics.digits_fd(x[y == c], ref[ys == c]) for c in np.unique(labels)]))


def run(m, args, log=print):
    weights = (-1.0, 0.0, 1.0, 2.0) if args.quick else WEIGHTS
    n = args.num_samples - args.num_samples % 10
    y = np.repeat(np.arange(10, dtype=np.int32), n // 10)
    x0 = float(S.sigma(S.t_max)) * np.asarray(jax.random.normal(jax.random.key(args.seed), (n,) + common.SHAPE))
    ts = schedules.time_grid(S, 18, "karras", to_zero=True)   # --quick too: CFG at 6 steps over-saturates
    model = batched_model(m)
    rows, grids = [], {}
    for w in weights:
        if w < 0:
            den = m.denoiser(S, label=np.full((n,), NULL, np.int32))
        else:
            den = guidance.cfg_batched(model, y, np.full((n,), NULL, np.int32), w)
        x, nfe, sec = common.draw(den, S, samplers.heun(), ts, x0)
        _, logits = digits_metric.features_and_logits(np.clip(x, -1, 1))
        acc = float(np.mean(np.argmax(logits, -1) == y))
        rows.append(dict(w=w, model="unconditional" if w < 0 else "cfg", accuracy=acc, fd=common.fd(x),
                         fd_in_class=class_fd(np.clip(x, -1, 1), y, np.arange(10)), score=metrics.digits_score(x),
                         nfe=nfe, seconds=round(sec, 2)))
        grids[w] = x[:: max(1, n // 10)][:10]
        log(f"w {w:4.1f}: accuracy {acc:.3f} fd {rows[-1]['fd']:.3f} in-class fd {rows[-1]['fd_in_class']:.2f}")
    return rows, grids


def plot(rows, grids, fd_floor, path):
    plt = common.pyplot()

    r = [x for x in rows if x["w"] >= 0]
    u = [x for x in rows if x["w"] < 0]
    shown = [w for w in (0.0, 2.0, 8.0) if w in grids]
    fig = plt.figure(figsize=(13, 4.2))
    gs = fig.add_gridspec(1, 3, width_ratios=(1, 1, 1.4))
    ax1 = fig.add_subplot(gs[0])
    ax1.plot([x["w"] for x in r], [x["accuracy"] for x in r], "o-")
    if u:
        ax1.axhline(u[0]["accuracy"], ls=":", color="gray", label="unconditional (chance 0.1)")
        ax1.legend(fontsize=8)
    ax1.set_xlabel("guidance weight w")
    ax1.set_ylabel("classifier accuracy of the label")
    ax1.grid(alpha=0.3)
    ax2 = fig.add_subplot(gs[1])
    ax2.plot([x["w"] for x in r], [x["fd"] for x in r], "o-", label="FD, all samples")
    ax2.plot([x["w"] for x in r], [x["fd_in_class"] for x in r], "s--", label="FD within a class (mean)")
    if u:
        ax2.axhline(u[0]["fd"], ls=":", color="gray", label="FD, unconditional")
    ax2.axhline(fd_floor, color="k", lw=0.8, ls="-.", label=f"floor: real digits, same n ({fd_floor:.2f})")
    common.decorate(ax2, "guidance weight w", "digits FD", legend_size=7)
    ax3 = fig.add_subplot(gs[2])
    rows_img = [np.concatenate(list(np.clip(grids[w][..., 0], -1, 1)), axis=1) for w in shown]
    ax3.imshow(np.concatenate(rows_img, axis=0), cmap="gray_r", vmin=-1, vmax=1)
    ax3.set_yticks([4 + 8 * i for i in range(len(shown))], [f"w={w:g}" for w in shown])
    ax3.set_xticks([4 + 8 * i for i in range(10)], [str(i) for i in range(10)])
    ax3.set_title("samples, label 0-9")
    common.save(fig, path, "Classifier-free guidance on the digits: accuracy rises, diversity falls")


def main(argv=None):
    args = common.start(__doc__, argv, num_samples=500, quick_samples=200)
    rows, grids = run(common.model("edm_cond", args), args)
    common.finish(args, "guidance_digits_cfg", rows, lambda png, fl: plot(rows, grids, fl, png))


if __name__ == "__main__":
    main()
