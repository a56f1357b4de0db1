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


def train_direct(cfg, steps: int):
    """The trainer's Task and input pipeline on one device, without checkpoints (for tests).

    Builds ``experiments.tasks.inputs.build`` and ``experiments.tasks.build`` exactly as
    ``experiments.train.run`` does, then loops the jitted ``task.train_step`` ``steps`` times.
    Returns ``(init_state, final_state, data, task)``.
    """
    from experiments import tasks
    from experiments.tasks import inputs
    from genjax.train import sharding

    mesh = sharding.data_mesh(jax.devices()[:1])
    data = inputs.build(cfg, mesh, jax.random.key(1))
    task = tasks.build(cfg, data, "")
    state0 = jax.jit(task.init)(jax.random.key(int(cfg.seed)))
    data_key, train_key = jax.random.key(2), jax.random.key(3)
    step = jax.jit(lambda s, feed: task.train_step(s, data.to_batch(s.step, data_key, feed), train_key))
    feeds = data.feeds(0) if data.feeds is not None else None
    state, metrics = state0, None
    for _ in range(int(steps)):                    # compiled once; a step costs milliseconds
        state, metrics = step(state, None if feeds is None else next(feeds))
    if metrics is not None and not bool(metrics["finite"]):
        raise FloatingPointError("train_direct: the last step was not finite")
    return state0, state, data, task


def improvement(name: str, steps: int, through_trainer: str | None = None):
    """Held-out bits/dim of config ``name`` (``:runlocal``) at init and after ``steps`` steps.

    ``through_trainer``: a workdir to train in with ``experiments.train.run`` (8 devices, orbax);
    otherwise ``train_direct``. Returns (metric name, before, after, task, trained params) with
    the Task's ``evaluate`` at a fixed key on ``heldout_batch``.
    """
    cfg = config(name, steps)
    if through_trainer is not None:
        res = train.run(cfg, through_trainer)
        init = jax.jit(res.task.init)(jax.random.key(int(cfg.seed)))
        final, data, task = res.state, res.data, res.task
    else:
        init, final, data, task = train_direct(cfg, steps)
    batch = heldout_batch(cfg, data)
    evaluate = jax.jit(task.evaluate)
    key = jax.random.key(7)
    before = jax.device_get(evaluate(init.params, batch, key))
    after = jax.device_get(evaluate(final.ema_params, batch, key))
    metric = sorted(k for k in before if k.endswith("bits_per_dim"))[0]
    return metric, float(before[metric]), float(after[metric]), task, final.ema_params
