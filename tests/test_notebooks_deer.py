"""Executes notebooks/deer.ipynb with small settings (GENJAX_NB_QUICK=1, T = 64) via nbclient.

The notebook asserts its own numbers (DEER == sequential to 1e-4, Newton error < 1e-5 after six
sweeps, implicit gradients == backprop to 1e-3 relative, fallback == sequential); this test
also checks the printed values.
"""
import pathlib
import re

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "deer.ipynb"


def _stdout(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")


def test_deer_notebook_runs_quick(monkeypatch):
    monkeypatch.setenv("GENJAX_NB_QUICK", "1")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".cache" / "jax"))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    out = _stdout(nb)
    assert "QUICK=True, T=64" in out
    # seed example: Newton matches the sequential scan (float32, tol 1e-5 -> error <= 1e-4)
    err = float(re.search(r"max \|DEER - sequential\| = ([0-9.eE+-]+)", out).group(1))
    assert err < 1e-4
    # every GRU method converged and matched the scan
    assert len(re.findall(r"converged=True error=", out)) == 3
    assert "fell_back=Array(True" in out
    rel = float(re.search(r"max relative gradient difference \(float32\) = ([0-9.eE+-]+)",
                          out).group(1))
    assert rel < 1e-3
