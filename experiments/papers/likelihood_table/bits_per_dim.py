r"""Bits/dim on the held-out 8x8 digits for every likelihood model, in one table.

Command:
    python -m experiments.papers.likelihood_table.bits_per_dim --workdir runs/likelihood_table [--quick]

Trains each experiments/configs/digits_*.py likelihood config with the one trainer (``:runlocal``
networks, ``--steps`` steps; the CNF half as many) and evaluates the digits *test* split (359 images). Two conventions,
NOT comparable with each other:

- dequantized 17-level pixels (NICE, RealNVP, Glow, CNF, VAE, f-VAE): y = (k + u) / 17 on [0, 1);
  bits/dim = (nll(y) + 64 log 17) / (64 ln 2), an upper bound on the discrete bits/dim (the
  uniform model scores log2 17 = 4.09). Flows and the CNF give the exact nll of y (the CNF with
  the exact trace and a finer RK4 grid); VAEs give bounds (ELBO, and IWAE with K samples, tighter).
  Averaged over 4 dequantization draws.
- binarised pixels b = [k > 8] (NADE, MADE, Bernoulli VAE): exact bits/dim of binary data (the
  independent-Bernoulli model fitted to the training marginals is the baseline).

The diffusion models' bits/dim (``likelihood_table/diffusion_digits.py``: probability-flow ODE, same
dequantized convention) are added from ``--diffusion_csv`` (default: the committed
docs/figures/likelihood_table_diffusion_digits.csv) when it exists, in orange.

Writes ``likelihood_table_bits_per_dim.csv`` and ``likelihood_table_bits_per_dim.png`` (two bar panels, one per convention).

References: Dinh et al. 2015 / 2017; Kingma & Dhariwal 2018; Grathwohl et al. 2019; Kingma &
Welling 2014; Burda et al. 2016; Su & Wu 2018; Larochelle & Murray 2011; Germain et al. 2015;
Theis et al. 2016 (dequantization bounds).
"""
from __future__ import annotations

import argparse
import csv
import math
import os

import numpy as np

from experiments.papers.likelihood_table import heldout
from genjax import plotting
from genjax.data import digits
from experiments.papers.outputs import write_csv

# label -> (config, convention, {metric key: bound name}, full-run overrides)
MODELS = {
    "NICE": ("digits_nice", "dequantized", {"flow": "exact"}, {"flow.kwargs.hidden": (256, 256, 256)}),
    "RealNVP": ("digits_realnvp", "dequantized", {"flow": "exact"}, {"flow.kwargs.hidden": 32}),
    "Glow": ("digits_glow", "dequantized", {"flow": "exact"},
             {"flow.kwargs.steps_per_level": 4, "flow.kwargs.hidden": 32}),
    "CNF": ("digits_cnf", "dequantized", {"flow": "exact"}, {"flow.kwargs.hidden": (128, 128)}),  # steps / 2
    "VAE": ("digits_vae", "dequantized", {"elbo": "ELBO", "iwae": "IWAE"}, {"vae.kwargs.hidden": (256,)}),
    "f-VAE": ("digits_fvae", "dequantized", {"elbo": "ELBO", "iwae": "IWAE"}, {"vae.kwargs.hidden": (256,)}),
    "NADE": ("digits_nade", "binarised", {"ar": "exact"}, {"autoregressive.kwargs.hidden": 128}),
    "MADE": ("digits_made", "binarised", {"ar": "exact"}, {"autoregressive.kwargs.hidden": (256,)}),
    "VAE (Bernoulli)": ("digits_vae", "binarised", {"elbo": "ELBO", "iwae": "IWAE"},
                        {"vae.kwargs.hidden": (256,)}),
}


QUICK_MODELS = ("NICE", "VAE", "MADE")   # --quick: one flow, one VAE, one autoregressive model


DIFFUSION_CSV = os.path.join("docs", "figures", "likelihood_table_diffusion_digits.csv")


def diffusion_rows(path: str) -> list:
    """The diffusion models' probability-flow ODE bits/dim (same dequantized convention), if measured."""
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        got = [r for r in csv.DictReader(f) if r["divergence"] in ("exact", "hutchinson, 64")]
    return [{"model": r["model"].split(" (")[0] + " (PF-ODE)", "config": r["model"].split("(")[-1].rstrip(")"),
             "data": "dequantized", "bound": f"{r['divergence']}, {r['num_images']} digits", "steps": -1,
             "train_seconds": 0.0, "test_bits_per_dim": round(float(r["bpd"]), 4)} for r in got]


