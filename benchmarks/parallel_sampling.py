"""Parallel-in-time sampling benchmark: ParaDiGMS / DEER sweeps vs the sequential sampler; ONE JSON.

    python -m benchmarks.parallel_sampling [--quick] [--solvers ddim,ancestral] [--steps 100,1000]
                                           [--windows 8,64] [--devices 1,8] [--batch 16] [--repeats 5]

The exact denoiser of the 8-Gaussian mixture (VP-linear schedule; a cheap "network"), B samples.
For every (solver, steps, window, devices) the sampler runs as ``samplers.sample_parallel(...,
method=fixedpoint.picard(), window=window, tol=tol)`` (window sharded over ``devices`` devices
of a Mesh when devices > 1), and once with ``method=fixedpoint.newton()`` (whole grid, 1 device).
Reported per configuration:

  sweeps, nfe, nfe_sequential   parallel sweeps and denoiser evaluations vs the sequential ones
  seconds, seconds_sequential   median of --repeats runs after compilation (block_until_ready)
  ratio_to_sequential           seconds / seconds_sequential, same run (< 1: faster than the loop)
  compile_seconds               ``jit(...).lower(...).compile()`` time, separate
  max_abs_error                 max |x_parallel - x_sequential|

Host CPU devices (--host-devices, default 8) are created before JAX starts; on a GPU/TPU host
the mesh takes the accelerators. With 2 CPU cores and 8 host devices the sharded runs measure
communication overhead, not speed-up.

References: Shih et al. 2023, "Parallel Sampling of Diffusion Models" (NeurIPS), Table 1.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="ddim and ancestral at 100 steps, window 8")
    p.add_argument("--solvers", default="ddim,heun,dpm_solver_pp2,ancestral")
    p.add_argument("--steps", default="100,1000")
    p.add_argument("--windows", default="8,64")
    p.add_argument("--devices", default="1,8")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--host-devices", type=int, default=8)
    return p.parse_args(argv)


ARGS = parse() if __name__ == "__main__" else None
if ARGS is not None:
    import jax

    jax.config.update("jax_num_cpu_devices", ARGS.host_devices)   # before any computation

import jax  # noqa: E402
import numpy as np  # noqa: E402

from genjax.timing import timed  # noqa: E402
from genjax import fixedpoint, samplers, schedules  # noqa: E402
from genjax.data import mixture  # noqa: E402

SOLVERS = {"ddim": samplers.ddim, "heun": samplers.heun, "dpm_solver_pp2": lambda: samplers.dpm_solver_pp(2),
           "ancestral": samplers.ancestral}


def main(args):
    if args.quick:
        args.solvers, args.steps, args.windows, args.repeats = "ddim,ancestral", "100", "8", 3
    s = schedules.vp_linear()
    den = jax.tree_util.Partial(mixture.eight_gaussians_mixture().denoiser(s))
    x_init = s.prior_sample((args.batch, 2), jax.random.key(1))
    key = jax.random.key(0)
    results = []
    for sname in args.solvers.split(","):
        solver = SOLVERS[sname]()
        for n in [int(v) for v in args.steps.split(",")]:
            ts = schedules.time_grid(s, n)
            (x_seq, info_seq), c_seq, t_seq, _ = timed(
                jax.jit(lambda x, k: samplers.sample(den, s, solver, ts, x, k)), (x_init, key), args.repeats)
            configs = [("picard", int(w), int(d)) for w in args.windows.split(",") for d in args.devices.split(",")]
            configs.append(("newton", n, 1))
            for name, window, ndev in configs:
                if ndev > len(jax.devices()):
                    continue
                method = fixedpoint.picard() if name == "picard" else fixedpoint.newton()
                mesh = None if ndev == 1 else jax.make_mesh((ndev,), ("time",), devices=jax.devices()[:ndev])
                (x_par, info), c_s, t_par, _ = timed(
                    jax.jit(lambda x, k: samplers.sample_parallel(den, s, solver, ts, x, k, method=method, window=window,
                                                                  tol=args.tol, mesh=mesh)),
                    (x_init, key), args.repeats)
                row = {"solver": sname, "steps": n, "method": name, "window": min(window, n), "devices": ndev,
                       "sweeps": int(info.num_iters), "nfe": int(info.nfe), "nfe_sequential": int(info_seq.nfe),
                       "converged": bool(info.converged), "seconds": t_par, "seconds_sequential": t_seq,
                       "ratio_to_sequential": t_par / t_seq, "compile_seconds": c_s,
                       "compile_seconds_sequential": c_seq,
                       "max_abs_error": float(np.max(np.abs(np.asarray(x_par) - np.asarray(x_seq))))}
                results.append(row)
                print(f"{sname} N={n} {name} w={row['window']} dev={ndev}: sweeps {row['sweeps']} "
                      f"x{row['ratio_to_sequential']:.2f}", file=sys.stderr, flush=True)
    out = {"benchmark": "parallel_sampling", "problem": "8-Gaussian mixture, exact denoiser, VP-linear",
           "batch": args.batch, "tol": args.tol, "repeats": args.repeats, "results": results,
           "machine": {"backend": jax.default_backend(), "devices": len(jax.devices()),
                       "device_kind": jax.devices()[0].device_kind, "cpu_count": os.cpu_count(),
                       "platform": platform.platform(), "python": sys.version.split()[0]},
           "versions": {"jax": jax.__version__, "numpy": np.__version__}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(ARGS)
