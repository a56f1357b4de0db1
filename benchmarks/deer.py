"""DEER benchmark: genjax's fixed-point solvers vs lax.scan and the DEER reference code; ONE JSON.

    python -m benchmarks.deer [--quick] [--reference PATH] [--methods newton,quasi_newton]
                              [--ns 4,16,64] [--Ts 1000,10000,100000] [--batches 1,16]
                              [--tol 1e-4] [--rtol 1e-3] [--repeats 5] [--max-jacobian-mb 800]

For every (n, T, batch) a random GRU (inputs of size 2, ``cells.gru``) is evaluated under
``jax.jit`` by ``jax.vmap`` over the batch of ``fixedpoint.solve`` with each method, by
``lax.scan`` (``sequential``), and, with ``--reference PATH`` (a checkout of
machine-discovery/deer, fetched apart and never installed by this project), by the reference's
``seq1d(gru.step, h0, xs, params, DEER())`` on the same cell, inputs, float32, in the same
process. genjax runs with the reference's stopping rule (per entry |update| <= tol + rtol |h|,
its defaults tol = 1e-4, rtol = 1e-3), so both compute the same Newton iterates and stop after
the same sweep. Reported per row:

  seconds          median wall time of --repeats rounds after compilation and one warm-up call
                   (block_until_ready); each round calls every method once, in turn
  compile_seconds  ``jit(...).lower(...).compile()`` time, separate from the runs
  iterations       sweeps (max over the batch; 1 for sequential). The reference does not return
                   its count: it is the smallest DEER(max_iter=k) whose answer equals the
                   unlimited run bit for bit (one compiled program, k traced)
  converged        all batch elements converged (genjax ``info.converged``; reference
                   ``Result.success``)
  peak_memory_mb   arguments + outputs + temporaries - aliased from ``memory_analysis()``
  ratio_to_sequential  median over rounds of time / time(sequential) in the same round
  ratio_to_reference   median over rounds of time / time(reference) in the same round (< 1:
                   genjax is faster)
  max_abs_error    max |hs - hs_sequential|

Configurations whose dense Jacobians (T * batch * n^2 float32) exceed --max-jacobian-mb are
skipped (listed under "skipped"): Newton and the reference both hold them, several times over
in the reference's associative scan.

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR), Fig. 2 and Table 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np

from genjax.timing import machine, timed
from genjax import fixedpoint
from genjax.fixedpoint import cells

METHODS = {
    "sequential": fixedpoint.sequential,
    "newton": fixedpoint.newton,                            # J by jax.jacfwd, as the reference
    "newton_jacobian": lambda: fixedpoint.newton(cells.gru.jacobian),   # the GRU's closed-form J
    # the GRU's step and closed-form diagonal from one gate evaluation per step and sweep
    "quasi_newton": lambda: fixedpoint.quasi_newton(value_and_diagonal=cells.gru.value_and_diagonal),
    "quasi_newton_diagonal": lambda: fixedpoint.quasi_newton(cells.gru.diagonal),  # step + diagonal
    "quasi_newton_exact": fixedpoint.quasi_newton,          # n JVPs per step, no closed form
    "quasi_elk": lambda: fixedpoint.damped(
        0.1, fixedpoint.quasi_newton(value_and_diagonal=cells.gru.value_and_diagonal)),
    "jacobi": fixedpoint.jacobi,
}


def memory_mb(compiled) -> float:
    """Working-set upper bound from XLA's buffer assignment (``compiled.memory_analysis()``)."""
    stats = compiled.memory_analysis()
    if stats is None:
        return float("nan")
    total = (stats.argument_size_in_bytes + stats.output_size_in_bytes
             + stats.temp_size_in_bytes - stats.alias_size_in_bytes)
    return total / 2**20


def load_reference(path: str):
    """``(seq1d, DEER)`` from a checkout of machine-discovery/deer, without installing it.

    Its package ``__init__`` also imports the implicit-DAE solver, which needs optimistix (not a
    dependency here and unused by ``seq1d``): a stub module stands in when it is missing.
    """
    if not os.path.isdir(os.path.join(path, "deer")):
        raise SystemExit(f"--reference: {path} has no deer/ package (a checkout of machine-discovery/deer)")
    try:
        import optimistix  # noqa: F401
    except ImportError:
        sys.modules["optimistix"] = types.ModuleType("optimistix")
    sys.path.insert(0, os.path.abspath(path))
    from deer.fseq1d import DEER, seq1d
    return seq1d, DEER


def problem(n, T, batch):
    k_p, k_x = jax.random.split(jax.random.key(0))
    params = cells.gru.init(2, n, k_p)
    xs = jax.random.normal(k_x, (batch, T, 2))
    return params, jnp.zeros((batch, n)), xs


