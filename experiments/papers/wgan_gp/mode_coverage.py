r"""Mode coverage and high-quality-sample rate on 8 and 25 Gaussians: GAN, WGAN-GP, the zero-centred
ReFlow critic and MonoFlow, each trained by the one trainer (experiments.train.run).

Command:
    python -m experiments.papers.wgan_gp.mode_coverage --workdir runs/gan_modes [--quick]

Every run starts from ``experiments/configs/toy2d_wgan_gp.py`` with ``gan.kind`` (and its
n_critic / particle matching) overridden: GAN is the non-saturating GAN (1 critic step), WGAN-GP and
the ReFlow critic take 5 critic steps, MonoFlow (h = logit) takes 5 generator steps per
discriminator step on the loss -E h(d(G(z))), "MonoFlow particles" regresses the generator 5 times
onto particles moved by 0.2 grad h(d(x)) (the toy2d_monoflow config), "(capped)" with each particle's
move clipped to length 0.05 (about 3 std of a 25-Gaussians mode); the runs live in ``WORKDIR/<method>_<dataset>`` (a
re-run resumes them). Writes ``wgan_gp_mode_coverage.png`` (samples of each run, titled with its
statistics) and ``wgan_gp_mode_coverage.csv`` (method, dataset, steps, modes covered of K, high-quality
rate, MMD^2 to fresh data). A sample is high quality within 3 standard deviations of its nearest
mode; a mode is covered with >= 20 % of its fair share of high-quality samples
(genjax.families.mode_coverage, PacGAN's rule).

Cost: twelve 3000-step runs, ~8 min of CPU in all (``--steps`` to shorten); ``--quick``: WGAN-GP only, 30
steps.

References: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs"; Lin et al. 2018,
"PacGAN"; Yi et al. 2023, "MonoFlow"; Liu et al. 2023, "Flow Straight and Fast" (the ReFlow critic).
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np
from scipy.spatial.distance import pdist

from experiments import train
from experiments.configs import toy2d_wgan_gp
from genjax import metrics, plotting
from experiments.papers.outputs import write_csv

METHODS = {
    "GAN": {"gan.kind": "non_saturating", "gan.n_critic": 1},
    "WGAN-GP": {"gan.kind": "wgan_gp", "gan.n_critic": 5},
    "ReFlow critic": {"gan.kind": "reflow_critic", "gan.n_critic": 5},
    "MonoFlow": {"gan.kind": "monoflow", "gan.n_critic": 1, "gan.n_gen": 5, "gan.h": "logit"},
    "MonoFlow particles": {"gan.kind": "monoflow", "gan.n_critic": 1, "gan.n_gen": 5, "gan.h": "logit",
                           "gan.particle_step_size": 0.2},
    "MonoFlow particles (capped)": {"gan.kind": "monoflow", "gan.n_critic": 1, "gan.n_gen": 5, "gan.h": "logit",
                                    "gan.particle_step_size": 0.2, "gan.particle_max_step": 0.05},
}
DATASETS = ("8gaussians", "25gaussians")
# Panel titles: the README table's names for the runs (the METHODS keys stay the --methods names).
TITLES = {"GAN": "GAN (non-saturating)", "WGAN-GP": "WGAN-GP", "ReFlow critic": "ReFlow critic",
          "MonoFlow": "MonoFlow (loss form, h = logit)", "MonoFlow particles": "MonoFlow particles (eta 0.2)",
          "MonoFlow particles (capped)": "MonoFlow particles, move cap 0.05"}
DATASET_TITLES = {"8gaussians": "8 Gaussians", "25gaussians": "25 Gaussians"}


def make_config(method: str, dataset: str, quick: bool, steps: int | None):
    c = toy2d_wgan_gp.get_config("runlocal")
    c.data.name = dataset
    for dotted, value in METHODS[method].items():
        section, name = dotted.split(".")
        c[section][name] = value
    per_step = 64 if quick else 256
    c.training.batch_size = per_step * c.gan.n_critic
    c.training.num_steps = steps or (30 if quick else 3000)
    c.training.checkpoint_every = 10**9
    c.training.log_every = max(c.training.num_steps // 10, 1)
    if not quick:
        c.gan.gen_hidden = (128, 128, 128)
        c.gan.critic_hidden = (128, 128, 128)
        c.optim.lr = 1e-3
        c.ema.rate = 0.99
    c.eval.num_samples = 2500
    return c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--quick", action="store_true", help="tiny runs (WGAN-GP only, 30 steps, small MLPs)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--methods", default=None, help="comma-separated subset of the methods (default all; "
                    "quick WGAN-GP)")
    args = ap.parse_args(argv)
    methods = [m for m in (args.methods or ("WGAN-GP" if args.quick else ",".join(METHODS))).split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"--methods: unknown {unknown}; choose from {list(METHODS)}")
    os.makedirs(args.workdir, exist_ok=True)
    rows = []
    fig, axes = plotting.new_figure(ncols=len(methods), nrows=len(DATASETS), size=2.6)
    for j, dataset in enumerate(DATASETS):
        for i, method in enumerate(methods):
            t0 = time.perf_counter()
            cfg = make_config(method, dataset, args.quick, args.steps)
            run_dir = os.path.join(args.workdir, f"{method.replace(' ', '_')}_{dataset}")
            res = train.run(cfg, run_dir)
            key = jax.random.key(1)
            x = np.asarray(jax.jit(res.task.sample, static_argnums=1)(res.state.ema_params, 2500, key))
            stats = {k: float(v) for k, v in res.task.evaluate(res.state.ema_params, None, key).items()}
            ref = res.data.reference(2500, jax.random.key(2))
            mmd = float(metrics.mmd2(x, ref, bandwidth=float(np.median(pdist(ref[:1024])))))
            k_modes = 8 if dataset == "8gaussians" else 25
            rows.append({"method": method, "dataset": dataset, "steps": int(cfg.training.num_steps),
                         "modes_covered": int(stats["modes_covered"]), "num_modes": k_modes,
                         "hq_rate": round(stats["hq_rate"], 4), "mmd2": round(mmd, 5)})
            print(f"{method:14s} {dataset:12s} modes {int(stats['modes_covered'])}/{k_modes} "
                  f"hq {stats['hq_rate']:.3f} mmd2 {mmd:.4f} ({time.perf_counter() - t0:.0f}s)", flush=True)
            ax = axes[j * len(methods) + i]
            ax.scatter(ref[:1000, 0], ref[:1000, 1], s=1, c="0.75", linewidths=0)
            ax.scatter(x[:1000, 0], x[:1000, 1], s=1, c="tab:blue", linewidths=0)
            lim = 3.6 if dataset == "8gaussians" else 2.2
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{TITLES[method]}, {DATASET_TITLES[dataset]}\nmodes covered {int(stats['modes_covered'])}"
                         f"/{k_modes}, high-quality rate {stats['hq_rate']:.2f}", fontsize=8)
    png = os.path.join(args.workdir, "wgan_gp_mode_coverage.png")
    plotting.save(fig, png, dpi=100)
    write_csv(os.path.join(args.workdir, "wgan_gp_mode_coverage.csv"), rows)
    print("wrote", png)


if __name__ == "__main__":
    main()
