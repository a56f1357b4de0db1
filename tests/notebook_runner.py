"""Runs a notebook under nbclient with the quick settings and returns its printed output."""
import pathlib

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_quick(name: str, monkeypatch):
    """Execute ``notebooks/<name>`` with GENJAX_NB_QUICK=1 on CPU: (executed notebook, stdout).

    The kernel shares the test suite's persistent compile cache (``JAX_COMPILATION_CACHE_DIR``, set by conftest).
    """
    monkeypatch.setenv("GENJAX_NB_QUICK", "1")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    path = ROOT / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "stream")
    return nb, out
