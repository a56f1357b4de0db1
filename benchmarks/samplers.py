"""Sampler overhead: wall time of ``samplers.sample`` / (NFE x one jit-compiled denoiser call).

    python -m benchmarks.samplers [--batch 4096] [--steps 32] [--repeats 5] [--solvers heun,ddim]

Denoiser: an MLP on 2-D data (input x and 16 Fourier features of log t; 3 hidden layers of 256,
SiLU; random parameters; batch 4096), passed to ``sample`` as a ``jax.tree_util.Partial`` so its
parameters are traced arguments, exactly as the single-call reference ``jax.jit(apply)(params, x,
t)``. For every solver on the VP schedule's Karras grid (``--steps`` steps): compile time (first
call minus a steady call), the wall time of ``sample`` (after ``block_until_ready``), the NFE
it reports, and the ratio to NFE chained calls of the jit-compiled denoiser, measured in
interleaved pairs (median over ``--repeats`` pairs; also as process CPU time, which a loaded
shared machine disturbs less). A ratio of 1 means no per-step cost beyond the network. Prints
one JSON object.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

import jax
import jax.numpy as jnp

from genjax import samplers, schedules
from genjax.timing import machine


def init_mlp(key, d: int = 2, width: int = 256, depth: int = 3, n_freq: int = 8):
    sizes = [d + 2 * n_freq] + [width] * depth + [d]
    keys = jax.random.split(key, len(sizes))
    layers = [dict(w=jax.random.normal(k, (a, b)) / math.sqrt(a), b=jnp.zeros((b,)))
              for k, a, b in zip(keys, sizes[:-1], sizes[1:])]
    return dict(layers=layers, freqs=jnp.exp(jnp.linspace(0.0, 3.0, n_freq)))


def apply_mlp(params, x, t):
    """D(x, t): x [B, d], t scalar -> [B, d]."""
    emb = jnp.log(jnp.asarray(t, x.dtype)) * params["freqs"]
    emb = jnp.broadcast_to(jnp.concatenate([jnp.sin(emb), jnp.cos(emb)]), (x.shape[0], emb.shape[0] * 2))
    h = jnp.concatenate([x, emb], -1)
    layers = params["layers"]
    for layer in layers[:-1]:
        h = jax.nn.silu(h @ layer["w"] + layer["b"])
    return h @ layers[-1]["w"] + layers[-1]["b"]


def _timed(fn):
    """(wall seconds, process CPU seconds) of fn() up to block_until_ready."""
    w0, c0 = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn())
    return time.perf_counter() - w0, time.process_time() - c0


def _measure(run, chain, repeats):
    """Interleaved pairs (sample, NFE chained denoiser calls): per-pair ratios, medians.

    Pairs keep both measurements under the same load (shared machines drift); the reference
    chains x <- D(x, t) NFE times, each a separate call of the jit-compiled denoiser.
    """
    pairs = [(_timed(run), _timed(chain)) for _ in range(repeats)]
    med = statistics.median
    return dict(wall_s=round(med(p[0][0] for p in pairs), 4), ref_wall_s=round(med(p[1][0] for p in pairs), 4),
                ratio=round(med(p[0][0] / p[1][0] for p in pairs), 3),
                ratio_cpu=round(med(p[0][1] / p[1][1] for p in pairs), 3))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--solvers", default="", help="comma-separated subset of the solver names (default: all)")
    args = p.parse_args(argv)

    s = schedules.vp_linear()
    params = init_mlp(jax.random.key(0))
    denoiser = jax.tree_util.Partial(apply_mlp, params)
    x_init = s.prior_sample((args.batch, 2), jax.random.key(1))
    ts = schedules.time_grid(s, args.steps, "karras")
    key = jax.random.key(2)

    call = jax.jit(apply_mlp)
    jax.block_until_ready(call(params, x_init, ts[0]))

    def chain(nfe):
        def fn():
            x = x_init
            for _ in range(nfe):
                x = call(params, x, ts[3])
            return x
        return fn

    solvers = {
        "euler": samplers.euler(), "heun": samplers.heun(), "rk4": samplers.rk4(), "ddim": samplers.ddim(0.0),
        "ddim_eta1": samplers.ddim(1.0), "dpm_solver_pp2": samplers.dpm_solver_pp(2),
        "euler_maruyama": samplers.euler_maruyama(), "ancestral": samplers.ancestral(),
        "predictor_corrector": samplers.predictor_corrector(), "edm_stochastic": samplers.edm_stochastic(s_churn=10.0),
    }
    runs = {name: (lambda solver=solver: samplers.sample(denoiser, s, solver, ts, x_init, key)) for name, solver in
            solvers.items()}
    # adaptive Dormand-Prince on the same ODE (its error control is extra work per step)
    runs["dopri5_tol1e-3"] = lambda: samplers.sample_adaptive(denoiser, s, x_init, 1e-3, 1e-3)
    if args.solvers:
        wanted = args.solvers.split(",")
        unknown = sorted(set(wanted) - set(runs))
        if unknown:
            raise SystemExit(f"--solvers: unknown {unknown}; choose from {sorted(runs)}")
        runs = {k: runs[k] for k in wanted}
    results = {}
    for name, run in runs.items():
        t0 = time.perf_counter()
        _, info = jax.block_until_ready(run())
        first = time.perf_counter() - t0
        nfe = int(info.nfe)
        m = _measure(run, chain(nfe), args.repeats)
        results[name] = dict(nfe=nfe, compile_s=round(first - m["wall_s"], 3), **m)
        if name.startswith("dopri5"):
            results[name]["converged"] = bool(info.converged)
        print(f"{name:20s} nfe={nfe:4d} ratio={m['ratio']:.3f} (cpu {m['ratio_cpu']:.3f}) "
              f"compile={results[name]['compile_s']:.2f}s", flush=True, file=sys.stderr)

    print(json.dumps(dict(
        benchmark="samplers", batch=args.batch, dim=2, mlp="3x256 SiLU, 16 Fourier time features", steps=args.steps,
        schedule="vp_linear", grid="karras", target_ratio=1.10, results=results,
        max_ratio_fixed_grid=max(r["ratio"] for k, r in results.items() if not k.startswith("dopri5")),
        max_ratio_cpu_fixed_grid=max(r["ratio_cpu"] for k, r in results.items() if not k.startswith("dopri5")),
        machine=machine()), indent=1))


if __name__ == "__main__":
    main()
