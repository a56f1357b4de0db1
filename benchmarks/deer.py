"""DEER benchmark: parallel fixed-point solvers vs the sequential scan; prints ONE JSON object.

    python -m benchmarks.deer [--quick] [--methods newton,quasi_newton] [--ns 4,16]
                              [--Ts 1000,10000] [--batches 1,8] [--repeats 5]

For every (method, n, T, batch) a random GRU (inputs of size 2) is evaluated by
``jax.vmap(fixedpoint.solve)`` under ``jax.jit``. Reported per configuration:

  seconds          median wall time of --repeats runs after compilation (block_until_ready)
  compile_seconds  ``jit(...).lower(...).compile()`` time, separate from the runs
  iterations       max Newton / quasi-Newton sweeps over the batch (1 for sequential)
  converged        all batch elements converged
  peak_memory_mb   estimate from ``compiled.memory_analysis()``: arguments + outputs +
                   temporaries - aliased (an upper bound of the compiled program's working set)
  ratio_to_sequential  seconds / seconds(sequential) of the same (n, T, batch), same run
                   (< 1: faster than lax.scan)
  max_abs_error    max |hs - hs_sequential|

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR), Fig. 2 and Table 1.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import timed
from genjax import fixedpoint
from genjax.fixedpoint import cells

METHODS = {
    "sequential": fixedpoint.sequential,
    "newton": fixedpoint.newton,
    "quasi_newton": lambda: fixedpoint.quasi_newton(cells.gru.diagonal),
    "quasi_elk": lambda: fixedpoint.damped(0.1, fixedpoint.quasi_newton(cells.gru.diagonal)),
    "jacobi": fixedpoint.jacobi,
}


def _memory_mb(compiled) -> float:
    stats = compiled.memory_analysis()
    if stats is None:
        return float("nan")
    # Upper bound of the working set from XLA's buffer assignment (the CPU runtime's
    # peak_memory_in_bytes field was seen below temp_size_in_bytes, so it is not used).
    total = (stats.argument_size_in_bytes + stats.output_size_in_bytes
             + stats.temp_size_in_bytes - stats.alias_size_in_bytes)
    return total / 2**20


def bench(method_name, n, T, batch, repeats):
    k_p, k_x = jax.random.split(jax.random.key(0))
    params = cells.gru.init(2, n, k_p)
    xs = jax.random.normal(k_x, (batch, T, 2))
    h0 = jnp.zeros((batch, n))
    method = METHODS[method_name]()

    def run(params, h0, xs):
        return jax.vmap(lambda h, x: fixedpoint.solve(cells.gru.step, h, x, params, method))(
            h0, xs)

    (hs, info), compile_s, seconds, compiled = timed(jax.jit(run), (params, h0, xs), repeats)
    return hs, {"method": method_name, "n": n, "T": T, "batch": batch,
                "seconds": seconds, "compile_seconds": compile_s,
                "iterations": int(np.max(info.num_iters)),
                "converged": bool(np.all(info.converged)),
                "peak_memory_mb": _memory_mb(compiled)}


def _ints(text):
    return [int(float(v)) for v in text.split(",") if v]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n=4, T in {100, 1000}, batch 2")
    parser.add_argument("--methods", default="newton,quasi_newton,quasi_elk,jacobi")
    parser.add_argument("--ns", default="4,16")
    parser.add_argument("--Ts", default="1000,10000")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.quick:
        args.ns, args.Ts, args.batches, args.repeats = "4", "100,1000", "2", 2
    methods = [m for m in args.methods.split(",") if m and m != "sequential"]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {sorted(METHODS)}")
    rows, start = [], time.time()
    for n in _ints(args.ns):
        for T in _ints(args.Ts):
            for batch in _ints(args.batches):
                ref, base = bench("sequential", n, T, batch, args.repeats)
                base.update(ratio_to_sequential=1.0, max_abs_error=0.0)
                rows.append(base)
                for name in methods:
                    hs, row = bench(name, n, T, batch, args.repeats)
                    row["ratio_to_sequential"] = row["seconds"] / base["seconds"]
                    row["max_abs_error"] = float(jnp.max(jnp.abs(hs - ref)))
                    rows.append(row)
                    print(f"# {name:12s} n={n} T={T} B={batch}: {row['seconds'] * 1e3:.2f} ms, "
                          f"x{row['ratio_to_sequential']:.2f} of sequential "
                          f"[{time.time() - start:.0f}s]", file=sys.stderr, flush=True)
    print(json.dumps({
        "benchmark": "deer", "settings": vars(args), "results": rows,
        "machine": {"backend": jax.default_backend(), "device": str(jax.devices()[0]),
                    "cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": {"jax": jax.__version__, "numpy": np.__version__},
        "seconds_total": time.time() - start,
    }, indent=1))


if __name__ == "__main__":
    main()
