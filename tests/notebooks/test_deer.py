"""Executes notebooks/deer.ipynb with small settings (GENJAX_NB_QUICK=1, T = 64) via nbclient.

The notebook asserts its own numbers (DEER == sequential to 1e-4, Newton error < 1e-5 after six
sweeps, implicit gradients == backprop to 1e-3 relative, fallback == sequential); this test
also checks the printed values.
"""
import re

from tests.notebook_runner import run_quick


def test_deer_notebook_runs_quick(monkeypatch):
    _, out = run_quick("deer.ipynb", monkeypatch)
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
