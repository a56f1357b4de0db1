"""What the trainer writes into the workdir: metrics.jsonl, TensorBoard events, figures, JSON.

Only process 0 writes (``jax.process_index() == 0``); the other processes get no-op writers.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sys
import time

import jax
import numpy as np

log = logging.getLogger("genjax.train")


def check_workdir(workdir) -> str:
    """The absolute workdir, created; ValueError naming --workdir when it cannot be written."""
    if not workdir:
        raise ValueError("--workdir is required (a directory for checkpoints, logs and samples)")
    path = os.path.abspath(os.path.expanduser(os.fspath(workdir)))
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write_test_{os.getpid()}_{jax.process_index()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"--workdir {path!r} cannot be written: {e}") from e
    return path


def _to_float(v):
    v = np.asarray(v)
    return bool(v) if v.dtype == np.bool_ else float(v)


class MetricWriter:
    """Appends {"step": s, **metrics} lines to workdir/metrics.jsonl and TensorBoard scalars."""

    def __init__(self, workdir: str, enabled: bool = True):
        self.enabled = enabled
        self._tb = None
        if not enabled:
            return
        self._file = open(os.path.join(workdir, "metrics.jsonl"), "a")
        try:
            from tensorboardX import SummaryWriter
            self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
        except ImportError:  # TensorBoard events are optional; metrics.jsonl is always written
            log.warning("tensorboardX is not installed: writing metrics.jsonl only")

    def write(self, step: int, metrics: dict) -> None:
        if not self.enabled:
            return
        row = {"step": int(step), **{k: _to_float(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, float) and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.enabled:
            self._file.close()
            if self._tb is not None:
                self._tb.close()


class Progress:
    """tqdm bar with steps/s on an interactive terminal, plain log lines every ``every`` steps otherwise."""

    def __init__(self, start: int, total: int, enabled: bool = True):
        self._bar = None
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            self._bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)
        self._last_step, self._last_time = start, time.perf_counter()

    def update(self, step: int, metrics: dict) -> float:
        """Report reaching ``step``; returns steps/s since the previous report."""
        now = time.perf_counter()
        rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        self._last_step, self._last_time = step, now
        if not self.enabled:
            return rate
        shown = {k: f"{_to_float(v):.4g}" for k, v in metrics.items() if k in ("loss", "grad_norm")}
        if self._bar is not None:
            self._bar.n = step
            self._bar.set_postfix(shown, refresh=True)
        else:
            log.info("step %d  %s  %.1f steps/s", step, "  ".join(f"{k}={v}" for k, v in shown.items()), rate)
        return rate

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def save_figure(samples: np.ndarray, path: str, title: str = "") -> None:
    """Scatter plot of 2-D points or a grid of images ([n, H, W, C] in [-1, 1]) as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = np.asarray(samples)
    if samples.ndim == 2:
        fig, ax = plt.subplots(figsize=(4, 4), dpi=90)
        x = samples if samples.shape[1] >= 2 else np.concatenate([samples, np.zeros_like(samples)], 1)
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5)
        ax.set_aspect("equal")
    else:
        imgs = samples if samples.ndim == 4 else samples[..., None]
        n = min(len(imgs), 64)
        cols = int(math.ceil(math.sqrt(n)))
        rows = int(math.ceil(n / cols))
        h, w, c = imgs.shape[1:]
        grid = np.ones((rows * (h + 1), cols * (w + 1), c), np.float32)
        for i in range(n):
            r, q = divmod(i, cols)
            grid[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = (imgs[i] + 1) / 2
        fig, ax = plt.subplots(figsize=(4, 4 * rows / cols), dpi=90)
        ax.imshow(np.clip(grid.squeeze(-1) if c == 1 else grid, 0, 1), cmap="gray" if c == 1 else None)
        ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_json(obj: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
