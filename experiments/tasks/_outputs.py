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


def truncate_metrics(path: str, step: int) -> int:
    """Drop the rows of a metrics.jsonl with "step" > ``step`` (and a torn last line); return how many.

    A run killed after logging step s but before checkpointing it resumes from an earlier step
    and logs s again; truncating to the restored step keeps exactly one row per logged step. The
    file is replaced atomically (write to a temporary file, ``os.replace``).
    """
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        lines = f.read().splitlines()
    keep = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill mid-write
        if not isinstance(row, dict) or int(row.get("step", 0)) <= step:
            keep.append(line)
    dropped = len(lines) - len(keep)
    if dropped:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in keep))
        os.replace(tmp, path)
    return dropped


class MetricWriter:
    """Appends {"step": s, **metrics} lines to workdir/metrics.jsonl and TensorBoard scalars.

    ``resume_step``: the step a resumed run starts from. Rows logged after it by the previous run
    (lost work) are removed from metrics.jsonl, and TensorBoard gets a ``SessionLog.START`` event
    at that step, which makes TensorBoard discard the earlier run's events past it.
    """

    def __init__(self, workdir: str, enabled: bool = True, resume_step: int | None = None):
        self.enabled = enabled
        self._tb = None
        if not enabled:
            return
        path = os.path.join(workdir, "metrics.jsonl")
        if resume_step is not None:
            dropped = truncate_metrics(path, resume_step)
            if dropped:
                log.warning("metrics.jsonl: removed %d rows logged after step %d (the resumed step)", dropped,
                            resume_step)
        self._file = open(path, "a")
        try:
            from tensorboardX import SummaryWriter
            self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
        except ImportError:  # TensorBoard events are optional; metrics.jsonl is always written
            log.warning("tensorboardX is not installed: writing metrics.jsonl only")
        if self._tb is not None and resume_step is not None:
            from tensorboardX.proto import event_pb2

            event = event_pb2.Event(wall_time=time.time(), step=int(resume_step),
                                    session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START))
            self._tb._get_file_writer().add_event(event)

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
    """Scatter plot of 2-D points, a grid of images ([n, H, W, C] in [-1, 1]), else nothing (PNG)."""
    from genjax import plotting

    samples = np.asarray(samples)
    if samples.ndim == 2 and samples.shape[1] == 2:
        plotting.scatter(samples, path, title=title or None, dpi=90)
    elif samples.ndim == 4 and samples.shape[-1] in (1, 3):
        plotting.image_grid(samples[:64], path, title=title or None, dpi=90)
    else:
        log.info("no figure for samples of shape %s", samples.shape)


def write_json(obj: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
