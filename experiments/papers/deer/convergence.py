"""Sweeps to converge and error against lax.scan for every fixed-point method (DEER, ELK).

    python -m experiments.papers.deer.convergence --workdir runs/deer_convergence [--quick]

Two GRUs (n = 16 hidden units, inputs N(0, 1)):

  * a random GRU (recurrent weights N(0, 1/n)): contractive, Newton converges in a handful of
    sweeps (Lim et al. 2024, Fig. 3);
  * an unstable GRU (recurrent weights scaled by --gain, default 2.5): long stretches of
    expanding Jacobian products, where undamped Newton's linearised solves throw the iterate far
    out (|h| >> 1 for a GRU whose states lie in [-1, 1]) and it needs hundreds of sweeps, while
    the damped (ELK, Kalman-filter) sweeps of Gonzalez et al. 2024 stay bounded and converge
    several times faster (their Fig. 2). At gain >= 3 the GRU is chaotic and no method converges
    in fewer than ~T sweeps.

For each method (newton, quasi_newton with the GRU's closed-form diagonal, ELK, quasi-ELK,
picard, jacobi) the script records, sweep by sweep, the max error against the sequential scan
and the relative fixed-point residual, and the sweeps ``solve`` needs to converge (tol 1e-5,
float32), capped at T + 1.

Outputs under --workdir: deer_convergence.png, deer_convergence.csv (system, method, sweep,
error, residual) and deer_convergence.json (iterations to converge, final errors, settings).

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR); Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of Nonlinear
RNNs" (NeurIPS).
"""
from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from genjax import fixedpoint
from genjax.fixedpoint import cells


def methods(strength: float) -> dict:
    diag = cells.gru.diagonal
    return {
        "newton": fixedpoint.newton(),
        "quasi_newton": fixedpoint.quasi_newton(diag),
        "elk": fixedpoint.damped(strength),
        "quasi_elk": fixedpoint.damped(strength, fixedpoint.quasi_newton(diag)),
        "picard": fixedpoint.picard(),
        "jacobi": fixedpoint.jacobi(),
    }


def system(gain: float, n: int, T: int, seed: int):
    """A GRU with recurrent matrices scaled by ``gain``: (params, h0 [n], xs [T, 1])."""
    k_p, k_x = jax.random.split(jax.random.key(seed))
    params = cells.gru.init(1, n, k_p)
    params = {k: gain * v if k.startswith("U") else v for k, v in params.items()}
    return params, jnp.zeros(n), jax.random.normal(k_x, (T, 1))


@functools.partial(jax.jit, static_argnums=(0, 5))
def _trace(method, params, h0, xs, ref, sweeps: int):
    def body(hs, _):
        hs, info = fixedpoint.solve(cells.gru.step, h0, xs, params, method, init=hs, num_iters=1)
        return hs, (jnp.max(jnp.abs(hs - ref)), info.residual)

    return jax.lax.scan(body, jnp.broadcast_to(h0, ref.shape), None, length=sweeps)[1]


@functools.partial(jax.jit, static_argnums=(0, 4))
def _solve(method, params, h0, xs, max_iters: int):
    return fixedpoint.solve(cells.gru.step, h0, xs, params, method, max_iters=max_iters)


