"""A run is never lost (subprocesses): SIGTERM saves the current step, Ctrl-C never crashes, the lock
refuses a second trainer, an unwritable checkpoints/ exits at once with one message.

Trainers run as ``python -m experiments.train`` with 8 CPU devices, like the in-process runs of
the test suite (tests/conftest.py), so a subprocess's checkpoint can be compared bit for bit with
an in-process reference run of the same config.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from experiments import train
from genjax.train import checkpoint
from genjax.train.lock import WorkdirLocked
from tests.conftest import trainer_env
from tests.experiments.test_trainer_safety import config

ROOT = pathlib.Path(__file__).resolve().parents[2]
NET = {"model.net_kwargs.features": "(16,16)", "model.net_kwargs.embed_dim": 8}


def _cmd(workdir, **overrides):
    flags = [f"--config.{k}={v}" for k, v in {**NET, **overrides}.items()]
    return [sys.executable, "-m", "experiments.train",
            f"--config={ROOT}/experiments/configs/toy2d_flow_matching.py:runlocal",
            f"--workdir={workdir}", "--num_cpu_devices=8", *flags]


def _start(workdir, **overrides):
    return subprocess.Popen(_cmd(workdir, **overrides), cwd=ROOT, env=trainer_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_training(proc, workdir, timeout=300):
    """Block until the run has logged a training row (it is past compilation, inside the loop)."""
    metrics, deadline = workdir / "metrics.jsonl", time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        if metrics.exists() and metrics.stat().st_size > 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"the run never started training:\n{proc.communicate()[1][-3000:]}")


def _read(workdir, step):
    return checkpoint.Checkpointer(str(workdir / "checkpoints"), read_only=True).read(step)


def _assert_same(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)  # bitwise


def test_sigterm_saves_the_current_step_and_the_lock_refuses_a_second_trainer(tmp_path):
    wd = tmp_path / "preempted"
    # log_every=1: the first row appears after one step, so the signal lands early and the
    # in-process reference below has few steps to repeat
    proc = _start(wd, **{"training.num_steps": 100_000, "training.checkpoint_every": 100_000,
                         "training.log_every": 1})
    try:
        _wait_training(proc, wd)
        t0 = time.perf_counter()
        with pytest.raises(WorkdirLocked, match=rf"in use by another run .*pid {proc.pid}"):
            train.run(config(**{"training.num_steps": 100_000}), str(wd))
        assert time.perf_counter() - t0 < 5.0  # refused before any compilation
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err[-3000:]
    step = int(re.search(r"stopped by SIGTERM at step (\d+); checkpoint of step \1 committed", err).group(1))
    ckpt = checkpoint.Checkpointer(str(wd / "checkpoints"), read_only=True)
    assert ckpt.complete_steps() == [step] and 0 < step < 100_000, step
    assert not (wd / "LOCK").exists()  # released on the way out

    # An uninterrupted run to step + 2 passes through the same state at `step`; the preempted run,
    # resumed, reaches the same state at step + 2.
    ref = tmp_path / "reference"
    train.run(config(**{"training.num_steps": step + 2, "training.checkpoint_every": step}), str(ref))
    _assert_same(_read(wd, step), _read(ref, step))
    train.run(config(**{"training.num_steps": step + 2, "training.checkpoint_every": 100_000,
                        "training.log_every": 1}), str(wd), allow_config_change=True)
    _assert_same(_read(wd, step + 2), _read(ref, step + 2))


def test_sigint_at_random_times_never_crashes(tmp_path):
    """20 SIGINTs: 10 at random moments of one run's start-up, 10 in a burst during another's training."""
    rng = np.random.default_rng(0)
    runs = {name: (tmp_path / name, _start(tmp_path / name, **{"training.num_steps": 100_000,
                                                               "training.checkpoint_every": 100_000,
                                                               "training.log_every": 1}))
            for name in ("startup", "training")}
    try:
        time.sleep(rng.uniform(0.5, 3.0))
        for _ in range(10):
            runs["startup"][1].send_signal(signal.SIGINT)
            time.sleep(rng.uniform(0.0, 0.3))
        _wait_training(runs["training"][1], runs["training"][0])
        for _ in range(10):
            runs["training"][1].send_signal(signal.SIGINT)
            time.sleep(rng.uniform(0.0, 0.02))
        errs = {name: proc.communicate(timeout=120)[1] for name, (_, proc) in runs.items()}
    finally:
        for _, proc in runs.values():
            proc.kill()
    for name, (wd, proc) in runs.items():
        err = errs[name]
        assert proc.returncode == 130, (name, err[-3000:])
        assert "Traceback" not in err and "has been deleted" not in err, (name, err[-3000:])
        assert err.rstrip().splitlines()[-1].startswith("stopped"), (name, err[-500:])
    step = int(re.search(r"checkpoint of step (\d+) committed", errs["training"]).group(1))
    assert int(_read(runs["training"][0], step)["step"]) == step  # the interrupted step, saved and readable


def _make_unwritable(path):
    if os.geteuid() == 0:  # root ignores permissions; the immutable attribute still stops it
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode:
            pytest.skip("running as root without chattr: cannot make a directory unwritable")
        return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    path.chmod(0o555)
    return lambda: path.chmod(0o755)


@pytest.mark.parametrize("when", ["at_start", "mid_run"])
def test_unwritable_checkpoints_dir_exits_fast_with_one_message(tmp_path, when):
    wd = tmp_path / "run"
    ckpts = wd / "checkpoints"
    ckpts.mkdir(parents=True)
    undo = _make_unwritable(ckpts) if when == "at_start" else None
    try:
        proc = _start(wd, **{"training.num_steps": 100_000, "training.checkpoint_every": 20,
                             "training.log_every": 10})
        t0 = time.time()
        if when == "mid_run":
            first = ckpts / "20" / "commit_success.txt"
            while not first.exists() and proc.poll() is None:
                time.sleep(0.01)
            undo = _make_unwritable(ckpts)
            t0 = time.time()
        _, err = proc.communicate(timeout=60)
        elapsed = time.time() - t0
    finally:
        proc.kill()
        if undo is not None:
            undo()
    assert elapsed < 30, elapsed
    assert proc.returncode == 1, err[-3000:]
    last = err.rstrip().splitlines()[-1]
    pattern = rf"error: (cannot write|writing) checkpoints (to )?{re.escape(str(ckpts))}.*\[Errno \d+\]"
    assert re.match(pattern, last), err[-3000:]
    assert "Traceback" not in err, err[-3000:]
