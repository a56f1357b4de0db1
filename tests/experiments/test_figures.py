"""`make figures QUICK=1`: every registered figure script's --quick mode writes its PNG + CSV.

One runner call (module scope, two scripts at a time, each its own subprocess, XLA:CPU's expensive
passes off) runs every non-digits script once; the digits figures (``figures.DIGITS``) are tested
beside their models. Cost: 16 subprocesses of ~3 s CPU start-up (JAX, genjax, matplotlib) plus
their compiles; the persistent compile cache (tests/conftest.py) serves the compiles of a re-run.
The registry is also checked against docs/figures/: every committed PNG has a script of that name.
"""
import csv
import os
import pathlib

import pytest

from experiments.papers import figures

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUICK = [f for f in figures.REGISTRY if f not in figures.DIGITS]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    runs = tmp_path_factory.mktemp("figures_quick")
    cwd = os.getcwd()
    os.chdir(ROOT)                      # the scripts run as `python -m experiments.papers...` from the root
    try:
        rc = figures.main(["--quick", "--jobs", "2", "--runs", str(runs),
                           "--only", ",".join(f.name for f in QUICK)])
    finally:
        os.chdir(cwd)
    return runs, rc


@pytest.mark.figures   # make test-figures (CI runs it after make test)
def test_every_quick_script_succeeds(quick_runs):
    runs, rc = quick_runs
    logs = {p.stem: p.read_text()[-2000:] for p in (runs / "logs").glob("*.log")}
    failed = [f.name for f in QUICK if not (runs / f"{f.name}.png").exists()]
    assert rc == 0 and not failed, {name: logs.get(name) for name in failed}


@pytest.mark.figures   # make test-figures (CI runs it after make test)
@pytest.mark.parametrize("fig", QUICK, ids=lambda f: f.name)
def test_quick_script_writes_png_and_csv(quick_runs, fig):
    runs, _ = quick_runs
    png, table = runs / f"{fig.name}.png", runs / f"{fig.name}.csv"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5_000, png      # a real, non-empty image
    with open(table) as f:
        rows = list(csv.reader(f))
    assert len(rows) >= 2 and len(rows[0]) >= 2, rows[:3]                                 # a header and data


def test_registry_matches_docs_figures():
    """Every PNG in docs/figures has a registered script writing that name, and vice versa."""
    committed = {p.stem for p in (ROOT / "docs" / "figures").glob("*.png")}
    registered = {f.name for f in figures.ALL}
    assert committed - registered == set(), "PNG without a script"
    assert {f.name for f in figures.REGISTRY} - committed == set(), "script without a committed PNG"
    for f in figures.ALL:
        paper, script = f.module.split(".")[-2:]
        assert f.name == f"{paper}_{script}" and (ROOT / "experiments" / "papers" / paper / f"{script}.py").exists()


def test_runner_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="--only: unknown"):
        figures.main(["--only", "no_such_figure", "--runs", str(tmp_path)])
    with pytest.raises(ValueError, match="--out: quick figures never overwrite"):
        figures.main(["--quick", "--out", figures.DOCS, "--runs", str(tmp_path), "--only", "data_toy2d"])
    with pytest.raises(ValueError, match="--jobs"):
        figures.main(["--jobs", "0"])


def test_runner_reports_a_failing_script(tmp_path):
    """A script that crashes is reported (non-zero exit, nothing copied) without stopping the run."""
    bad = figures.Figure("nope_missing", "experiments.papers.no_such_module")
    r = figures.run_one(bad, str(tmp_path / "runs"), str(tmp_path / "out"), True, str(tmp_path / "logs"))
    assert r["rc"] != 0 and not r["ok"] and r["missing"] == ["png", "csv"]
    assert not (tmp_path / "out").exists()
    assert "No module named" in (tmp_path / "logs" / "nope_missing.log").read_text()
