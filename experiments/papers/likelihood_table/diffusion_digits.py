r"""Bits/dim of the trained digits diffusion models on the held-out test digits, by the probability-flow ODE.

The three shared digits models (``digits_edm``, ``digits_ddpm``, ``digits_rf``: EDM, VP-eps and
rectified flow on the same 180k-parameter network) give log p of dequantized test digits through
their probability-flow ODE (``genjax.likelihood.dequantized_bits_per_dim``), in the convention of the
likelihood table's flows: z = -1 + 2 (k + u) / 17 for 17-level pixels k and u ~ U[0, 1)^64, and

    bits/dim = -(log p(z) + 64 log(2 / 17)) / (64 ln 2)      (an upper bound on the discrete bits/dim;
                                                              the uniform model scores log2 17 = 4.09)

with dopri5 at rtol = atol = 1e-3 from t_min to t_max. Two divergence estimators: exact (64 JVPs per
evaluation) on the first 8 test digits, and Hutchinson (one Rademacher probe, unbiased) on the same 8
and on the first 64 test digits (a CPU budget: the exact trace costs 64 network JVPs per evaluation). Each row reports the mean and its standard error over digits.

Writes ``likelihood_table_diffusion_digits.csv`` (model, divergence, num_images, bpd, se, nfe, seconds)
and ``likelihood_table_diffusion_digits.png``; ``likelihood_table/bits_per_dim.py`` adds these rows to
the held-out table beside NICE / RealNVP / Glow / CNF / VAE / NADE / MADE when the CSV is present.

    python -m experiments.papers.likelihood_table.diffusion_digits [--quick]   (--quick: EDM only, 4 digits)

References: Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential Equations"
(Sec. 4.3, Appendix D.2); Grathwohl et al. 2019 (FFJORD, Hutchinson's estimator); Theis et al. 2016.
"""
from __future__ import annotations

import time

import jax
import numpy as np

from experiments.papers.digits import common
from genjax import integrators, likelihood
from genjax.data import digits

MODELS = {"EDM (digits_edm)": "edm", "VP eps / DDPM (digits_ddpm)": "ddpm", "rectified flow (digits_rf)": "rf"}
NUM_EXACT = 8
NUM_HUTCHINSON = 64
TOL = 1e-3


def bpd_of(m, levels, divergence, key, tol):
    t0 = time.perf_counter()
    bpd, logp = likelihood.dequantized_bits_per_dim(m.denoiser(), m.schedule, levels, key, num_levels=17,
                                                    divergence=divergence, stepping=integrators.adaptive(tol, tol))
    bpd = np.asarray(jax.block_until_ready(bpd))
    return bpd, time.perf_counter() - t0


def run(args, log=print):
    levels = np.asarray(digits.load("test")[0], np.int32)
    n_exact = 4 if args.quick else NUM_EXACT
    subsets = {"exact": levels[:n_exact], "hutchinson": levels[:n_exact]}
    if not args.quick:
        subsets[f"hutchinson, {NUM_HUTCHINSON}"] = levels[:NUM_HUTCHINSON]
    tol = 1e-2 if args.quick else TOL
    rows = []
    for label, name in (list(MODELS.items())[:1] if args.quick else MODELS.items()):
        m = common.model(name, args)
        for which, x in subsets.items():
            div = which.split(",")[0]
            bpd, sec = bpd_of(m, x, div, jax.random.key(args.seed), tol)
            ok = np.isfinite(bpd)
            rows.append(dict(model=label, divergence=which, num_images=len(x), bpd=float(np.mean(bpd[ok])),
                             se=float(np.std(bpd[ok]) / np.sqrt(max(ok.sum(), 1))), failed=int((~ok).sum()),
                             seconds=round(sec, 1)))
            log(f"{label:28s} {which:16s} n={len(x):3d}: {rows[-1]['bpd']:.3f} +- {rows[-1]['se']:.3f} bits/dim "
                f"({sec:.0f} s)")
    return rows


def plot(rows, path):
    plt = common.pyplot()

    fig, ax = plt.subplots(figsize=(7, 3.6))
    labels = list(dict.fromkeys(r["model"] for r in rows))
    kinds = list(dict.fromkeys(r["divergence"] for r in rows))
    w = 0.8 / len(kinds)
    for j, kind in enumerate(kinds):
        r = [next(x for x in rows if x["model"] == lab and x["divergence"] == kind) for lab in labels]
        ax.bar(np.arange(len(labels)) + j * w, [x["bpd"] for x in r], w, yerr=[2 * x["se"] for x in r],
               label=f"{kind} (n = {r[0]['num_images']})", capsize=3)
    ax.axhline(np.log2(17), color="k", ls=":", lw=0.8, label="uniform, log2 17")
    ax.set_xticks(np.arange(len(labels)) + 0.4 - w / 2, labels, fontsize=8)
    ax.set_ylabel("test bits/dim (dequantized, 17 levels)")
    ax.legend(fontsize=7)
    ax.set_title("Diffusion models on the digits: probability-flow ODE likelihood (+- 2 s.e.)")
    common.save(fig, path)


def main(argv=None):
    args = common.start(__doc__, argv, num_samples=1000, quick_samples=1000)
    rows = run(args)
    common.finish(args, "likelihood_table_diffusion_digits", rows, lambda png, fl: plot(rows, png), with_floor=False, tol=TOL)


if __name__ == "__main__":
    main()
