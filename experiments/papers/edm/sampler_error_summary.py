"""The summary of ``experiments.papers.edm.sampler_error``: errors at a reference NFE and the NFE
Euler needs to match Heun / DPM-Solver++ there (log-log interpolation of Euler's error curve).

Rows are the script's CSV rows (dicts with schedule, grid, solver, nfe, ode_err, sw, sw_floor).
"""
from __future__ import annotations

import math


def _at(rows, schedule, grid, solver, nfe, key="ode_err"):
    for r in rows:
        if (r["schedule"], r["grid"], r["solver"], r["nfe"]) == (schedule, grid, solver, nfe):
            return r[key]
    return math.nan


def _euler_nfe_to_match(rows, schedule, grid, target):
    """NFE Euler needs for ode_err <= target: log-log interpolation of its curve (inf if never)."""
    pts = sorted((r["nfe"], r["ode_err"]) for r in rows
                 if (r["schedule"], r["grid"], r["solver"]) == (schedule, grid, "euler"))
    for (n0, e0), (n1, e1) in zip(pts, pts[1:]):
        if e0 > target >= e1:
            w = (math.log(e0) - math.log(target)) / (math.log(e0) - math.log(e1))
            return math.exp(math.log(n0) + w * (math.log(n1) - math.log(n0)))
    if pts and pts[0][1] <= target:
        return float(pts[0][0])
    # beyond the sweep: extrapolate with Euler's first-order rate from its last point
    n_last, e_last = pts[-1]
    return n_last * e_last / target


def summarize(rows, names, grids, nfe_ref=16):
    """{"schedule/grid": {"<solver>@16": ODE error, "euler_nfe_to_match_<solver>@16": NFE, "sw_...": ...}}."""
    table = {}
    for name in names:
        for grid in grids:
            entry = {f"{solver}@{nfe_ref}": _at(rows, name, grid, solver, nfe_ref) for solver in
                     ("euler", "heun", "rk4", "ddim", "dpm_solver_pp2")}
            for solver in ("heun", "dpm_solver_pp2"):
                entry[f"euler_nfe_to_match_{solver}@{nfe_ref}"] = _euler_nfe_to_match(
                    rows, name, grid, entry[f"{solver}@{nfe_ref}"])
            entry["sw_floor"] = next(r["sw_floor"] for r in rows if r["schedule"] == name)
            entry.update({f"sw_{solver}@{nfe_ref}": _at(rows, name, grid, solver, nfe_ref, "sw") for solver in
                          ("euler", "heun", "dpm_solver_pp2", "euler_maruyama", "edm_churn")})
            table[f"{name}/{grid}"] = entry
    return table


COLUMNS = {"euler": "euler@16", "heun": "heun@16", "rk4": "rk4@16", "ddim": "ddim@16",
           "dpm++2M": "dpm_solver_pp2@16", "E=heun": "euler_nfe_to_match_heun@16",
           "E=dpm++": "euler_nfe_to_match_dpm_solver_pp2@16"}


def print_summary(table, batch):
    """The table as text: ODE endpoint error at 16 NFE, then Euler's matching NFE (E=...)."""
    print(f"\nODE endpoint error at 16 NFE, and the NFE Euler needs to match (E=; batch {batch}):")
    print(f"{'schedule/grid':18s} " + " ".join(f"{c:>9s}" for c in COLUMNS))
    for k, e in table.items():
        print(f"{k:18s} " + " ".join(f"{e[v]:9.0f}" if c.startswith("E=") else f"{e[v]:9.2e}"
                                      for c, v in COLUMNS.items()))
