"""Executes notebooks/train_rectified_flow.ipynb with tiny settings (GENJAX_NB_QUICK=1) via nbclient."""
import re

from tests.notebook_runner import run_quick


def test_train_rectified_flow_notebook_runs_quick(monkeypatch):
    _, out = run_quick("train_rectified_flow.ipynb", monkeypatch)
    assert "QUICK=True" in out
    num = r"([-0-9.eE+]+)"
    untrained = float(re.search(r"untrained net, 8 Euler steps: " + num, out).group(1))
    trained = float(re.search(r"1-RF, 8 Euler steps: " + num, out).group(1))
    # 300 steps already move the samples onto the moons: the energy distance to the data drops
    # by far more than its sampling noise (~0.01 at 512 samples)
    assert trained < 0.5 * untrained, (trained, untrained)
    fm, rf = (float(v) for v in re.search(r"final losses: flow matching " + num + r"\s+reflow " + num, out).groups())
    # the ReFlow loss is on a deterministic coupling (no irreducible variance), the flow-matching
    # loss on the independent one (irreducible E Var(z - x0 | x_t) of order 1)
    assert rf < 0.5 * fm, (rf, fm)
    s1, s2 = (float(v) for v in re.search(r"1-RF S = " + num + r", 2-RF S = " + num, out).groups())
    # ReFlow straightens the paths (observed 0.93 -> 0.003 at these settings; a factor 2 is loose)
    assert s2 < 0.5 * s1, (s1, s2)