def trace(method, params, h0, xs, ref, sweeps: int):
    """Error and residual after each of ``sweeps`` single sweeps (one compiled lax.scan per
    method, shared by both systems: params and inputs are arguments, not constants)."""
    errors, residuals = _trace(method, params, h0, xs, ref, sweeps)
    rows = [(0, float(jnp.max(jnp.abs(h0[None] - ref))), float("nan"))]
    rows += [(k + 1, float(e), float(r)) for k, (e, r) in enumerate(zip(errors, residuals))]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--quick", action="store_true",
                        help="tiny run (T = 64, 20 sweeps; no ELK / quasi-ELK, whose compile dominates)")
    parser.add_argument("--T", type=int, default=1000)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--sweeps", type=int, default=250)
    parser.add_argument("--gain", type=float, default=2.5)
    parser.add_argument("--strength", type=float, default=0.01, help="ELK lambda")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.T, args.sweeps = 64, 20
    os.makedirs(args.workdir, exist_ok=True)
    start = time.time()
    rows, summary = [], {}
    all_methods = methods(args.strength)            # built once: the compiled functions are reused
    if args.quick:                                  # ELK's Kalman smoother compiles for minutes on 2 cores
        all_methods = {k: v for k, v in all_methods.items() if k not in ("elk", "quasi_elk")}
    for sys_name, gain in (("random", 1.0), ("unstable", args.gain)):
        params, h0, xs = system(gain, args.n, args.T, args.seed)
        ref = fixedpoint.sequential_scan(cells.gru.step, h0, xs, params)
        for name, method in all_methods.items():
            for k, err, res in trace(method, params, h0, xs, ref, args.sweeps):
                rows.append((sys_name, name, k, err, res))
            hs, info = _solve(method, params, h0, xs, args.T + 1)
            summary[f"{sys_name}/{name}"] = {
                "converged": bool(info.converged), "num_iters": int(info.num_iters),
                "error_vs_sequential": float(jnp.max(jnp.abs(hs - ref))),
                "residual": float(info.residual)}
            print(f"{sys_name:9s} {name:13s} converged={bool(info.converged)!s:5s} "
                  f"sweeps={int(info.num_iters):5d} error={summary[f'{sys_name}/{name}']['error_vs_sequential']:.2e}"
                  f"  [{time.time() - start:.0f}s]", flush=True)

    with open(os.path.join(args.workdir, "deer_convergence.csv"), "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["system", "method", "sweep", "error", "residual"])
        writer.writerows(rows)
    with open(os.path.join(args.workdir, "deer_convergence.json"), "w") as fh:
        json.dump({"settings": vars(args), "summary": summary, "jax": jax.__version__,
                   "backend": jax.default_backend(), "seconds": time.time() - start}, fh, indent=2)
    plot(rows, summary, args, os.path.join(args.workdir, "deer_convergence.png"))
    print(f"wrote {args.workdir}/deer_convergence.{{png,csv,json}}")


CLIP = 1e8   # errors above this (or non-finite) are divergence: the curve stops and is marked


def plot(rows, summary, args, path):
    """Error per sweep; where a curve exceeds ``CLIP`` (or overflows) it has a gap, its first crossing marked ^."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5.4), sharey=True)
    for ax, sys_name in zip(axes, ("random", "unstable")):
        for i, name in enumerate(methods(args.strength)):
            if f"{sys_name}/{name}" not in summary:
                continue
            k, e = np.array([(kk, ee) for s, m, kk, ee, _ in rows if s == sys_name and m == name]).T
            info = summary[f"{sys_name}/{name}"]
            tag = f"{info['num_iters']} sweeps" if info["converged"] else "no conv."
            bad = ~np.isfinite(e) | (e > CLIP)
            color = f"C{i}"
            ax.semilogy(k, np.where(bad, np.nan, e), color=color, lw=1.4)   # gaps where it diverged
            if bad.any():
                first = int(np.argmax(bad))
                ax.semilogy([k[first]], [CLIP], "^", color=color, ms=8)
                tag += f"; > 1e8 at {int(bad.sum())}/{len(k)} sweeps"
            ax.plot([], [], color=color, lw=1.4, label=f"{name} ({tag})")
        ax.axhline(1e-5, color="k", lw=0.5, ls=":")
        ax.axhline(CLIP, color="0.5", lw=0.5, ls="--")
        gain = 1.0 if sys_name == "random" else args.gain
        ax.set_title(f"{sys_name} GRU (n={args.n}, T={args.T}, gain {gain:g})")
        ax.set_xlabel("sweep")
        ax.set_ylim(1e-8, 1e9)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1,
                  title="sweeps to tol 1e-5; ^: error first > 1e8 (no line above 1e8)", title_fontsize=7)
    axes[0].set_ylabel("max |h - h_sequential|")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
