"""Sample metrics of the trainer's eval: model samples against the data (``config.eval.sample_metrics``).

``sample_metrics(x, ref, names, key, config=None, mesh=None) -> {name: float}``; ``x`` are EMA samples
and ``ref`` data samples, both in model space.

- "mmd2", "energy_distance", "sliced_wasserstein": ``genjax.metrics`` on the flattened samples.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from genjax import metrics as gm


def _flat(x):
    return jnp.asarray(np.asarray(x, np.float32).reshape(len(x), -1))


def sample_metrics(x, ref, names, key, config=None, mesh=None) -> dict:
    """Sample metrics of model samples x against data ref; ValueError naming config.eval.sample_metrics."""
    del config, mesh
    table = {"mmd2": lambda a, b: gm.mmd2(a, b), "energy_distance": gm.energy_distance,
             "sliced_wasserstein": lambda a, b: gm.sliced_wasserstein(a, b, key)}
    for name in names:
        if name not in table:
            raise ValueError(f"unknown sample metric {name!r} (config.eval.sample_metrics); choose from {sorted(table)}")
    a, b = _flat(x), _flat(ref)
    return {name: float(table[name](a, b)) for name in names}


def log_eval(workdir: str, step: int, out: dict) -> None:
    """Appends the eval results to workdir/metrics.jsonl and TensorBoard as ``eval/<name>`` at ``step``."""
    from experiments.tasks import _outputs

    writer = _outputs.MetricWriter(workdir)
    try:
        writer.write(step, {f"eval/{k}": v for k, v in out.items() if k != "step"})
    finally:
        writer.close()
