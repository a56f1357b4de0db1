r"""EDM Fig. 4 on the digits: digits FD vs the stochasticity S_churn of EDM's sampler at fixed NFE.

The trained ``digits_edm`` network (shared with the other digits figures) is sampled with EDM's
Algorithm 2 (``samplers.edm_stochastic``: churn, then a Heun step) on the Karras rho = 7 grid ending
at sigma = 0, for S_churn in {0, 1, 2, 4, 8, 16} (S_churn = 0 is deterministic Heun) at two
budgets (18 and 32 steps: 35 and 63 NFE), with S_tmin = 0.05, S_tmax = 50, S_noise = 1 (EDM's
ImageNet-64 bounds; S_noise = 1 keeps the churn a pure Langevin-like exchange). The per-step
gamma = min(S_churn / N, sqrt(2) - 1) saturates at S_churn = (sqrt(2) - 1) N (7.5 for 18 steps, 13.3 for
32): beyond it every step adds the most noise Algorithm 2 allows (dotted lines in the figure). Beside it, at the
same NFE: the reverse SDE by Euler-Maruyama and DDPM's ancestral sampler (beta-tilde variances) on
the same grid with Tweedie's denoising at the last noisy time. All runs share the prior draws and
the noise key.

Writes ``edm_digits_churn.png`` (FD vs S_churn per NFE, the SDE baselines as horizontal lines) and
``edm_digits_churn.csv`` (sampler, s_churn, steps, nfe, fd, seconds).

    python -m experiments.papers.edm.digits_churn [--quick] [--num_samples 1000] [--workdir DIR]

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models"
(Alg. 2, Fig. 4, Table 5); Song et al. 2021 (reverse SDE); Ho et al. 2020 (ancestral sampling).
"""
from __future__ import annotations


import jax
import numpy as np

from experiments.papers.digits import common
from genjax import samplers, schedules

S = schedules.edm()
CHURNS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
STEPS = (18, 32)          # Heun-type: 2N - 1 NFE on a grid ending at sigma = 0


def run(m, args, log=print):
    churns, steps = ((0.0, 40.0), (6,)) if args.quick else (CHURNS, STEPS)
    den = m.denoiser(S)
    x0 = float(S.sigma(S.t_max)) * np.asarray(jax.random.normal(jax.random.key(args.seed),
                                                                 (args.num_samples,) + common.SHAPE))
    key = jax.random.key(args.seed + 1)
    rows = []
    for n in steps:
        ts = schedules.time_grid(S, n, "karras", to_zero=True)
        for churn in churns:
            solver = samplers.edm_stochastic(s_churn=churn, s_tmin=0.05, s_tmax=50.0, s_noise=1.0)
            x, nfe, sec = common.draw(den, S, solver, ts, x0, key)
            rows.append(dict(sampler="edm_stochastic", s_churn=churn, steps=n, nfe=nfe, fd=common.fd(x),
                             seconds=round(sec, 2)))
            log(f"steps {n} churn {churn:5.1f}: nfe {nfe} fd {rows[-1]['fd']:.3f}")
        nfe_target = rows[-1]["nfe"]
        ts_sde = schedules.time_grid(S, nfe_target - 1, "karras")       # + 1 Tweedie call = the same NFE
        for name in ("euler_maruyama", "ancestral"):
            x, nfe, sec = common.draw(den, S, getattr(samplers, name)(), ts_sde, x0, key, denoise_final=True)
            rows.append(dict(sampler=name, s_churn=float("nan"), steps=nfe_target - 1, nfe=nfe, fd=common.fd(x),
                             seconds=round(sec, 2)))
            log(f"{name} nfe {nfe}: fd {rows[-1]['fd']:.3f}")
    return rows


def plot(rows, fd_floor, path):
    plt = common.pyplot()

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    nfes = sorted({r["nfe"] for r in rows if r["sampler"] == "edm_stochastic"})
    for c, nfe in zip(colors, nfes):
        r = [x for x in rows if x["sampler"] == "edm_stochastic" and x["nfe"] == nfe]
        ax.plot([x["s_churn"] for x in r], [x["fd"] for x in r], "o-", color=c, label=f"EDM Alg. 2, NFE {nfe}")
        ax.axvline((2 ** 0.5 - 1) * r[0]["steps"], color=c, ls=":", lw=0.8)   # gamma saturates from here
        for name, ls in (("euler_maruyama", "--"), ("ancestral", ":")):
            b = [x for x in rows if x["sampler"] == name and x["nfe"] == nfe]
            if b and np.isfinite(b[0]["fd"]):
                ax.axhline(b[0]["fd"], color=c, ls=ls, lw=1, label=f"{name}, NFE {nfe}")
    ax.axhline(fd_floor, color="k", lw=0.8, ls="-.", label=f"floor: real digits, same n ({fd_floor:.2f})")
    common.decorate(ax, "S_churn", legend_size=7)
    ax.set_title("Stochastic sampling on the digits (EDM Fig. 4 analogue)")
    common.save(fig, path)


def main(argv=None):
    args = common.start(__doc__, argv, num_samples=1000, quick_samples=128)
    rows = run(common.model("edm", args), args)
    common.finish(args, "edm_digits_churn", rows, lambda png, fl: plot(rows, fl, png))


if __name__ == "__main__":
    main()
