"""Helpers shared by the likelihood-family figure scripts (not a figure script itself).

``train_config(name, workdir, steps, **overrides)`` trains ``experiments/configs/<name>.py:runlocal``
with the one trainer; ``heldout_batch`` is the digits *test* split (or fresh toy samples) in the
trainer's model space; ``heldout_metrics`` averages the Task's ``evaluate`` over a few
dequantization draws.
"""
from __future__ import annotations

import importlib
import time

import jax
import numpy as np

from experiments import train
from genjax.data import digits


def config(name: str, steps: int, overrides: dict | None = None):
    """``experiments/configs/<name>.py:runlocal`` with ``steps`` steps and dotted ``overrides``."""
    cfg = importlib.import_module(f"experiments.configs.{name}").get_config("runlocal")
    cfg.training.num_steps = int(steps)
    cfg.training.checkpoint_every = 10**9          # one checkpoint, at exit
    cfg.training.log_every = max(int(steps) // 5, 1)
    for dotted, value in (overrides or {}).items():
        node = cfg
        *path, last = dotted.split(".")
        for p in path:
            node = node[p]
        node[last] = value
    return cfg


def train_config(name: str, workdir: str, steps: int, overrides: dict | None = None):
    """Train (or resume) the config; returns (Result, seconds, config)."""
    cfg = config(name, steps, overrides)
    t0 = time.perf_counter()
    res = train.run(cfg, workdir)
    return res, time.perf_counter() - t0, cfg


def heldout_batch(cfg, data, n_toy: int = 2000) -> dict:
    """Digits test split (359 images) or ``n_toy`` fresh toy samples, in the trainer's model space."""
    if cfg.data.source == "digits":
        images, _ = digits.load("test")
        return {"x": 2.0 * (images.astype(np.float32) + 0.5) / digits.NUM_LEVELS - 1.0}
    return {"x": data.reference(n_toy, jax.random.key(20240))}


def heldout_metrics(task, params, batch, repeats: int = 4, seed: int = 0) -> dict:
    """Mean of ``task.evaluate`` over ``repeats`` keys (dequantization noise, VAE samples)."""
    evaluate = jax.jit(task.evaluate)
    rows = [jax.device_get(evaluate(params, batch, jax.random.key(seed + r))) for r in range(repeats)]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
