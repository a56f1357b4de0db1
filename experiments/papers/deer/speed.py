"""Wall time against sequence length and state size: sequential scan vs DEER (Lim et al., Fig. 2).

    python -m experiments.papers.deer.speed --workdir runs/deer_speed [--quick]

A random GRU (inputs of size 2, batch --batch) evaluated by ``lax.scan`` (``sequential()``),
Newton (DEER) and quasi-Newton (closed-form diagonal) at T in {1e3, 3e3, 1e4, 3e4, 1e5}
(n = --n) and n in {2, 4, ..., 32} (T = --T_for_n). The sequential baseline is timed two ways:
``jax.vmap`` of the scan over the batch (``sequential_vmap``; XLA:CPU runs the batched scan up to
~30x slower per sequence than the batch-1 scan) and ``lax.map`` of the batch-1 scan
(``sequential_map``: one sequence after another); the speed-up of each parallel method (vmapped
over the batch, as in the paper) is against the FASTER of the two, so a slow baseline cannot
manufacture parity. Every configuration is compiled first (``lower().compile()``, timed
separately), then run --repeats times with ``block_until_ready``; the median is reported.

Honest expectations: the parallel scan does O(T n^3) (Newton) or O(T n) (quasi) work times the
number of sweeps, against O(T n^2) sequential work; it wins only where depth matters, i.e. on
a GPU / TPU with T large. On a 2-core CPU it is expected to be *slower* than ``lax.scan``. The
script runs unchanged on any backend (``jax.default_backend()`` is recorded).

Outputs under --workdir: deer_speed.csv (method, n, T, batch, seconds, compile_seconds, sweeps,
converged, speedup = faster baseline / method), deer_speed.json (the same plus machine and
versions) and deer_speed.png. ``benchmarks/deer.py`` measures the same cell at batch 1 and 16 with
the reference's stopping rule; at batch 1 both baselines are one scan and the two agree.

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR), Fig. 2 (speed-up of DEER over sequential evaluation of a GRU).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from genjax.timing import machine, timed
from genjax import fixedpoint
from genjax.fixedpoint import cells
from experiments.papers.outputs import write_csv

METHODS = {"sequential_vmap": fixedpoint.sequential(), "sequential_map": fixedpoint.sequential(),
           "newton": fixedpoint.newton(), "quasi_newton": fixedpoint.quasi_newton(cells.gru.diagonal)}
BASELINES = ("sequential_vmap", "sequential_map")


def time_config(method_name: str, n: int, T: int, batch: int, repeats: int):
    """(seconds, compile_seconds, max sweeps, converged) for one configuration: compile apart,
    warm-up, median of ``repeats`` timed runs (``genjax.timing.timed``)."""
    k_p, k_x = jax.random.split(jax.random.key(0))
    params = cells.gru.init(2, n, k_p)
    xs = jax.random.normal(k_x, (batch, T, 2))
    method = METHODS[method_name]

    def one(h, x):
        return fixedpoint.solve(cells.gru.step, h, x, params, method)

    def run(params, h0, xs):
        if method_name == "sequential_map":                      # batch-1 scans, one after another
            return jax.lax.map(lambda hx: one(*hx), (h0, xs))
        return jax.vmap(one)(h0, xs)

    (_, info), compile_s, seconds, _ = timed(jax.jit(run), (params, jnp.zeros((batch, n)), xs), repeats)
    return seconds, compile_s, int(np.max(info.num_iters)), bool(np.all(info.converged))


def sweep(grid, batch, repeats, rows, start):
    for n, T in grid:
        timed_rows = []
        for name in METHODS:
            sec, comp, iters, ok = time_config(name, n, T, batch, repeats)
            timed_rows.append({"method": name, "n": n, "T": T, "batch": batch, "seconds": sec,
                               "compile_seconds": comp, "sweeps": iters, "converged": ok})
        base = min(r["seconds"] for r in timed_rows if r["method"] in BASELINES)
        for r in timed_rows:
            r["speedup"] = base / r["seconds"]
            rows.append(r)
            print(f"{r['method']:15s} n={n:3d} T={T:7d} batch={batch}: {r['seconds'] * 1e3:9.2f} ms "
                  f"(compile {r['compile_seconds']:5.1f} s, sweeps {r['sweeps']:3d}, conv {r['converged']}) "
                  f"speed-up over the faster scan {r['speedup']:6.3f}  [{time.time() - start:.0f}s]", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--quick", action="store_true", help="T = 256, n in {4, 8}, 1 repeat")
    parser.add_argument("--n", type=int, default=8, help="state size of the T sweep")
    parser.add_argument("--T_for_n", type=int, default=10_000, help="T of the n sweep")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--Ts", default="1000,3000,10000,30000,100000")
    parser.add_argument("--ns", default="2,4,8,16,32", help="64+ is for accelerators")
    args = parser.parse_args(argv)
    for flag in ("n", "T_for_n", "batch", "repeats"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    Ts = [int(float(v)) for v in args.Ts.split(",")]
    ns = [int(v) for v in args.ns.split(",")]
    if args.quick:
        Ts, ns, args.T_for_n, args.repeats = [256], [4], 256, 1
    os.makedirs(args.workdir, exist_ok=True)
    start, rows = time.time(), []
    sweep([(args.n, T) for T in Ts], args.batch, args.repeats, rows, start)
    sweep([(n, args.T_for_n) for n in ns if n != args.n or args.T_for_n not in Ts],
          args.batch, args.repeats, rows, start)

    write_csv(os.path.join(args.workdir, "deer_speed.csv"), rows)
    meta = machine()
    with open(os.path.join(args.workdir, "deer_speed.json"), "w") as fh:
        json.dump({"settings": vars(args), "machine": meta, "rows": rows}, fh, indent=2)
    plot(rows, args, meta, os.path.join(args.workdir, "deer_speed.png"))
    print(f"wrote {args.workdir}/deer_speed.{{png,csv,json}}")


def plot(rows, args, meta, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    by_T = [r for r in rows if r["n"] == args.n]
    by_n = [r for r in rows if r["T"] == args.T_for_n]
    styles = {"sequential_vmap": "s--", "sequential_map": "s-"}
    for name in METHODS:
        rT = sorted((r["T"], r["seconds"], r["speedup"]) for r in by_T if r["method"] == name)
        rn = sorted((r["n"], r["speedup"]) for r in by_n if r["method"] == name)
        label = {"sequential_vmap": "lax.scan, vmap over batch", "sequential_map": "lax.scan, one sequence at a time"
                 }.get(name, name)
        if rT:
            T, sec, sp = np.array(rT).T
            axes[0].loglog(T, sec, styles.get(name, "o-"), label=label)
            if name not in BASELINES:
                axes[1].loglog(T, sp, "o-", label=name)
        if rn and name not in BASELINES:
            n, sp = np.array(rn).T
            axes[2].loglog(n, sp, "o-", label=name)
            axes[2].set_xscale("log", base=2)
    axes[0].set(xlabel="sequence length T", ylabel="seconds (median, after compile)",
                title=f"GRU n={args.n}, batch {args.batch}")
    axes[1].set(xlabel="sequence length T", ylabel="speed-up over the faster lax.scan",
                title=f"speed-up, n={args.n} ({meta['backend']})")
    axes[2].set(xlabel="state size n", ylabel="speed-up over the faster lax.scan",
                title=f"speed-up, T={args.T_for_n} ({meta['backend']})")
    for ax in axes[1:]:
        ax.axhline(1.0, color="k", lw=0.5, ls=":")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
