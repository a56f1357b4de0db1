"""Executes notebooks/train_rectified_flow.ipynb with tiny settings (GENJAX_NB_QUICK=1) via nbclient."""
import pathlib
import re

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "train_rectified_flow.ipynb"


def _stdout(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")


def test_train_rectified_flow_notebook_runs_quick(monkeypatch):
    monkeypatch.setenv("GENJAX_NB_QUICK", "1")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel shares the test suite's persistent compile cache
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".cache" / "jax"))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    out = _stdout(nb)
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
