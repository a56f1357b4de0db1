"""What every figure script writes beside its PNG: the CSV of the plotted numbers and a JSON summary.

* ``write_csv(path, rows, fields=None)``: rows (dicts) under one header, by default the union of
  their keys in first-seen order (a key a row lacks is left empty).
* ``write_json(path, payload)``: the payload plus ``machine`` (``genjax.timing.machine()``: where
  it ran, which versions).
"""
from __future__ import annotations

import csv
import json
from typing import Optional, Sequence

from genjax.timing import machine


def write_csv(path: str, rows: Sequence[dict], fields: Optional[Sequence[str]] = None) -> None:
    """rows -> CSV at path; ``fields`` fixes the columns and their order."""
    if fields is None:
        fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        w.writeheader()
        w.writerows(rows)


def write_json(path: str, payload: dict) -> None:
    """payload + {"machine": machine()} -> indented JSON (floats of any NumPy type as floats)."""
    with open(path, "w") as f:
        json.dump(dict(payload, machine=machine()), f, indent=1, default=float)
