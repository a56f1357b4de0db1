r"""NICE and Glow samples on the 8x8 digits and a Glow temperature sweep (Glow Fig. 8 style).

Command:
    python -m experiments.papers.glow.digits_samples --workdir runs/glow_digits [--quick]

Trains experiments/configs/digits_nice.py and digits_glow.py (dequantized 17-level pixels, logit
preprocessing) with the one trainer. Figure: a row of test digits, NICE samples at T = 1, and Glow
samples at temperatures T in {0, 0.25, 0.5, 0.7, 0.85, 1} (z ~ N(0, T^2 I), x = f^{-1}(z)), one
row each. Writes ``glow_digits_samples.png`` and ``glow_digits_samples.csv``: per model and temperature the
held-out bits/dim of the model (test split, dequantized) and the model's own bits/dim of its
samples (lower T: samples of higher density).

References: Kingma & Dhariwal 2018, "Glow" (temperature, Fig. 8); Dinh et al. 2015, "NICE".
"""
from __future__ import annotations

import argparse
import os

import jax
import numpy as np

from experiments.papers.likelihood_table import heldout
from genjax import plotting
from genjax.data import digits
from experiments.papers.outputs import write_csv

TEMPERATURES = (0.0, 0.25, 0.5, 0.7, 0.85, 1.0)
MODELS = {  # label -> (config, full-run overrides)
    "NICE": ("digits_nice", {"flow.kwargs.hidden": (256, 256, 256)}),
    "Glow": ("digits_glow", {"flow.kwargs.steps_per_level": 4, "flow.kwargs.hidden": 32}),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--quick", action="store_true", help="tiny runs (a smoke test of the script)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--per-row", type=int, default=12)
    args = ap.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    steps = args.steps or (10 if args.quick else 3000)
    n = args.per_row
    images, _ = digits.load("test")
    rows_img = [2.0 * (images[:n].astype(np.float32) + 0.5) / digits.NUM_LEVELS - 1.0]
    labels, csv_rows = ["test data"], []
    for label, (name, full) in MODELS.items():
        overrides = {} if args.quick else dict(full, **{"training.batch_size": 128})
        res, secs, cfg = heldout.train_config(name, os.path.join(args.workdir, name), steps, overrides)
        flow, space, params = res.task.extras["flow"], res.task.extras["space"], res.state.ema_params
        m = heldout.heldout_metrics(res.task, params, heldout.heldout_batch(cfg, res.data))
        temps = TEMPERATURES if label == "Glow" else (1.0,)
        sample = jax.jit(flow.sample, static_argnums=1)
        log_prob = jax.jit(flow.log_prob)
        for t in temps:
            y = sample(params, 256, jax.random.key(1), t)
            self_bpd = float(np.mean(space.bits_per_dim(-log_prob(params, y))))
            rows_img.append(np.asarray(space.to_data(y[:n])))
            labels.append(f"{label} T={t:g}")
            csv_rows.append({"model": label, "steps": steps, "train_seconds": round(secs, 1), "temperature": t,
                             "heldout_bits_per_dim": round(m["flow_bits_per_dim"], 4),
                             "sample_self_bits_per_dim": round(self_bpd, 4)})
            print(csv_rows[-1], flush=True)
    fig, axes = plotting.new_figure(ncols=1, nrows=len(rows_img), size=1.0)
    fig.set_size_inches(n * 0.6, len(rows_img) * 0.75)
    for ax, imgs, lab in zip(axes, rows_img, labels):
        ax.imshow(plotting.tile_images(imgs, ncols=n)[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_ylabel(lab, rotation=0, ha="right", va="center", fontsize=8)
    plotting.save(fig, os.path.join(args.workdir, "glow_digits_samples.png"), dpi=90)
    write_csv(os.path.join(args.workdir, "glow_digits_samples.csv"), csv_rows)


if __name__ == "__main__":
    main()
