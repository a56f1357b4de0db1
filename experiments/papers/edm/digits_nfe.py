r"""EDM Fig. 2 on the digits: sample quality (digits FD) vs NFE for every ODE sampler on three grids.

One trained EDM-preconditioned network (``digits_edm``, shared with the other digits figures) is
sampled through the probability-flow ODE of three setups, as in Karras et al. 2022, Fig. 2:

    VP   schedule vp_linear (beta 0.1 -> 20), uniform t from 1 to 1e-3, Tweedie denoising at the end
    VE   schedule ve (sigma 0.01 -> 50), uniform t (geometric sigma), Tweedie denoising at the end
    EDM  schedule edm (sigma(t) = t), Karras rho = 7 grid from 80 to 0.002, then sigma = 0

The network is the same in all three: an EDM denoiser runs on any schedule as
D(x_t, t) = D_edm(x_t / alpha(t), sigma(t) / alpha(t)) (``genjax.nets.denoiser_from(..., "edm")``).
Samplers: Euler, Heun (EDM Alg. 1), RK4, DDIM (eta = 0), DPM-Solver++ 2M, each at a target NFE of
4 ... 64 (4, 16, 64 for VP and VE, and on VE only Euler, Heun and DPM-Solver++: with alpha = 1 DDIM
is Euler in sigma; steps = target / calls per step; the x axis is the exact ``info.nfe``), and adaptive
Dormand-Prince 5(4) at several tolerances. Every run starts from the same prior draws (common random
numbers), so differences between samplers are not sampling noise of the initial states.

Writes ``edm_digits_nfe.png`` (one panel per setup, FD vs NFE, log-log, with the floor: the FD of as
many real digits; FD here is always against the held-out test digits, ``digits.common.fd``) and
``edm_digits_nfe.csv`` (setup, sampler, steps, nfe, fd, seconds).

    python -m experiments.papers.edm.digits_nfe [--quick] [--num_samples 512] [--workdir DIR]

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models"
(Fig. 2, Alg. 1); Lu et al. 2022, "DPM-Solver++"; Song et al. 2021 (VP / VE SDEs, DDIM).
"""
from __future__ import annotations

import time

import jax
import numpy as np

from experiments.papers.digits import common
from genjax import samplers, schedules

SETUPS = {"EDM": (schedules.edm(), "karras", True), "VP": (schedules.vp_linear(), "uniform", False),
          "VE": (schedules.ve(), "uniform", False)}
SOLVERS = {"euler": (samplers.euler, 1), "heun": (samplers.heun, 2), "rk4": (samplers.rk4, 4),
           "ddim": (samplers.ddim, 1), "dpm_solver_pp": (samplers.dpm_solver_pp, 1)}
NAME = "edm_digits_nfe"
NFES = (4, 8, 16, 32, 64)
VP_VE_NFES = (4, 16, 64)       # the VP / VE setups at fewer points (each point is one more compile on CPU)
VE_SOLVERS = ("euler", "heun", "dpm_solver_pp")   # on VE, DDIM is Euler in sigma and RK4 adds nothing new
TOLS = (1e-2, 1e-3)


def steps_for(nfe: int, per_step: int, to_zero: bool) -> int:
    """Steps whose NFE is closest to ``nfe`` (Heun's last step to sigma = 0 is an Euler step)."""
    return max(2 if to_zero else 1, round((nfe + (1 if per_step == 2 and to_zero else 0)) / per_step))


def plan(setup: str, quick: bool):
    """(sampler, target NFE) pairs of one setup; --quick: every sampler at 16 NFE and Euler / Heun at 32 on
    the EDM setup (the comparisons the tests check) and Euler at 4 NFE on VP / VE (their code paths)."""
    if quick:
        return [(name, 16) for name in SOLVERS] + [("euler", 32), ("heun", 32)] if setup == "EDM" else [("euler", 4)]
    names = VE_SOLVERS if setup == "VE" else tuple(SOLVERS)
    return [(name, t) for name in names for t in (NFES if setup == "EDM" else VP_VE_NFES)]


def run(m, args, log=print):
    x_init = np.asarray(jax.random.normal(jax.random.key(args.seed), (args.num_samples,) + common.SHAPE))
    rows = []
    for setup, (s, kind, to_zero) in SETUPS.items():
        den = m.denoiser(s)
        x0 = x_init * float(s.sigma(s.t_max))              # N(0, sigma(t_max)^2 I): the prior of s
        for name, target in plan(setup, args.quick):
            make, per_step = SOLVERS[name]
            n = steps_for(target, per_step, to_zero)
            if any(r["setup"] == setup and r["sampler"] == name and r["steps"] == n for r in rows):
                continue                                        # e.g. RK4: targets 4 and 8 are both 2 steps
            ts = schedules.time_grid(s, n, kind, to_zero=to_zero)
            x, nfe, sec = common.draw(den, s, make(), ts, x0, denoise_final=not to_zero)
            rows.append(dict(setup=setup, sampler=name, steps=n, nfe=nfe, fd=common.fd(x), seconds=round(sec, 2)))
            log(f"{setup:4s} {name:14s} steps {n:4d} nfe {nfe:4d} fd {rows[-1]['fd']:8.3f} ({sec:.1f} s)")
            common.write_csv(common.partial_csv(args, NAME), rows)    # a long run keeps what it has
        for tol in ((1e-1,) if setup == "EDM" else ()) if args.quick else TOLS:
            t0 = time.perf_counter()
            x, info = samplers.sample_adaptive(den, s, x0, rtol=tol, atol=tol, denoise_final=not to_zero)
            x = np.asarray(jax.block_until_ready(x))
            ok = bool(info.converged)
            rows.append(dict(setup=setup, sampler="dopri5", steps=int(info.num_steps), nfe=int(info.nfe),
                             fd=common.fd(x) if ok else float("inf"), seconds=round(time.perf_counter() - t0, 2)))
            log(f"{setup:4s} dopri5 tol {tol:g}: nfe {rows[-1]['nfe']} fd {rows[-1]['fd']:.3f}")
    return rows


def plot(rows, fd_floor, path):
    plt = common.pyplot()

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    styles = {"euler": ("o-", "C0"), "heun": ("s-", "C1"), "rk4": ("^-", "C2"), "ddim": ("v--", "C3"),
              "dpm_solver_pp": ("D-", "C4"), "dopri5": ("x:", "C5")}     # one colour per sampler in every panel
    for ax, setup in zip(axes, SETUPS):
        for name, (st, color) in styles.items():
            r = [x for x in rows if x["setup"] == setup and x["sampler"] == name and np.isfinite(x["fd"])]
            if r:
                ax.plot([x["nfe"] for x in r], [x["fd"] for x in r], st, color=color, ms=4, label=name)
        ax.axhline(fd_floor, color="k", lw=0.8, ls=":", label=f"floor: real digits, same n ({fd_floor:.2f})")
        common.decorate(ax, "NFE (denoiser calls)", "digits FD (lower is better)" if ax is axes[0] else "", xlog=2,
                        legend=ax is axes[0])
        ax.set_title(f"{setup} setup")
    common.save(fig, path, "Digits FD vs NFE on one trained EDM network (EDM Fig. 2 analogue)")


def main(argv=None):
    args = common.start(__doc__, argv, num_samples=512, quick_samples=128)
    rows = run(common.model("edm", args), args)
    common.finish(args, NAME, rows, lambda png, fl: plot(rows, fl, png))


if __name__ == "__main__":
    main()
