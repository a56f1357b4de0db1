r"""WGAN-GP Fig. 1: critic value surfaces with weight clipping (top) vs gradient penalty (bottom).

Command:
    python -m experiments.papers.wgan_gp.fig1_critic_contours --workdir runs/wgan_gp_fig1 [--quick]

As in the paper's toy script, the "generator" is held fixed at the real data plus N(0, I) noise
and only the critic (a 3 x 256 ReLU MLP here; 3 x 512 in the paper) is trained, 2000 steps:

    weight clipping:   E D(fake) - E D(real), every weight clipped to [-0.01, 0.01], RMSProp(5e-5)
    gradient penalty:  E D(fake) - E D(real) + 10 E (||grad D(x_hat)|| - 1)^2, Adam(1e-4, 0.5, 0.9)

(lambda = 10, the paper's value; its toy script's 0.1 lets ||grad D|| drift to ~2.7 on 8 Gaussians
within 2000 steps, a weaker constraint than the figure illustrates; ``--gp-weight`` sets it.)

on 8 Gaussians, 25 Gaussians and the swiss roll (genjax.data.toy2d). Writes
``wgan_gp_fig1_critic_contours.png`` and ``wgan_gp_fig1_critic_contours.csv`` (per panel: the critic's estimate
E D(real) - E D(fake) and the mean / std of ||grad D|| at real-fake interpolates: clipping leaves
the gradient norm far below 1 and the surface nearly affine, the penalty pins it near 1 and the
contours follow the data).

References: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Figure 1 and
gan_toy.py (FIXED_GENERATOR, LAMBDA = .1, CRITIC_ITERS).
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from genjax import plotting
from genjax.data import toy2d
from genjax.families import gan
from genjax.nets.critics import ScalarMLP
from experiments.papers.outputs import write_csv

DATASETS = ("8gaussians", "25gaussians", "swissroll")
METHODS = {"weight clipping": "wgan", "gradient penalty": "wgan_gp"}


def train_critic(dataset: str, kind: str, steps: int, hidden, batch: int, key, gp_weight: float = 10.0):
    """Critic params after ``steps`` updates against fake = real + N(0, I); returns (apply, params)."""
    net = ScalarMLP(hidden=tuple(hidden))
    obj = gan.objectives.wgan(clip=0.01) if kind == "wgan" else gan.objectives.wgan_gp(gp_weight=gp_weight)
    opt = optax.rmsprop(5e-5) if kind == "wgan" else optax.adam(1e-4, b1=0.5, b2=0.9)
    params = obj.project(net.init(key, jnp.zeros((1, 2))))
    state = opt.init(params)

    def one(carry, k):
        params, state = carry
        k_real, k_noise, k_loss = jax.random.split(k, 3)
        real = toy2d.SAMPLERS[dataset](batch, k_real)
        fake = real + jax.random.normal(k_noise, real.shape)
        loss, g = jax.value_and_grad(lambda p: obj.critic_loss(lambda x: net.apply(p, x), real, fake, k_loss))(params)
        upd, state = opt.update(g, state, params)
        return (obj.project(optax.apply_updates(params, upd)), state), loss

    run = jax.jit(lambda p, s, k: jax.lax.scan(one, (p, s), jax.random.split(k, steps)))
    (params, _), losses = run(params, state, jax.random.fold_in(key, 1))
    return net.apply, params, np.asarray(losses)


def diagnostics(apply, params, dataset: str, key, n: int = 4096) -> dict:
    k_real, k_noise, k_mix = jax.random.split(key, 3)
    real = toy2d.SAMPLERS[dataset](n, k_real)
    fake = real + jax.random.normal(k_noise, real.shape)
    u = jax.random.uniform(k_mix, (n, 1))
    x_hat = u * real + (1 - u) * fake
    critic = lambda x: apply(params, x)  # noqa: E731
    norms = jnp.linalg.norm(gan.input_grad(critic, x_hat), axis=-1)
    return {"w_estimate": float(jnp.mean(critic(real)) - jnp.mean(critic(fake))),
            "grad_norm_mean": float(jnp.mean(norms)), "grad_norm_std": float(jnp.std(norms))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--quick", action="store_true", help="tiny run (small critic, few steps)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gp-weight", type=float, default=10.0)
    args = ap.parse_args(argv)
    steps = args.steps or (30 if args.quick else 2000)
    hidden = (64, 64) if args.quick else (256, 256, 256)   # the paper's 512 costs 4x the CPU
    os.makedirs(args.workdir, exist_ok=True)
    key = jax.random.key(args.seed)
    lim = 4.0
    xs, ys, grid = plotting.grid_points((-lim, lim, -lim, lim), 128)
    fig, axes = plotting.new_figure(ncols=len(DATASETS), nrows=len(METHODS), size=3.0)
    rows = []
    for i, (label, kind) in enumerate(METHODS.items()):
        for j, dataset in enumerate(DATASETS):
            t0 = time.perf_counter()
            k = jax.random.fold_in(key, 10 * i + j)
            apply, params, losses = train_critic(dataset, kind, steps, hidden, 256, k, args.gp_weight)
            diag = diagnostics(apply, params, dataset, jax.random.fold_in(k, 2))
            rows.append({"method": label, "dataset": dataset, "steps": steps,
                         "final_critic_loss": float(losses[-100:].mean()), **diag})
            print(f"{label:17s} {dataset:12s} W~{diag['w_estimate']:.3g} |grad D| "
                  f"{diag['grad_norm_mean']:.3g}+-{diag['grad_norm_std']:.3g} ({time.perf_counter() - t0:.1f}s)",
                  flush=True)
            values = np.asarray(apply(params, jnp.asarray(grid))).reshape(len(ys), len(xs))
            data = np.asarray(toy2d.SAMPLERS[dataset](512, jax.random.fold_in(k, 3)))
            ax = axes[i * len(DATASETS) + j]
            ax.contour(xs, ys, values, levels=15, linewidths=0.8)
            ax.scatter(data[:, 0], data[:, 1], s=2, c="tab:orange", marker="+", linewidths=0.5)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label}: {dataset}", fontsize=8)
    png = os.path.join(args.workdir, "wgan_gp_fig1_critic_contours.png")
    plotting.save(fig, png, dpi=80)
    write_csv(os.path.join(args.workdir, "wgan_gp_fig1_critic_contours.csv"), rows)
    print("wrote", png)


if __name__ == "__main__":
    main()