def bernoulli_baseline() -> float:
    """Test bits/dim of independent Bernoulli pixels with the (smoothed) training marginals."""
    train_b = np.asarray(digits.binarize(digits.load("train")[0]), np.float64).reshape(-1, 64)
    test_b = np.asarray(digits.binarize(digits.load("test")[0]), np.float64).reshape(-1, 64)
    p = (train_b.sum(0) + 0.5) / (len(train_b) + 1.0)
    ll = test_b * np.log(p) + (1 - test_b) * np.log1p(-p)
    return float(-ll.sum(1).mean() / (64 * math.log(2)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--quick", action="store_true", help="tiny runs (a smoke test of the script)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--diffusion_csv", default=DIFFUSION_CSV,
                    help="rows of likelihood_table/diffusion_digits.py to add (skipped when the file is absent)")
    ap.add_argument("--models", default=None, help="comma-separated subset of: " + ", ".join(MODELS)
                    + f" (default all; quick {','.join(QUICK_MODELS)})")
    args = ap.parse_args(argv)
    labels = (args.models or ",".join(QUICK_MODELS if args.quick else MODELS)).split(",")
    unknown = sorted(set(labels) - set(MODELS))
    if unknown:
        raise ValueError(f"--models: unknown {unknown}; choose from {list(MODELS)}")
    os.makedirs(args.workdir, exist_ok=True)
    steps = args.steps or (10 if args.quick else 2000)
    rows = []
    for label in labels:
        name, convention, metrics_used, full = MODELS[label]
        overrides = {} if args.quick else dict(full)
        if label == "VAE (Bernoulli)":
            overrides["vae.kwargs.likelihood"] = "bernoulli"
        if label in ("VAE", "f-VAE", "VAE (Bernoulli)"):
            overrides["vae.eval_iwae_samples"] = 4 if args.quick else 256
        if label == "CNF" and not args.quick:
            overrides["flow.eval_num_steps"] = 16
        n_steps = steps // 2 if label == "CNF" else steps          # a CNF step costs ~10x more
        res, secs, cfg = heldout.train_config(name, os.path.join(args.workdir, label.replace(" ", "_")), n_steps,
                                              overrides)
        m = heldout.heldout_metrics(res.task, res.state.ema_params, heldout.heldout_batch(cfg, res.data),
                                    repeats=1 if (label == "CNF" or args.quick) else 4)
        for key, bound in metrics_used.items():
            if bound == "IWAE":
                bound = f"IWAE-{int(cfg.vae.eval_iwae_samples)}"
            rows.append({"model": label, "config": name, "data": convention, "bound": bound, "steps": n_steps,
                         "train_seconds": round(secs, 1), "test_bits_per_dim": round(m[f"{key}_bits_per_dim"], 4)})
            print(rows[-1], flush=True)
    rows += diffusion_rows(args.diffusion_csv)
    baselines = {"dequantized": ("uniform", math.log2(digits.NUM_LEVELS)),
                 "binarised": ("indep. Bernoulli", bernoulli_baseline())}
    for conv, (lab, value) in baselines.items():
        rows.append({"model": lab, "config": "", "data": conv, "bound": "exact", "steps": 0,
                     "train_seconds": 0.0, "test_bits_per_dim": round(value, 4)})
    write_csv(os.path.join(args.workdir, "likelihood_table_bits_per_dim.csv"), rows)
    fig, axes = plotting.new_figure(ncols=2, nrows=1, size=3.6)
    for ax, conv in zip(axes, ("dequantized", "binarised")):
        sub = [r for r in rows if r["data"] == conv]
        names = [f"{r['model']} ({r['bound']})" if r["bound"] != "exact" else r["model"] for r in sub]
        vals = [r["test_bits_per_dim"] for r in sub]
        ax.barh(range(len(sub)), vals, color=["0.6" if r["steps"] == 0 else "C1" if r["steps"] < 0 else "C0" for r in sub])
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:.3f}", va="center", fontsize=7)
        ax.set_yticks(range(len(sub)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, max(vals) * 1.25)
        ax.set_xlabel("test bits/dim (lower is better)", fontsize=8)
        ax.set_title({"dequantized": "dequantized 17-level pixels", "binarised": "binarised pixels"}[conv], fontsize=9)
    plotting.save(fig, os.path.join(args.workdir, "likelihood_table_bits_per_dim.png"), dpi=90)
    print("wrote", os.path.join(args.workdir, "likelihood_table_bits_per_dim.csv"))


if __name__ == "__main__":
    main()
