"""``make demo``: what genjax does, end to end, in a few minutes on 2 CPU cores.

    python -m experiments.demo --workdir runs/demo [--steps 1500]

1. trains a flow-matching MLP on the 2-D checkerboard with the one trainer (experiments/train.py),
2. samples it with several solvers at a few step counts (sample MMD to fresh data),
3. on a 2-D Gaussian mixture with the *exact* denoiser, measures each solver's error against a
   fine-step reference of the probability-flow ODE (only solver error remains),
4. evaluates a GRU over T = 1000 steps with DEER (Newton + associative scan) against ``lax.scan``,
5. runs a sampler as a parallel-in-time fixed point (Picard sweeps) against its sequential loop,
then prints one table and writes figures under --workdir.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np


def _timed(fn, *args):
    """(result, seconds) of fn(*args) after one warm-up call (compile time excluded)."""
    jax.block_until_ready(fn(*args))
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t0


def train_flow(workdir: str, steps: int):
    """Section 1: flow matching on the checkerboard through the one trainer."""
    from experiments.configs import toy2d_flow_matching
    from experiments.train import run

    config = toy2d_flow_matching.get_config("runlocal")
    config.training.num_steps = steps
    config.training.checkpoint_every = steps
    config.training.log_every = max(steps // 5, 1)
    config.training.sample_every = 0
    config.training.batch_size = 512
    config.model.net_kwargs.features = (256, 256, 256)
    config.model.net_kwargs.embed_dim = 64
    config.optim.lr = 2e-3
    config.optim.warmup_steps = 100
    config.ema.rate = 0.995
    return run(config, os.path.join(workdir, "flow_matching"))


def solver_table(result, workdir: str, key):
    """Section 2: the trained model sampled by several solvers; MMD^2 to fresh data."""
    from genjax import metrics, plotting, samplers, schedules
    from genjax.data import toy2d

    s = result.task.extras["schedule"]
    denoiser = result.task.extras["denoiser"](result.state.ema_params)  # a Partial: params are traced leaves
    data = toy2d.sample("checkerboard", 2000, jax.random.fold_in(key, 0))
    x_init = s.prior_sample((2000, 2), jax.random.fold_in(key, 1))
    rows, pictures = [], {"data": np.asarray(data)}
    for name in ("euler", "heun", "dpm_solver_pp", "rk4"):
        for steps in (4, 16):
            solver = getattr(samplers, name)()
            ts = schedules.time_grid(s, steps, "uniform")
            (x, info) = samplers.sample(denoiser, s, solver, ts, x_init, jax.random.fold_in(key, 2))
            mmd = float(metrics.mmd2(x, data))
            rows.append({"section": "trained flow", "method": f"{name} x{steps}", "nfe": int(info.nfe),
                         "metric": "MMD^2 to data", "value": mmd})
            if steps == 16:
                pictures[f"{name}, NFE {int(info.nfe)}"] = np.asarray(x)
    plotting.scatter(pictures, os.path.join(workdir, "trained_flow_samples.png"))
    return rows


def exact_mixture_errors(workdir: str, key):
    """Section 3: solver error alone, with the exact denoiser of a Gaussian mixture."""
    from genjax import plotting, samplers, schedules
    from genjax.data import mixture

    gm = mixture.eight_gaussians_mixture()
    s = schedules.edm()
    den = gm.denoiser(s)
    x_init = s.prior_sample((512, 2), key)
    ref, _ = samplers.sample(den, s, samplers.rk4(), schedules.time_grid(s, 400, "karras"), x_init)
    rows = []
    for name, steps in (("euler", 10), ("euler", 40), ("heun", 5), ("heun", 10), ("dpm_solver_pp", 10),
                        ("dpm_solver_pp", 20)):
        x, info = samplers.sample(den, s, getattr(samplers, name)(), schedules.time_grid(s, steps, "karras"), x_init)
        err = float(jnp.mean(jnp.linalg.norm(x - ref, axis=-1)))
        rows.append({"section": "exact mixture (EDM, Karras)", "method": f"{name} x{steps}", "nfe": int(info.nfe),
                     "metric": "mean |x - x_ref|", "value": err})
    traj = samplers.sample(den, s, samplers.heun(), schedules.time_grid(s, 18, "karras"), x_init[:200],
                           save_trajectory=True)[1].trajectory
    scaled = np.asarray(traj) / np.asarray(schedules.time_grid(s, 18, "karras")[:, None, None] ** 2 + 1) ** 0.5
    plotting.trajectories(scaled, os.path.join(workdir, "mixture_heun_trajectories.png"))
    return rows


def deer_vs_sequential(key, T: int = 1000, n: int = 8):
    """Section 4: a GRU over T steps, DEER (Newton) against lax.scan."""
    from genjax import fixedpoint

    cell = fixedpoint.cells.gru
    params = cell.init(4, n, jax.random.fold_in(key, 0))
    xs = jax.random.normal(jax.random.fold_in(key, 1), (T, 4))
    h0 = jnp.zeros((n,))
    seq = jax.jit(lambda xs: fixedpoint.sequential_scan(cell.step, h0, xs, params))
    rows = []
    ref, t_seq = _timed(seq, xs)
    rows.append({"section": f"GRU n={n}, T={T}", "method": "lax.scan", "nfe": T, "metric": "seconds",
                 "value": t_seq})
    for name, method in (("newton (DEER)", fixedpoint.newton()), ("quasi-newton", fixedpoint.quasi_newton(cell.diagonal))):
        fn = jax.jit(lambda xs, m=method: fixedpoint.solve(cell.step, h0, xs, params, method=m))
        (hs, info), t = _timed(fn, xs)
        err = float(jnp.max(jnp.abs(hs - ref)))
        rows.append({"section": f"GRU n={n}, T={T}", "method": name, "nfe": int(info.num_iters),
                     "metric": f"max|h-h_seq| (converged={bool(info.converged)}), s", "value": f"{err:.1e}, {t:.4f}"})
    return rows


def parallel_sampling(key):
    """Section 5: DDIM as a fixed point over its time grid (Picard sweeps) vs the sequential loop."""
    from genjax import fixedpoint, samplers, schedules
    from genjax.data import mixture

    if "parallel" not in samplers.sample.__code__.co_varnames:
        return []
    gm = mixture.eight_gaussians_mixture()
    s = schedules.vp_linear()
    den = gm.denoiser(s)
    ts = schedules.time_grid(s, 100, "uniform")
    x_init = s.prior_sample((256, 2), key)
    seq, _ = samplers.sample(den, s, samplers.ddim(), ts, x_init)
    rows = []
    for window in (8, 32):
        x, info = samplers.sample_parallel(den, s, samplers.ddim(), ts, x_init, method=fixedpoint.picard(),
                                           window=window, tol=1e-3)
        rows.append({"section": "DDIM x100 as a fixed point", "method": f"picard window {window}",
                     "nfe": int(info.nfe), "metric": f"sweeps={int(info.num_iters)}, max|x-x_seq|",
                     "value": float(jnp.max(jnp.abs(x - seq)))})
    return rows


def _print_table(rows):
    header = ("section", "method", "nfe", "metric", "value")
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    table = [header] + [tuple(fmt(r[h]) for h in header) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for j, r in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="runs/demo")
    parser.add_argument("--steps", type=int, default=4000, help="training steps of the flow-matching model")
    args = parser.parse_args(argv)
    workdir = os.path.abspath(args.workdir)
    os.makedirs(workdir, exist_ok=True)
    key = jax.random.key(0)
    t0 = time.time()
    rows = []
    print(f"[demo] 1/5 training flow matching on the checkerboard ({args.steps} steps) ...", flush=True)
    result = train_flow(workdir, args.steps)
    print("[demo] 2/5 sampling the trained flow with several solvers ...", flush=True)
    rows += solver_table(result, workdir, jax.random.fold_in(key, 1))
    print("[demo] 3/5 solver error with the exact mixture denoiser ...", flush=True)
    rows += exact_mixture_errors(workdir, jax.random.fold_in(key, 2))
    print("[demo] 4/5 DEER against a sequential scan ...", flush=True)
    rows += deer_vs_sequential(jax.random.fold_in(key, 3))
    print("[demo] 5/5 parallel-in-time sampling ...", flush=True)
    rows += parallel_sampling(jax.random.fold_in(key, 4))
    print()
    _print_table(rows)
    with open(os.path.join(workdir, "demo.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(f"\n[demo] done in {time.time() - t0:.0f} s; figures and demo.json in {workdir}")


if __name__ == "__main__":
    main()
