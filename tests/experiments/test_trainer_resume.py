"""Preemption: a run SIGKILLed mid-training and restarted with the same command ends bit-identical.

Both runs are subprocesses of ``python -m experiments.train`` with the same flags and 2 CPU
devices: the reference runs uninterrupted; the other is killed (SIGKILL, no chance to save) as
soon as its first checkpoint is complete, then started again with the same command. Keys and
batches are pure functions of (seed, step) and the checkpoint holds the whole TrainState, so the
final parameters must be *equal*, not close. Two families: flow matching (the single-player step)
and WGAN-GP (the multi-player step of ``genjax.train.players``: two players, one partitioned
optimizer state, n_critic = 5 critic updates per step, the generator's EMA).
"""
import json
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from genjax.train import checkpoint
from tests.conftest import trainer_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
STEPS, EVERY = 600, 50
# A larger batch than :runlocal makes each step ~ms, so the run is still going when the first
# checkpoint lands.
COMMON = {"training.num_steps": STEPS, "training.checkpoint_every": EVERY, "training.log_every": EVERY}
CONFIGS = {"toy2d_flow_matching": dict(COMMON, **{"training.batch_size": 512}),
           "toy2d_wgan_gp": dict(COMMON, **{"training.batch_size": 5 * 128})}


def _cmd(config, workdir):
    flags = [f"--config.{k}={v}" for k, v in CONFIGS[config].items()]
    return [sys.executable, "-m", "experiments.train", f"--config={ROOT}/experiments/configs/{config}.py:runlocal",
            f"--workdir={workdir}", "--num_cpu_devices=2", *flags]


def _final_state(workdir):
    state = checkpoint.Checkpointer(str(workdir / "checkpoints")).read()
    assert int(state["step"]) == STEPS
    return state


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_sigkill_and_resume_gives_identical_parameters(config, tmp_path):
    ref, pre = tmp_path / "reference", tmp_path / "preempted"
    reference = subprocess.Popen(_cmd(config, ref), cwd=ROOT, env=trainer_env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
    proc = subprocess.Popen(_cmd(config, pre), cwd=ROOT, env=trainer_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    marker = pre / "checkpoints" / str(EVERY) / "commit_success.txt"
    deadline = time.time() + 600
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done = [int(p.name) for p in (pre / "checkpoints").iterdir() if (p / "commit_success.txt").exists()]
    assert 0 < max(done) < STEPS, done  # killed mid-training, with a checkpoint to resume from

    assert (pre / "LOCK").exists()  # the killed run could not release its workdir lock
    rerun = subprocess.run(_cmd(config, pre), cwd=ROOT, env=trainer_env(), capture_output=True, timeout=600, text=True)
    if rerun.returncode != 0:   # the resumed run's own report, untruncated
        pytest.fail(f"the resumed run exited with {rerun.returncode}:\n{rerun.stderr[-6000:]}", pytrace=False)
    assert f"took over the stale workdir lock {pre / 'LOCK'}" in rerun.stderr  # reported, then taken over
    assert not (pre / "LOCK").exists()
    _, err = reference.communicate(timeout=600)
    assert reference.returncode == 0, err.decode()[-2000:]
    steps_logged = [json.loads(line)["step"] for line in (pre / "metrics.jsonl").read_text().splitlines()]
    # exactly one row per logged step: rows the killed run logged after its last checkpoint were
    # dropped when the second run resumed from that checkpoint
    assert steps_logged == list(range(EVERY, STEPS + 1, EVERY))

    a, b = _final_state(ref), _final_state(pre)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)  # bitwise identical: params, optimizer state, EMA
    if config == "toy2d_wgan_gp":             # both players and their optimizer states were compared
        assert set(b["params"]) == {"generator", "critic"} and set(b["opt_state"]) >= {"inner_states"}, b.keys()
