"""The trainer's run-safety pieces on their own: workdir lock, config identity, checksums, stop signals."""
import json
import os
import signal
import socket
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from genjax.train import identity, integrity, preemption
from genjax.train.lock import LOCK_NAME, WorkdirLock, WorkdirLocked


# --- lock -----------------------------------------------------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _write_lock(d, **owner):
    (d / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "started": "then", "argv": ["x"], **owner}))


def test_lock_is_exclusive_and_released(tmp_path):
    a = WorkdirLock(tmp_path).acquire()
    owner = json.loads((tmp_path / LOCK_NAME).read_text())
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    with pytest.raises(WorkdirLocked, match="already held by this process"):
        WorkdirLock(tmp_path).acquire()
    a.release()
    assert not (tmp_path / LOCK_NAME).exists()
    assert sorted(os.listdir(tmp_path)) == []  # no temporary files left behind
    with WorkdirLock(tmp_path):  # free again
        assert (tmp_path / LOCK_NAME).exists()


def test_live_owner_refuses_with_its_identity(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_lock(tmp_path, pid=sleeper.pid)
        with pytest.raises(WorkdirLocked, match=rf"in use by another run .*pid {sleeper.pid}.*delete .*{LOCK_NAME}"):
            WorkdirLock(tmp_path).acquire()
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == sleeper.pid  # untouched
    finally:
        sleeper.kill()
        sleeper.wait()
    _write_lock(tmp_path, host="another-host", pid=1)  # another host: cannot tell, so refuse
    with pytest.raises(WorkdirLocked, match="'another-host'"):
        WorkdirLock(tmp_path).acquire()


@pytest.mark.parametrize("how", ["dead_pid", "reused_pid", "garbage"])
def test_stale_lock_is_reported_and_taken_over(tmp_path, caplog, how):
    if how == "dead_pid":
        _write_lock(tmp_path, pid=_dead_pid())
    elif how == "reused_pid":  # our own, live pid but another start time: the pid was reused
        _write_lock(tmp_path, pid=os.getppid(), proc_start="1")
    else:
        (tmp_path / LOCK_NAME).write_text("{not json")
    lock = WorkdirLock(tmp_path).acquire()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert "took over the stale workdir lock" in caplog.text
    assert lock.took_over is not None
    lock.release()


# --- identity -------------------------------------------------------------------------------------
POLICY = identity.Policy(free=("log.*",), tunable=("optim.lr", "steps"), zero_is_structural=("optim.clip",))


def test_diff_and_classify():
    old = {"log": {"every": 10}, "optim": {"lr": 1e-3, "clip": 1.0}, "steps": 5, "net": {"features": [64, 64]}}
    new = {"log": {"every": 20}, "optim": {"lr": 1e-4, "clip": 0.0}, "steps": 5, "net": {"features": (64, 64)},
           "extra": 1}
    changes = identity.diff(old, new)
    assert changes == {"log.every": (10, 20), "optim.lr": (1e-3, 1e-4), "optim.clip": (1.0, 0.0),
                       "extra": (identity.MISSING, 1)}  # lists and tuples compare equal (JSON round trip)
    assert identity.classify(changes, POLICY) == {"free": ["log.every"], "tunable": ["optim.lr"],
                                                  "fixed": ["extra", "optim.clip"]}  # sorted
    assert identity.classify({"optim.clip": (1.0, 2.0)}, POLICY)["tunable"] == ["optim.clip"]
    assert "config.optim.lr: 0.001 -> 0.0001" in identity.format_changes(changes)


def test_effective_replays_recorded_changes():
    first = {"optim": {"lr": 1.0}, "steps": 5}
    rows = [{"changes": {"optim.lr": [1.0, 2.0]}}, {"changes": {"steps": [5, 9], "optim.lr": [2.0, 3.0]}}]
    assert identity.effective(first, rows) == {"optim": {"lr": 3.0}, "steps": 9}
    assert first == {"optim": {"lr": 1.0}, "steps": 5}  # not modified


# --- integrity ------------------------------------------------------------------------------------
def _tree():
    return {"w": jnp.arange(12.0).reshape(3, 4), "b": np.arange(5, dtype=np.int32), "s": jnp.float32(2.0)}


def test_manifest_catches_every_single_byte_flip():
    tree = _tree()
    m = integrity.manifest(tree)
    integrity.verify(m, tree)  # intact
    raw = bytearray(np.asarray(tree["w"]).tobytes())
    for pos in range(len(raw)):  # CRC-32 detects every burst of <= 32 bits: all 48 flips are caught
        bad = bytearray(raw)
        bad[pos] ^= 0x01
        flipped = dict(tree, w=np.frombuffer(bytes(bad), np.float32).reshape(3, 4))
        with pytest.raises(integrity.IntegrityError, match=r"leaf \['w'\]") as e:
            integrity.verify(m, flipped)
        assert e.value.leaf == "['w']"


def test_manifest_structure_and_self_check():
    m = integrity.manifest(_tree())
    assert integrity.compare_structure(m, _tree()) == []
    other = dict(_tree(), w=jnp.zeros((4, 4)))
    assert integrity.compare_structure(m, other) == ["['w']: checkpoint float32(3, 4) vs model float32(4, 4)"]
    damaged = json.loads(json.dumps(m))
    damaged["leaves"]["['b']"]["shape"] = [6]  # e.g. a flipped digit in the manifest file
    with pytest.raises(integrity.IntegrityError, match="manifest is damaged"):
        integrity.compare_structure(damaged, _tree())


# --- stop signals ---------------------------------------------------------------------------------
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_only_sets_a_flag(signum, code):
    before = signal.getsignal(signum)
    stop = preemption.StopSignal().install()
    try:
        assert not stop.should_stop(0)
        os.kill(os.getpid(), signum)  # handled between bytecodes: no exception here
        os.kill(os.getpid(), signum)  # a second one is ignored too
        assert stop.should_stop(1) and stop.signum == signum
    finally:
        stop.restore()
    assert signal.getsignal(signum) is before
    assert preemption.Preempted(signum, 7, True).exit_code == code
    pending = preemption.StopSignal(pending=[signal.SIGINT])  # recorded before install (start-up)
    assert pending.should_stop(0) and pending.signum == signal.SIGINT
