"""Parallel-in-time sampling benchmark: ParaDiGMS / DEER sweeps vs the sequential sampler; ONE JSON.

    python -m benchmarks.parallel_sampling [--quick] [--solvers ddim,ancestral] [--steps 100,1000]
                                           [--windows 8,64] [--devices 1,8] [--batch 16] [--repeats 5]
                                           [--schedules vp,edm,rectified] [--no-timing]

The exact denoiser of the 8-Gaussian mixture (a cheap "network"), B samples, on each schedule of
--schedules (default vp): ``vp`` = VP-linear on a uniform grid, ``edm`` = EDM on the Karras grid,
``rectified`` = rectified flow on a uniform grid. For every (schedule, solver, steps, window,
devices) the sampler runs as ``samplers.sample_parallel(..., method=fixedpoint.picard(),
window=window, tol=tol)`` (window sharded over ``devices`` devices of a Mesh when devices > 1), and
once with ``method=fixedpoint.newton()`` (whole grid, 1 device). Reported per configuration:

  sweeps, nfe, nfe_sequential   parallel sweeps and denoiser evaluations vs the sequential ones
  seconds, seconds_sequential   median of --repeats runs after compilation (block_until_ready)
  ratio_to_sequential           seconds / seconds_sequential, same run (< 1: faster than the loop)
  compile_seconds               ``jit(...).lower(...).compile()`` time, separate
  max_abs_error                 max |x_parallel - x_sequential|
  bound                         the documented bound tol * (1 + max |x_sequential|)
  error_over_bound, within_bound   max_abs_error / bound, and max_abs_error <= bound

and over all rows ``max_error_over_bound`` and ``all_within_bound``. ``--no-timing`` (same as
``--repeats 0``) is the correctness-only sweep: one compile and one call per configuration, the
three time fields null. The tolerance grid of the docs:

    python -m benchmarks.parallel_sampling --schedules vp,edm,rectified --steps 50,100,200 \\
        --windows 8 --devices 1 --no-timing

Host CPU devices (--host-devices, default 8) are created before JAX starts; on a GPU/TPU host
the mesh takes the accelerators. With 2 CPU cores and 8 host devices the sharded runs measure
communication overhead, not speed-up.

References: Shih et al. 2023, "Parallel Sampling of Diffusion Models" (NeurIPS), Table 1.
"""
from __future__ import annotations

import argparse
import json
import sys


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="ddim and ancestral at 100 steps, window 8")
    p.add_argument("--solvers", default="ddim,heun,dpm_solver_pp2,ancestral")
    p.add_argument("--schedules", default="vp", help="comma list of vp, edm, rectified")
    p.add_argument("--steps", default="100,1000")
    p.add_argument("--windows", default="8,64")
    p.add_argument("--devices", default="1,8")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--repeats", type=int, default=5, help="timed runs per configuration; 0: no timing")
    p.add_argument("--no-timing", action="store_true", help="correctness only (= --repeats 0)")
    p.add_argument("--host-devices", type=int, default=8)
    args = p.parse_args(argv)
    if args.no_timing:
        args.repeats = 0
    if args.repeats < 0:
        p.error(f"--repeats must be >= 0, got {args.repeats}")
    bad = [v for v in args.schedules.split(",") if v not in SCHEDULE_NAMES]
    if bad:
        p.error(f"--schedules: unknown {bad}; choose from {sorted(SCHEDULE_NAMES)}")
    return args


SCHEDULE_NAMES = {"vp": "VP-linear (uniform grid)", "edm": "EDM (Karras grid)",
                  "rectified": "rectified (uniform grid)"}
ARGS = parse() if __name__ == "__main__" else None
if ARGS is not None:
    from genjax.train import distributed

    distributed.cpu_devices(ARGS.host_devices)   # before any computation

import jax  # noqa: E402
import numpy as np  # noqa: E402

