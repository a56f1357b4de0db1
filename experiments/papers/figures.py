"""Regenerate every figure in docs/figures/ from its script: ``make figures [QUICK=1]``.

    python -m experiments.papers.figures [--quick] [--only deer_speed,edm_sampler_error]
                                         [--out docs/figures] [--runs runs/figures] [--list]

Every figure script ``experiments/papers/<paper>/<name>.py`` writes ``<paper>_<name>.png`` and
``<paper>_<name>.csv`` into its ``--workdir``. This runner runs each registered script as its own
subprocess (a fresh JAX per script, so one crash does not stop the rest) with
``--workdir <runs>/<paper>_<name>``, prints each script's wall and CPU seconds, copies the PNG and
CSV into ``--out``, and exits non-zero if any script failed or did not write both files.

``--quick`` runs every script's ``--quick`` mode into ``runs/figures_quick/`` and never writes
into docs/figures (``--out`` defaults to the quick workdir itself); its subprocesses compile with
XLA:CPU's expensive optimisation passes off (``QUICK_XLA_FLAGS``: 2-3x faster compiles, for a
smoke run whose numbers are not kept). Training runs live in the
workdirs, so a second full run resumes them instead of training again.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

DOCS = "docs/figures"
QUICK_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


class Figure(NamedTuple):
    """One figure script: ``python -m <module> --workdir W [args] [--quick]`` writes ``<name>.png/.csv``."""
    name: str                 # <paper>_<script>, the file stem in docs/figures
    module: str               # experiments.papers.<paper>.<script>
    args: tuple = ()          # extra arguments of the full run
    quick_args: tuple = ()    # extra arguments of the --quick run


def _fig(paper: str, script: str, args: tuple = (), quick_args: tuple = ()) -> Figure:
    return Figure(f"{paper}_{script}", f"experiments.papers.{paper}.{script}", args, quick_args)


REGISTRY: tuple[Figure, ...] = (
    _fig("data", "toy2d"),
    _fig("deer", "convergence"),
    _fig("deer", "speed"),
    _fig("deer", "training"),
    _fig("edm", "sampler_error"),
    _fig("paradigms", "parallel_sampling"),
    _fig("rectified_flow", "straightening"),
    _fig("wgan_gp", "fig1_critic_contours"),
    _fig("wgan_gp", "mode_coverage"),
    _fig("monoflow", "gaussian_toy"),
    _fig("ebm", "energy_landscapes"),
    _fig("pfgm", "trajectories"),
    _fig("realnvp", "two_moons"),
    _fig("ffjord", "toy_densities"),
    _fig("glow", "digits_samples"),
    _fig("likelihood_table", "bits_per_dim"),
)

# ---- digits figures (issue 16): the scripts on the trained digits models, which share the models
# ---- cached by experiments.papers.digits.models. Their entries go HERE (the owner of
# ---- experiments/papers/digits adds them; tests/experiments/test_figures.py skips names listed in
# ---- DIGITS, which have their own tests).
DIGITS: tuple[Figure, ...] = (
    _fig("digits", "samples"),
    _fig("edm", "digits_nfe"),
    _fig("edm", "digits_churn"),
    _fig("analytic_dpm", "digits_table"),
    _fig("guidance", "digits_cfg"),
    _fig("likelihood_table", "diffusion_digits"),
    _fig("rectified_flow", "digits_steps"),
)

ALL: tuple[Figure, ...] = REGISTRY + DIGITS


def select(only: str | None) -> list[Figure]:
    """The registered figures named in ``only`` (comma-separated; all when empty), in registry order."""
    if not only:
        return list(ALL)
    names = [n.strip() for n in only.split(",") if n.strip()]
    known = {f.name for f in ALL}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--only: unknown figure(s) {unknown}; choose from {sorted(known)}")
    return [f for f in ALL if f.name in names]


def command(fig: Figure, workdir: str, quick: bool) -> list[str]:
    """The subprocess command line of one figure."""
    extra = ["--quick", *fig.quick_args] if quick else list(fig.args)
    return [sys.executable, "-m", fig.module, "--workdir", workdir, *extra]


def run_one(fig: Figure, runs: str, out: str, quick: bool, log_dir: str) -> dict:
    """Run one script in a subprocess; copy its PNG + CSV to ``out``. Returns a status dict."""
    workdir = os.path.join(runs, fig.name)
    os.makedirs(workdir, exist_ok=True)
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, f"{fig.name}.log")
    t0 = time.perf_counter()
    env = dict(os.environ, MPLBACKEND="Agg")
    if quick:      # a smoke run: XLA:CPU compiles 2-3x faster without its expensive optimisation passes
        env["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {QUICK_XLA_FLAGS}".strip()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command(fig, workdir, quick), stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)          # this child's own CPU time
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    missing = [ext for ext in ("png", "csv") if not os.path.exists(os.path.join(workdir, f"{fig.name}.{ext}"))]
    if rc == 0 and not missing and os.path.abspath(out) != os.path.abspath(workdir):
        os.makedirs(out, exist_ok=True)
        for ext in ("png", "csv"):
            shutil.copy2(os.path.join(workdir, f"{fig.name}.{ext}"), os.path.join(out, f"{fig.name}.{ext}"))
    return {"name": fig.name, "rc": rc, "missing": missing, "wall_s": wall, "cpu_s": cpu, "log": log_path,
            "ok": rc == 0 and not missing}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every script's --quick mode, into runs/figures_quick")
    ap.add_argument("--only", default="", help="comma-separated figure names (default: all)")
    ap.add_argument("--out", default=None, help=f"where the PNG + CSV go (default {DOCS}; quick: its workdirs)")
    ap.add_argument("--runs", default=None, help="workdir root (default runs/figures; quick runs/figures_quick)")
    ap.add_argument("--jobs", type=int, default=1, help="scripts run at the same time (default 1)")
    ap.add_argument("--list", action="store_true", help="print the registered figures and exit")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    figures = select(args.only)
    if args.list:
        for f in figures:
            print(f"{f.name:36s} python -m {f.module} {' '.join(f.args)}")
        return 0
    runs = args.runs or ("runs/figures_quick" if args.quick else "runs/figures")
    out = args.out or (runs if args.quick else DOCS)
    if args.quick and os.path.abspath(out) == os.path.abspath(DOCS):
        raise ValueError(f"--out: quick figures never overwrite {DOCS}; pass another folder")
    log_dir = os.path.join(runs, "logs")
    start = time.perf_counter()

    def one(i_fig):
        i, fig = i_fig
        print(f"[{i}/{len(figures)}] {fig.name}: python -m {fig.module}{' --quick' if args.quick else ''}",
              flush=True)
        r = run_one(fig, runs, out, args.quick, log_dir)
        status = "ok" if r["ok"] else f"FAILED (exit {r['rc']}, missing {r['missing']}; see {r['log']})"
        print(f"[{i}/{len(figures)}] {fig.name}: {status}, {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU",
              flush=True)
        return r

    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, enumerate(figures, 1)))
    failed = [r["name"] for r in results if not r["ok"]]
    total, cpu = time.perf_counter() - start, sum(r["cpu_s"] for r in results)
    print(f"{len(results) - len(failed)}/{len(results)} figures written to {out} in {total:.0f} s wall, {cpu:.0f} s CPU"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
