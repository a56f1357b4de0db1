r"""Energy landscapes of EBMs trained on 2-D sets, with Langevin samples (Du & Mordatch 2019 style).

Command:
    python -m experiments.papers.ebm.energy_landscapes --workdir runs/ebm_landscapes [--quick]

Each data set is trained by the one trainer from ``experiments/configs/toy2d_ebm.py`` (contrastive
loss + L2 energy regulariser, Langevin negatives with separate step size and noise, a replay
buffer restarting 5 % of the chains from noise); ``--short-run`` trains with short-run chains
from noise instead. Writes ``ebm_energy_landscapes.png`` (top: exp(-E) on a grid; bottom: Langevin
samples from uniform noise over the data) and ``ebm_energy_landscapes.csv`` (data set, variant, steps,
MMD^2 of the Langevin samples to fresh data, modes covered / high-quality rate where defined).

References: Du & Mordatch 2019, "Implicit Generation and Generalization in Energy-Based Models";
Nijkamp et al. 2019, "Learning Non-Convergent Non-Persistent Short-Run MCMC Toward Energy-Based
Model".
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial.distance import pdist

from experiments import train
from experiments.configs import toy2d_ebm
from genjax import metrics, plotting
from experiments.papers.outputs import write_csv

DATASETS = ("8gaussians", "swissroll", "moons")


def make_config(dataset: str, quick: bool, steps, short_run: bool):
    c = toy2d_ebm.get_config("runlocal")
    c.data.name = dataset
    c.training.num_steps = steps or (30 if quick else 3000)
    c.training.checkpoint_every = 10**9
    c.training.log_every = max(c.training.num_steps // 10, 1)
    if not quick:
        c.ebm.hidden = (128, 128, 128)
        c.training.batch_size = 256
        c.ebm.buffer_size = 8192
        c.ebm.num_steps = 40
        c.ebm.sample_steps = 200
        c.ema.rate = 0.99
    if short_run:
        c.ebm.buffer_size = 0
    return c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--quick", action="store_true", help="tiny runs")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--short-run", action="store_true", help="short-run chains instead of a replay buffer")
    args = ap.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    variant = "short-run" if args.short_run else "persistent"
    lim = 4.0
    xs, ys, grid = plotting.grid_points((-lim, lim, -lim, lim), 120)
    fig, axes = plotting.new_figure(ncols=len(DATASETS), nrows=2, size=2.8)
    rows = []
    for j, dataset in enumerate(DATASETS):
        t0 = time.perf_counter()
        cfg = make_config(dataset, args.quick, args.steps, args.short_run)
        res = train.run(cfg, os.path.join(args.workdir, f"{dataset}_{variant}"))
        params = res.state.ema_params
        energy = res.task.extras["energy"](params)
        e = np.asarray(jax.jit(energy)(jnp.asarray(grid))).reshape(len(ys), len(xs))
        key = jax.random.key(3)
        x = np.asarray(jax.jit(res.task.sample, static_argnums=1)(params, 2000, key))
        ref = res.data.reference(2000, jax.random.key(4))
        mmd = float(metrics.mmd2(x, ref, bandwidth=float(np.median(pdist(ref[:1024])))))
        row = {"dataset": dataset, "variant": variant, "steps": int(cfg.training.num_steps), "mmd2": round(mmd, 5)}
        if res.task.evaluate is not None:
            row.update({k: round(float(v), 4) for k, v in res.task.evaluate(params, None, key).items()})
        rows.append(row)
        print(row, f"({time.perf_counter() - t0:.0f}s)", flush=True)
        top, bottom = axes[j], axes[len(DATASETS) + j]
        top.imshow(np.exp(-(e - e.min())), origin="lower", extent=(-lim, lim, -lim, lim), cmap="viridis")
        top.set_title(f"exp(-E): {dataset}", fontsize=8)
        bottom.scatter(ref[:1000, 0], ref[:1000, 1], s=1, c="0.75", linewidths=0)
        bottom.scatter(x[:1000, 0], x[:1000, 1], s=1, c="tab:red", linewidths=0)
        bottom.set_xlim(-lim, lim)
        bottom.set_ylim(-lim, lim)
        bottom.set_aspect("equal")
        bottom.set_title(f"Langevin samples ({int(cfg.ebm.sample_steps)} steps), MMD2 {mmd:.3f}", fontsize=7)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    png = os.path.join(args.workdir, "ebm_energy_landscapes.png")
    plotting.save(fig, png, dpi=80)
    write_csv(os.path.join(args.workdir, "ebm_energy_landscapes.csv"), rows)
    print("wrote", png)


if __name__ == "__main__":
    main()