from genjax.timing import machine, timed  # noqa: E402
from genjax import fixedpoint, samplers, schedules  # noqa: E402
from genjax.data import mixture  # noqa: E402

SOLVERS = {"ddim": samplers.ddim, "heun": samplers.heun, "dpm_solver_pp2": lambda: samplers.dpm_solver_pp(2),
           "ancestral": samplers.ancestral}
SCHEDULES = {"vp": (schedules.vp_linear, "uniform"), "edm": (schedules.edm, "karras"),
             "rectified": (schedules.rectified, "uniform")}   # name -> (schedule factory, time_grid kind)


def main(args):
    if args.quick:
        args.solvers, args.steps, args.windows = "ddim,ancestral", "100", "8"
        args.repeats = min(args.repeats, 3)
    key = jax.random.key(0)
    results = []
    for sched in args.schedules.split(","):
        make, kind = SCHEDULES[sched]
        s = make()
        den = jax.tree_util.Partial(mixture.eight_gaussians_mixture().denoiser(s))
        x_init = s.prior_sample((args.batch, 2), jax.random.key(1))
        for sname in args.solvers.split(","):
            solver = SOLVERS[sname]()
            for n in [int(v) for v in args.steps.split(",")]:
                ts = schedules.time_grid(s, n, kind)
                (x_seq, info_seq), c_seq, t_seq, _ = timed(
                    jax.jit(lambda x, k: samplers.sample(den, s, solver, ts, x, k)), (x_init, key), args.repeats)
                bound = args.tol * (1.0 + float(np.max(np.abs(np.asarray(x_seq)))))
                configs = [("picard", int(w), int(d)) for w in args.windows.split(",") for d in args.devices.split(",")]
                configs.append(("newton", n, 1))
                for name, window, ndev in configs:
                    if ndev > len(jax.devices()):
                        continue
                    method = fixedpoint.picard() if name == "picard" else fixedpoint.newton()
                    mesh = None if ndev == 1 else jax.make_mesh((ndev,), ("time",), devices=jax.devices()[:ndev])
                    (x_par, info), c_s, t_par, _ = timed(
                        jax.jit(lambda x, k: samplers.sample_parallel(den, s, solver, ts, x, k, method=method,
                                                                      window=window, tol=args.tol, mesh=mesh)),
                        (x_init, key), args.repeats)
                    err = float(np.max(np.abs(np.asarray(x_par) - np.asarray(x_seq))))
                    row = {"schedule": sched, "solver": sname, "steps": n, "method": name, "window": min(window, n),
                           "devices": ndev, "sweeps": int(info.num_iters), "nfe": int(info.nfe),
                           "nfe_sequential": int(info_seq.nfe), "converged": bool(info.converged),
                           "seconds": t_par, "seconds_sequential": t_seq,
                           "ratio_to_sequential": None if t_par is None else t_par / t_seq,
                           "compile_seconds": c_s, "compile_seconds_sequential": c_seq,
                           "max_abs_error": err, "bound": bound, "error_over_bound": err / bound,
                           "within_bound": err <= bound}
                    results.append(row)
                    ratio = "" if t_par is None else f" x{row['ratio_to_sequential']:.2f}"
                    print(f"{sched} {sname} N={n} {name} w={row['window']} dev={ndev}: sweeps {row['sweeps']} "
                          f"err/bound {row['error_over_bound']:.3g}{ratio}", file=sys.stderr, flush=True)
    problem = "8-Gaussian mixture, exact denoiser; " + ", ".join(SCHEDULE_NAMES[v] for v in args.schedules.split(","))
    out = {"benchmark": "parallel_sampling", "problem": problem, "batch": args.batch, "tol": args.tol,
           "repeats": args.repeats, "timing": args.repeats > 0,
           "max_error_over_bound": max((r["error_over_bound"] for r in results), default=None),
           "all_within_bound": all(r["within_bound"] for r in results), "results": results,
           "machine": machine()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(ARGS)