def prepare_genjax(method_name, args, tol, rtol):
    """(compiled, compile_seconds, hs, row) for one genjax method on ``args`` (not yet timed)."""
    method = METHODS[method_name]()
    kw = {} if method_name == "sequential" else dict(tol=tol, rtol=rtol)

    def run(params, h0, xs):
        return jax.vmap(lambda h, x: fixedpoint.solve(cells.gru.step, h, x, params, method, **kw))(h0, xs)

    (hs, info), compile_s, _, compiled = timed(jax.jit(run), args, 1)
    return compiled, args, hs, {"method": method_name, "compile_seconds": compile_s,
                                "iterations": int(np.max(info.num_iters)),
                                "converged": bool(np.all(info.converged)),
                                "peak_memory_mb": memory_mb(compiled)}


def prepare_reference(reference, args):
    """The same for the reference's ``seq1d(..., DEER())``, with its sweep count found by search."""
    seq1d, DEER = reference

    def run(params, h0, xs, max_iter):
        return jax.vmap(lambda h, x: seq1d(cells.gru.step, h, x, params, DEER(max_iter=max_iter)))(h0, xs)

    unlimited = (*args, 10000)    # the reference's default max_iter
    res, compile_s, _, compiled = timed(jax.jit(run), unlimited, 1)
    fn = jax.jit(run)
    iterations = next((k for k in range(1, 101)
                       if bool(jnp.array_equal(fn(*args, k).value, res.value))), -1)
    return compiled, unlimited, res.value, {"method": "deer_reference", "compile_seconds": compile_s,
                                            "iterations": iterations, "converged": bool(np.all(res.success)),
                                            "peak_memory_mb": memory_mb(compiled)}


def interleaved_seconds(prepared, repeats):
    """[repeats, methods] wall times, one call of every method per round (block_until_ready).

    On a shared machine the load drifts; timing the methods in turn, round after round, exposes
    them to the same load, and per-round ratios cancel most of it."""
    out = np.zeros((repeats, len(prepared)))
    for r in range(repeats):
        for j, (compiled, args, _, _) in enumerate(prepared):
            start = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            out[r, j] = time.perf_counter() - start
    return out


def _ints(text):
    return [int(float(v)) for v in text.split(",") if v]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n in {4, 16}, T = 1000, batch 1")
    parser.add_argument("--reference", default=None, help="path of a machine-discovery/deer checkout")
    parser.add_argument("--methods", default="newton,newton_jacobian,quasi_newton")
    parser.add_argument("--ns", default="4,16,64")
    parser.add_argument("--Ts", default="1000,10000,100000")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--tol", type=float, default=1e-4, help="absolute part of the stopping rule")
    parser.add_argument("--rtol", type=float, default=1e-3, help="relative part of the stopping rule")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--max-jacobian-mb", type=float, default=800.0)
    args = parser.parse_args(argv)
    if args.quick:
        args.ns, args.Ts, args.batches, args.repeats = "4,16", "1000", "1", 3
    methods = [m for m in args.methods.split(",") if m and m != "sequential"]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {sorted(METHODS)}")
    reference = load_reference(args.reference) if args.reference else None
    rows, skipped, start = [], [], time.time()
    for n in _ints(args.ns):
        for T in _ints(args.Ts):
            for batch in _ints(args.batches):
                config = {"n": n, "T": T, "batch": batch}
                if T * batch * n * n * 4 / 2**20 > args.max_jacobian_mb:
                    skipped.append(config)
                    continue
                inputs = problem(n, T, batch)
                prepared = [prepare_genjax("sequential", inputs, args.tol, args.rtol)]
                if reference is not None:
                    prepared.append(prepare_reference(reference, inputs))
                prepared += [prepare_genjax(name, inputs, args.tol, args.rtol) for name in methods]
                times = interleaved_seconds(prepared, args.repeats)            # [repeats, methods]
                ref_hs = prepared[0][2]
                for j, (_, _, hs, row) in enumerate(prepared):
                    row.update(config, seconds=float(np.median(times[:, j])),
                               ratio_to_sequential=float(np.median(times[:, j] / times[:, 0])),
                               max_abs_error=float(jnp.max(jnp.abs(hs - ref_hs))))
                    if reference is not None:
                        row["ratio_to_reference"] = float(np.median(times[:, j] / times[:, 1]))
                    rows.append(row)
                    print(f"# {row['method']:18s} n={n} T={T} B={batch}: {row['seconds'] * 1e3:9.2f} ms "
                          f"({row['iterations']} sweeps, err {row['max_abs_error']:.1e}, compile "
                          f"{row['compile_seconds']:.2f} s, / reference {row.get('ratio_to_reference', 0):.2f}) "
                          f"[{time.time() - start:.0f}s]", file=sys.stderr, flush=True)
    print(json.dumps({
        "benchmark": "deer", "settings": vars(args), "results": rows, "skipped": skipped,
        "machine": machine(),
        "seconds_total": time.time() - start,
    }, indent=1))


if __name__ == "__main__":
    main()
