"""The workdir lock (genjax/train/lock.py): exclusive and released; a live owner refuses; a stale lock
is reported and taken over."""
import json
import os
import socket
import subprocess
import sys

import pytest

from genjax.train.lock import LOCK_NAME, WorkdirLock, WorkdirLocked


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


