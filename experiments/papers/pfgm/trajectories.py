r"""PFGM: trajectories from the large hemisphere down to a 2-D data set (Xu et al. 2022, Fig. 1 style).

Command:
    python -m experiments.papers.pfgm.trajectories --workdir runs/pfgm_traj [--quick]

Part 1, no network: the exact empirical Poisson field of a few hundred swiss-roll points (charges
on z = 0 in R^3) drives the backward ODE dx/d(log z) = z E_x / E_z from prior points on the plane
z = z_max = 40 to z_min = 1e-3 (RK4 in log z, genjax.integrators). Part 2: a field network trained
by the one trainer (``experiments/configs/toy2d_pfgm.py`` on the swiss roll) sampled the same way.
Writes ``pfgm_trajectories.png`` (3-D field lines near the plane; x_1 against z on a log axis; exact-
field samples; network samples) and ``pfgm_trajectories.csv`` (per grid z: the mean distance of the
exact-field particles to their nearest charge; then final MMD^2 of both samplers to fresh data).

References: Xu et al. 2022, "Poisson Flow Generative Models" (NeurIPS 2022), Figure 1 and
Section 3.3 (backward ODE, t = log z).
"""
from __future__ import annotations

import argparse
import csv
import os
import time

import jax
import numpy as np
from scipy.spatial.distance import pdist

from experiments import train
from experiments.configs import toy2d_pfgm
from genjax import metrics, plotting
from genjax.data import toy2d
from genjax.families import pfgm

DATASET = "swissroll"


def nn_distance(x, data):
    return np.min(np.linalg.norm(x[:, None, :] - data[None], axis=-1), axis=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--quick", action="store_true", help="fewer particles, a tiny network run")
    ap.add_argument("--num-charges", type=int, default=300)
    args = ap.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    n = 500 if args.quick else 2000
    z_max, z_min, steps = 40.0, 1e-3, 100
    key = jax.random.key(0)
    data = np.asarray(toy2d.sample(DATASET, args.num_charges, jax.random.fold_in(key, 0)))
    field = pfgm.empirical_field(data)
    x0 = pfgm.prior_sample(n, 2, z_max, jax.random.fold_in(key, 1))
    t0 = time.perf_counter()
    solve = jax.jit(lambda x: pfgm.solve(field, x, z_max=z_max, z_min=z_min, num_steps=steps,
                                         save_trajectory=True))
    x_exact, info = solve(x0)
    traj = np.asarray(info.trajectory)                       # [steps + 1, n, 2]
    zs = np.exp(np.linspace(np.log(z_max), np.log(z_min), steps + 1))
    print(f"exact field: {n} particles, {int(info.nfe)} field evaluations "
          f"({time.perf_counter() - t0:.1f}s)", flush=True)
    rows = [{"z": float(z), "mean_nn_distance_exact": float(np.mean(nn_distance(traj[i], data)))}
            for i, z in enumerate(zs)]

    # --- a trained field network (the one trainer) ---
    cfg = toy2d_pfgm.get_config("runlocal")
    cfg.data.name = DATASET
    cfg.training.checkpoint_every = 10**9
    if args.quick:
        cfg.training.num_steps = 30
    else:
        cfg.training.num_steps = 3000
        cfg.pfgm.hidden = (128, 128, 128)
        cfg.training.batch_size = 512
        cfg.pfgm.small_batch = 128
        cfg.ema.rate = 0.99
        cfg.pfgm.sample_steps = 100
    cfg.training.log_every = max(cfg.training.num_steps // 10, 1)
    res = train.run(cfg, os.path.join(args.workdir, "network"))
    x_net = np.asarray(jax.jit(res.task.sample, static_argnums=1)(res.state.ema_params, n, jax.random.fold_in(key, 2)))
    ref = np.asarray(toy2d.sample(DATASET, 2000, jax.random.fold_in(key, 3)))
    h = float(np.median(pdist(ref[:1024])))
    summary = {"mmd2_exact_field": float(metrics.mmd2(np.asarray(x_exact), ref, bandwidth=h)),
               "mmd2_network": float(metrics.mmd2(x_net, ref, bandwidth=h)),
               "mean_nn_exact": float(np.mean(nn_distance(np.asarray(x_exact), data))),
               "median_nn_exact": float(np.median(nn_distance(np.asarray(x_exact), data))),
               "network_steps": int(cfg.training.num_steps)}
    print(summary, flush=True)

    fig, axes = plotting.new_figure(ncols=4, nrows=1, size=3.0)
    axes[0].remove()
    ax3 = fig.add_subplot(1, 4, 1, projection="3d")
    zcut = 6.0
    for b in range(min(n, 80)):
        keep = (zs <= zcut) & (np.max(np.abs(traj[:, b]), axis=-1) <= 6.0)   # 3-D axes do not clip
        ax3.plot(traj[keep, b, 0], traj[keep, b, 1], zs[keep], lw=0.5, alpha=0.7)
    ax3.scatter(data[:, 0], data[:, 1], 0.0, s=1, c="k")
    ax3.set_zlim(0, zcut)
    ax3.set_xlim(-6, 6)
    ax3.set_ylim(-6, 6)
    ax3.set_title("field lines near z = 0", fontsize=8)
    ax = axes[1]
    for b in range(min(n, 150)):
        ax.plot(traj[:, b, 0], zs, lw=0.4, alpha=0.6)
    ax.set_yscale("log")
    ax.set_xlim(-15, 15)
    ax.set_xlabel("x_1")
    ax.set_ylabel("z")
    ax.set_title(f"x_1 along z = {z_max:g} -> {z_min:g}", fontsize=8)
    for ax, x, name in ((axes[2], np.asarray(x_exact), "exact empirical field"),
                        (axes[3], x_net, f"field network ({cfg.training.num_steps} steps)")):
        ax.scatter(ref[:, 0], ref[:, 1], s=1, c="0.75", linewidths=0)
        ax.scatter(x[:, 0], x[:, 1], s=1, c="tab:purple", linewidths=0)
        ax.set_xlim(-4, 4)
        ax.set_ylim(-4, 4)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=8)
    png = os.path.join(args.workdir, "pfgm_trajectories.png")
    plotting.save(fig, png, dpi=80)
    with open(os.path.join(args.workdir, "pfgm_trajectories.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["z", "mean_nn_distance_exact"])
        w.writerows([[r["z"], r["mean_nn_distance_exact"]] for r in rows])
        w.writerow([])
        w.writerow(list(summary))
        w.writerow(list(summary.values()))
    print("wrote", png)


if __name__ == "__main__":
    main()
