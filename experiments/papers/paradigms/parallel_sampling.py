"""Parallel-in-time sampling (ParaDiGMS / DEER): sweeps, NFE, error and wall time vs sequential.

    python -m experiments.papers.paradigms.parallel_sampling --workdir runs/paradigms [--quick]

Two problems, B = 16 samples each:

  * ``exact``: the 8-Gaussian mixture on the VP-linear schedule with its exact denoiser;
  * ``trained``: a small flow-matching MLP trained on the checkerboard through
    ``experiments.train.run`` (runlocal settings, --train-steps steps, about a minute on a CPU),
    on its rectified schedule.

For DDIM (eta = 0), Heun (EDM Alg. 1), DPM-Solver++(2M) and ancestral (DDPM) sampling at
``--steps`` grid sizes, every parallel method (Picard with a sliding window of 8 and 64 steps --
64 on the exact problem only --, tol 1e-3 relative to the per-step noise std: ParaDiGMS; Newton
over the whole grid: DEER) is
compared with the sequential sampler on the same noise: parallel sweeps, NFE, max |x_par - x_seq|
and the wall time of both after compilation (median of --repeats). Picard windows are also
timed with the window sharded over --host-devices devices (8 host CPU devices, set before JAX
starts; on a GPU/TPU host, all accelerators up to 8).

On a 2-core CPU the parallel runs are *slower* than the sequential loop: they do 2-8x the work
and 8 "devices" share 2 cores. The speed-up needs hardware that evaluates a window in the time of
one step (GPUs / TPUs); sweeps / N is the latency bound such hardware approaches.

Outputs under --workdir: paradigms_parallel_sampling.csv (one row per problem, solver, steps, method,
devices), paradigms_parallel_sampling.png, paradigms_parallel_sampling.json (settings, machine, summary).

References: Shih et al. 2023, "Parallel Sampling of Diffusion Models" (NeurIPS), Fig. 4-5 and
Table 1; Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence Length".
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import time

FIELDS = ["problem", "solver", "steps", "method", "window", "tol", "devices", "sweeps", "nfe", "nfe_seq",
          "err_max", "err_mean", "converged", "seconds", "seconds_seq", "ratio", "compile_seconds"]


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--quick", action="store_true", help="20 steps, 2 methods, 20 training steps")
    p.add_argument("--steps", default="50,200,1000")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=400)
    p.add_argument("--host-devices", type=int, default=8, help="host CPU devices (set before JAX starts)")
    p.add_argument("--replot", action="store_true", help="only redraw the PNG from the CSV in --workdir")
    return p.parse_args(argv)


ARGS = parse() if __name__ == "__main__" else None
if ARGS is not None:
    from genjax.train import distributed

    distributed.cpu_devices(ARGS.host_devices)   # before any computation

import jax  # noqa: E402
import numpy as np  # noqa: E402

from genjax.timing import machine, timed  # noqa: E402
from genjax import fixedpoint, samplers, schedules  # noqa: E402
from genjax.data import mixture  # noqa: E402

SOLVERS = {"ddim": samplers.ddim(), "heun": samplers.heun(), "dpm_solver_pp2": samplers.dpm_solver_pp(2),
           "ancestral": samplers.ancestral()}


def methods(tol: float, quick: bool) -> dict:
    """name -> (fixedpoint method, window, tol) for ``samplers.sample_parallel``."""
    out = {"picard_w8": (fixedpoint.picard(), 8, tol)}
    if not quick:
        out["picard_w64"] = (fixedpoint.picard(), 64, tol)
    out["newton"] = (fixedpoint.newton(), None, tol)
    return out


def trained_problem(workdir: str, steps: int):
    """Train the runlocal flow-matching MLP (or resume it) and return (denoiser, schedule)."""
    from experiments import train

    print(f"[train] flow matching on checkerboard, {steps} steps -> {workdir}", flush=True)
    start = time.perf_counter()
    res = train.run_config("toy2d_flow_matching", workdir, arg="runlocal", num_steps=steps)
    print(f"[train] done in {time.perf_counter() - start:.0f} s", flush=True)
    return res.task.extras["denoiser"](res.state.ema_params), res.task.extras["schedule"]


def run_problem(name, den, s, args, meths, mesh, writer, rows):
    den = den if isinstance(den, jax.tree_util.Partial) else jax.tree_util.Partial(den)
    x_init = s.prior_sample((args.batch, 2), jax.random.key(1))
    key = jax.random.key(0)
    for n in args.steps:
        ts = schedules.time_grid(s, n)
        for sname, solver in SOLVERS.items():
            seq = jax.jit(lambda x, k: samplers.sample(den, s, solver, ts, x, k))
            (x_seq, info_seq), _, t_seq, _ = timed(seq, (x_init, key), args.repeats)
            for mname, (m, window, tol) in meths.items():
                if name == "trained" and mname == "picard_w64":
                    continue   # the trained model: one window size is enough (compile time)
                targets = [(1, None)]
                if mesh is not None and name == "exact" and mname.startswith("picard"):
                    targets.append((mesh.size, mesh))
                for ndev, msh in targets:
                    par = jax.jit(lambda x, k: samplers.sample_parallel(den, s, solver, ts, x, k, method=m,
                                                                        window=window, tol=tol, mesh=msh))
                    (x_par, info), c_s, t_par, _ = timed(par, (x_init, key), args.repeats)
                    err = np.abs(np.asarray(x_par) - np.asarray(x_seq))
                    row = dict(problem=name, solver=sname, steps=n, method=mname, window=min(window or n, n), tol=tol,
                               devices=ndev, sweeps=int(info.num_iters), nfe=int(info.nfe),
                               nfe_seq=int(info_seq.nfe), err_max=float(err.max()), err_mean=float(err.mean()),
                               converged=bool(info.converged), seconds=t_par, seconds_seq=t_seq,
                               ratio=t_par / t_seq, compile_seconds=c_s)
                    rows.append(row)
                    writer.writerow(row)
                    print(f"[{name}] {sname:15s} N={n:5d} {mname:11s} dev={ndev} sweeps={row['sweeps']:4d} "
                          f"nfe={row['nfe']:6d}/{row['nfe_seq']:5d} err={row['err_max']:.1e} "
                          f"t={t_par * 1e3:8.1f} ms (seq {t_seq * 1e3:7.1f} ms, x{row['ratio']:.2f})", flush=True)


def plot(rows, path: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted({r["problem"] for r in rows}, key=["exact", "trained"].index)
    colors = dict(zip(SOLVERS, ["C0", "C1", "C2", "C3"]))
    styles = {"picard_w8": "-", "picard_w64": "--", "newton": ":"}
    fig, axes = plt.subplots(len(problems), 4, figsize=(16, 3.6 * len(problems)), squeeze=False)
    for i, prob in enumerate(problems):
        pr = [r for r in rows if r["problem"] == prob]
        steps = sorted({r["steps"] for r in pr})
        for sname in SOLVERS:
            for mname, ls in styles.items():
                for dev in sorted({r["devices"] for r in pr}):
                    mk = "o" if dev == 1 else "s"
                    rs = sorted((r for r in pr if r["solver"] == sname and r["method"] == mname
                                 and r["devices"] == dev), key=lambda r: r["steps"])
                    if not rs:
                        continue
                    x = [r["steps"] for r in rs]
                    kw = dict(color=colors[sname], ls=ls, marker=mk, ms=4 if dev == 1 else 5)
                    if dev == 1:
                        axes[i, 0].plot(x, [r["sweeps"] for r in rs], **kw)
                        axes[i, 1].plot(x, [r["nfe"] / r["nfe_seq"] for r in rs], **kw)
                        axes[i, 2].plot(x, [max(r["err_max"], 1e-8) for r in rs], **kw)
                    axes[i, 3].plot(x, [r["ratio"] for r in rs], **kw)
        axes[i, 0].plot(steps, steps, "k-", lw=0.8, label="sequential (N)")
        axes[i, 3].axhline(1.0, color="k", lw=0.8)
        titles = ["parallel sweeps", "NFE / sequential NFE", "max |x_par - x_seq|", "wall time / sequential"]
        for j, ax in enumerate(axes[i]):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("sampling steps N")
            ax.set_title(f"{prob}: {titles[j]}", fontsize=10)
            ax.grid(alpha=0.3, which="both")
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=c, label=n) for n, c in colors.items()]
    handles += [Line2D([], [], color="gray", ls=ls, label=m) for m, ls in styles.items()]
    handles += [Line2D([], [], color="gray", marker="o", ls="", label="1 device"),
                Line2D([], [], color="gray", marker="s", ls="", label="window over all devices"),
                Line2D([], [], color="k", label="sequential")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=60)
    plt.close(fig)


def read_rows(path: str):
    ints, floats = ("steps", "window", "devices", "sweeps", "nfe", "nfe_seq"), ("tol", "err_max", "err_mean",
                                                                               "seconds", "seconds_seq", "ratio",
                                                                               "compile_seconds")
    with open(path) as f:
        return [{k: int(v) if k in ints else float(v) if k in floats else v for k, v in r.items()}
                for r in csv.DictReader(f)]


def main(args):
    if args.replot:
        rows = read_rows(os.path.join(args.workdir, "paradigms_parallel_sampling.csv"))
        plot(rows, os.path.join(args.workdir, "paradigms_parallel_sampling.png"))
        return rows
    if args.quick:
        args.steps, args.train_steps, args.repeats = "20", min(args.train_steps, 20), 1
    args.steps = [int(v) for v in args.steps.split(",")]
    os.makedirs(args.workdir, exist_ok=True)
    devices = jax.devices()[:8]
    mesh = jax.make_mesh((len(devices),), ("time",), devices=devices) if len(devices) > 1 else None
    print(f"[setup] {jax.default_backend()} devices: {len(jax.devices())}; window sharded over "
          f"{len(devices) if mesh is not None else 1}", flush=True)
    meths = methods(args.tol, args.quick)
    den_t, s_t = trained_problem(os.path.join(args.workdir, "train"), args.train_steps)
    s = schedules.vp_linear()
    problems = [("exact", mixture.eight_gaussians_mixture().denoiser(s), s), ("trained", den_t, s_t)]
    rows = []
    csv_path = os.path.join(args.workdir, "paradigms_parallel_sampling.csv")
    start = time.perf_counter()
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        for name, den, sch in problems:
            run_problem(name, den, sch, args, meths, mesh, writer, rows)
    png = os.path.join(args.workdir, "paradigms_parallel_sampling.png")
    plot(rows, png)
    summary = {
        "settings": {k: v for k, v in vars(args).items()},
        "machine": machine(),
        "seconds_total": time.perf_counter() - start,
        "all_converged": all(r["converged"] for r in rows),
        "max_err": max(r["err_max"] for r in rows),
        "sweeps_over_steps": {f"{r['problem']}/{r['solver']}/{r['method']}/N={r['steps']}": r["sweeps"] / r["steps"]
                              for r in rows if r["devices"] == 1},
    }
    with open(os.path.join(args.workdir, "paradigms_parallel_sampling.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"[done] {csv_path}, {png}", flush=True)
    return rows


if __name__ == "__main__":
    main(ARGS)
