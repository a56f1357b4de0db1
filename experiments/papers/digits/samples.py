r"""Samples of every trained digits model beside real digits, each with its nearest training digit.

For each shared digits model (``experiments.papers.digits.models``) with its config's own sampler:

    edm       Heun, 18 steps on the Karras grid (35 NFE)
    edm_cond  the same with the null label (its unconditional model; guidance: guidance/digits_cfg.py)
    ddpm      ancestral, 100 steps + Tweedie denoising
    rf        Heun, 32 steps;   2rf: Euler, 2 steps;   distill: Euler, 1 step

it draws ``num_samples`` digits and reports the digits FD against the held-out test digits, the floor
(the FD of as many real training digits), the classifier score, the FD of the same network at
initialisation (what training must beat) and, to show the models
do not copy the training set, each sample's Euclidean distance to its nearest training digit compared
with the same distance for the real held-out test digits (a model that memorised would sit near 0).

Writes ``digits_samples.png`` (top: real test digits; per model one row of samples and below it each
sample's nearest training digit) and ``digits_samples.csv`` (model, sampler, nfe, fd, fd_untrained,
score, floor, nn_distance_median, test_nn_distance_median).

    python -m experiments.papers.digits.samples [--quick] [--num_samples 500] [--models edm,ddpm]

References: the configs' papers (Karras et al. 2022; Ho et al. 2020; Liu et al. 2023); the
nearest-neighbour check of Ho et al. 2020 (Fig. 10 and its appendix).
"""
from __future__ import annotations


import jax
import numpy as np

from experiments.papers.digits import common, models
from experiments.tasks import diffusion
from genjax import metrics
from genjax.data import digits
from genjax.metrics import digits as digits_metric

SHOW = 10


def nearest(x, train):
    """(index, distance) of the nearest training digit of each x (Euclidean, model space)."""
    a, b = x.reshape(len(x), -1), train.reshape(len(train), -1)
    d2 = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None]
    i = np.argmin(d2, 1)
    return i, np.sqrt(np.maximum(d2[np.arange(len(x)), i], 0.0))


def sample_with_config(m, cfg, n, key, untrained=False):
    s = m.schedule
    mm = m.untrained(jax.random.key(7)) if untrained else m
    ts = diffusion.time_grid(cfg, s)
    x_init = s.prior_sample((n,) + common.SHAPE, key)
    kw = dict(denoise_final=bool(cfg.sampling.denoise_final))
    x, nfe, _ = common.draw(mm.denoiser(), s, diffusion.solver(cfg), ts, x_init, jax.random.fold_in(key, 1), **kw)
    return x, nfe


def run(args, log=print):
    train = digits_metric.to_model_space(digits.load("train")[0])
    test = digits_metric.to_model_space(digits.load("test")[0])
    test_nn = float(np.median(nearest(test, train)[1]))
    rows, shown = [], {}
    for name in (args.models.split(",") if args.models else models.MODELS):
        cfg = models.config(name, args.root, args.quick)
        m = common.model(name, args)
        key = jax.random.key(args.seed)
        x, nfe = sample_with_config(m, cfg, args.num_samples, key)
        x0, _ = sample_with_config(m, cfg, args.num_samples, key, untrained=True)
        idx, dist = nearest(np.clip(x, -1, 1), train)
        rows.append(dict(model=name, sampler=f"{cfg.sampling.solver} x {cfg.sampling.num_steps}", nfe=nfe,
                         fd=common.fd(x), fd_untrained=common.fd(x0), score=float(metrics.digits_score(x)),
                         floor=common.floor(args.num_samples), nn_distance_median=float(np.median(dist)),
                         test_nn_distance_median=test_nn))
        shown[name] = (np.clip(x[:SHOW], -1, 1), train[idx[:SHOW]])
        log(f"{name:9s} fd {rows[-1]['fd']:.3f} (untrained {rows[-1]['fd_untrained']:.1f}) "
            f"score {rows[-1]['score']:.2f} nn {rows[-1]['nn_distance_median']:.2f} (test {test_nn:.2f})")
    return rows, shown, test[:SHOW]


def plot(rows, shown, real, path):
    plt = common.pyplot()

    strip = lambda a: np.concatenate(list(a[..., 0]), axis=1)                # noqa: E731
    blocks, labels = [strip(real), -np.ones((2, 8 * SHOW))], ["real (test)", ""]
    for r in rows:
        x, nn = shown[r["model"]]
        blocks += [strip(x), strip(nn), -np.ones((2, 8 * SHOW))]
        labels += [f"{r['model']}: {r['sampler']}\nFD {r['fd']:.2f}", "nearest train", ""]
    img = np.concatenate(blocks, axis=0)
    fig, ax = plt.subplots(figsize=(8.5, 0.6 * img.shape[0] / 8 + 1))
    ax.imshow(img, cmap="gray_r", vmin=-1, vmax=1)
    ys, y = [], 0
    for b in blocks:
        ys.append(y + b.shape[0] / 2)
        y += b.shape[0]
    ax.set_yticks([v for v, lab in zip(ys, labels) if lab], [lab for lab in labels if lab], fontsize=7)
    ax.set_xticks([])
    ax.set_title("Digits models: samples and their nearest training digits")
    common.save(fig, path)


def main(argv=None):
    args = common.start(__doc__, argv, num_samples=500, quick_samples=128,
                        extra=lambda p: p.add_argument("--models", default="", help="comma-separated subset"))
    rows, shown, real = run(args)
    common.finish(args, "digits_samples", rows, lambda png, fl: plot(rows, shown, real, png))


if __name__ == "__main__":
    main()
