"""Executes notebooks/samplers.ipynb with small settings (GENJAX_NB_QUICK=1) via nbclient."""
import re

from tests.notebook_runner import run_quick


def test_samplers_notebook_runs_quick(monkeypatch):
    nb, out = run_quick("samplers.ipynb", monkeypatch)
    assert "QUICK=True" in out
    # likelihood vs closed form: RK4 error ~1e-5 plus the default prior's neglect of
    # alpha(1) x_0 (alpha(1) = 6.6e-3, |x_T| alpha |m| <= 0.05)
    lik = float(re.search(r"max \|log_prob - closed form\| = ([0-9.eE+-]+)", out).group(1))
    assert lik < 0.05
    # classifier guidance with the exact classifier == conditional denoiser (float32)
    clf = float(re.search(r"max \|D_classifier - D_conditional\| = ([0-9.eE+-]+)", out).group(1))
    assert clf < 1e-3
    # guidance moves mass to component 1: w = 4 assigns (nearly) all samples to it
    shares = {float(w): float(v) for w, v in re.findall(r"w=\s*([-0-9.]+): share assigned to component 1 = ([0-9.]+)", out)}
    assert shares[4.0] > 0.95 and shares[4.0] > shares[-1.0]
    # the parallel-in-time section: sweeps < steps, and the sequential answer up to the tolerance
    # (tol 1e-3 relative to the per-step noise std; measured <= 6e-4 at 50 steps)
    assert any(c.cell_type == "markdown" and "Parallel-in-time sampling" in c.source for c in nb.cells)
    par = re.findall(r"parallel .*?: +(\d+) sweeps for (\d+) steps.*?max \|x_par - x_seq\| = ([0-9.eE+-]+), "
                     r"converged=(\w+)", out)
    assert len(par) >= 3
    for sweeps, steps, err, conv in par:
        assert int(sweeps) < int(steps) and float(err) < 2e-3 and conv == "True"
