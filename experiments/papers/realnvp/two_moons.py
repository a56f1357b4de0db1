r"""RealNVP on two moons: data -> latent and latent -> data (RealNVP Fig. 1 style).

Command:
    python -m experiments.papers.realnvp.two_moons --workdir runs/realnvp_moons [--quick]

Trains experiments/configs/toy2d_realnvp.py with the one trainer, then draws the four panels of
Dinh et al.'s Fig. 1: held-out data x ~ p_data and its latent z = f(x) (inference, coloured by
the x-coordinate of the data), and z ~ N(0, I) with x = f^{-1}(z) (generation, coloured by the
angle of z). Writes ``realnvp_two_moons.png`` and ``realnvp_two_moons.csv`` (steps, train seconds, held-out nll /
bits/dim, and the mean and covariance eigenvalues of f(x) on held-out data, which a perfect fit
maps to 0 and 1).

References: Dinh et al. 2017, "Density estimation using Real NVP", Fig. 1.
"""
from __future__ import annotations

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments.papers.likelihood_table import heldout
from genjax import plotting
from experiments.papers.outputs import write_csv


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--quick", action="store_true", help="tiny run (a smoke test of the script)")
    ap.add_argument("--steps", type=int, default=None)
    args = ap.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    steps = args.steps or (30 if args.quick else 4000)
    overrides = {"training.batch_size": 256}
    if not args.quick:
        overrides.update({"flow.kwargs.num_couplings": 8, "flow.kwargs.hidden": (128, 128)})
    res, secs, cfg = heldout.train_config("toy2d_realnvp", os.path.join(args.workdir, "run"), steps, overrides)
    flow, params = res.task.extras["flow"], res.state.ema_params
    x = jnp.asarray(res.data.reference(2000, jax.random.key(11)))
    z = np.asarray(jax.jit(flow.forward)(params, x)[0])
    z_gen = np.asarray(jax.random.normal(jax.random.key(12), (2000, 2)))
    x_gen = np.asarray(jax.jit(flow.inverse)(params, jnp.asarray(z_gen))[0])
    m = heldout.heldout_metrics(res.task, params, heldout.heldout_batch(cfg, res.data), repeats=1)

    fig, axes = plotting.new_figure(ncols=2, nrows=2, size=3.0)
    c_inf = np.asarray(x)[:, 0]
    c_gen = np.arctan2(z_gen[:, 1], z_gen[:, 0])
    panels = [(np.asarray(x), c_inf, r"Inference: $x \sim \hat p_X$"), (z, c_inf, r"$z = f(x)$"),
              (z_gen, c_gen, r"Generation: $z \sim p_Z$"), (x_gen, c_gen, r"$x = f^{-1}(z)$")]
    for ax, (pts, col, title) in zip(axes, panels):
        ax.scatter(pts[:, 0], pts[:, 1], c=col, s=2, cmap="twilight" if col is c_gen else "viridis")
        ax.set_title(title, fontsize=9)
        ax.set_xlim(-4, 4), ax.set_ylim(-4, 4)
        ax.set_aspect("equal")
    plotting.save(fig, os.path.join(args.workdir, "realnvp_two_moons.png"), dpi=90)
    eig = np.linalg.eigvalsh(np.cov(z.T))
    row = {"steps": steps, "train_seconds": round(secs, 1), "heldout_nll": round(m["flow_nll"], 4),
           "heldout_bits_per_dim": round(m["flow_bits_per_dim"], 4),
           "latent_mean_norm": round(float(np.linalg.norm(z.mean(0))), 4),
           "latent_cov_eig_min": round(float(eig[0]), 4), "latent_cov_eig_max": round(float(eig[1]), 4)}
    write_csv(os.path.join(args.workdir, "realnvp_two_moons.csv"), [row])
    print(row)


if __name__ == "__main__":
    main()
