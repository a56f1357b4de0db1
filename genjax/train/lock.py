"""One run per workdir: an atomically created lock file naming its owner (host, pid, start time).

``WorkdirLock(workdir).acquire()`` writes ``<workdir>/LOCK`` = JSON {"host", "pid", "proc_start",
"started", "argv"}. The file is written in full under a temporary name and then hard-linked to
``LOCK`` (``os.link`` fails if ``LOCK`` exists), so a reader never sees a half-written lock and
two processes can never both succeed. When ``LOCK`` exists:

- held by a live process (same host, pid alive with the same kernel start time, or another host):
  ``WorkdirLocked`` names the owner and how to remove a lock left by a dead run;
- held by a dead process on this host (pid gone, a zombie that exited but was not yet reaped, or
  the pid reused by another process, detected through the state and start time in ``/proc/<pid>/stat``): the stale lock is reported with a warning and taken
  over (renamed aside first, so two processes taking over the same stale lock cannot both win).

``release()`` removes ``LOCK`` only if it is still ours. On multi-host runs only process 0 takes
the lock (the caller decides); a lock on a shared file system then covers the whole job.

References: POSIX ``link(2)`` (atomic create-if-absent); Linux ``proc(5)`` (``/proc/<pid>/stat``
field 22, the process start time in clock ticks since boot).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
import uuid

LOCK_NAME = "LOCK"
log = logging.getLogger(__name__)
_HELD: set[str] = set()  # lock paths held by this process (a second acquire here is refused too)


class WorkdirLocked(RuntimeError):
    """Another live run owns the workdir."""


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` from field 3 (state) on, or None off Linux / if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()  # fields after "(comm)" start at field 3


def _proc_start(pid: int) -> str | None:
    """The kernel start time of ``pid`` (``/proc/<pid>/stat`` field 22), or None off Linux / if gone."""
    fields = _proc_stat(pid)
    return None if fields is None else fields[19]


def _alive(owner: dict) -> bool:
    """Whether the lock's owner may still be running (always True for another host: we cannot tell)."""
    if owner.get("host") != socket.gethostname():
        return True
    pid = int(owner.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    fields = _proc_stat(pid)
    if fields is not None and fields[0] in ("Z", "X"):
        return False  # a zombie (exited, not yet reaped by its parent) runs nothing
    start = owner.get("proc_start")
    now = None if fields is None else fields[19]
    return start is None or now is None or start == now  # a different start time: the pid was reused


def describe(owner: dict) -> str:
    return (f"host {owner.get('host')!r}, pid {owner.get('pid')}, started {owner.get('started')}, "
            f"command {' '.join(owner.get('argv', [])) or '?'}")


class WorkdirLock:
    """The lock of one workdir (``<workdir>/LOCK``); a context manager."""

    def __init__(self, workdir: str):
        self.path = os.path.join(os.path.abspath(os.fspath(workdir)), LOCK_NAME)
        self.took_over: dict | None = None  # the stale owner replaced by acquire(), if any

    def _me(self) -> dict:
        return {"host": socket.gethostname(), "pid": os.getpid(), "proc_start": _proc_start(os.getpid()),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": list(sys.argv), "token": uuid.uuid4().hex}

    def owner(self) -> dict | None:
        """The current lock's content (None if there is no lock; {} if it cannot be parsed)."""
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def acquire(self) -> "WorkdirLock":
        """Take the lock or raise ``WorkdirLocked``; a stale lock of a dead process is taken over."""
        if self.path in _HELD:
            raise WorkdirLocked(f"the workdir lock {self.path} is already held by this process (a run in progress)")
        me = self._me()
        tmp = f"{self.path}.{me['token']}.tmp"
        with open(tmp, "w") as f:
            json.dump(me, f)
            f.flush()
            os.fsync(f.fileno())
        try:
            for _ in range(5):
                try:
                    os.link(tmp, self.path)
                    self._token = me["token"]
                    _HELD.add(self.path)
                    return self
                except FileExistsError:
                    pass
                owner = self.owner()
                if owner is None:
                    continue  # released meanwhile: try again
                if owner and _alive(owner):
                    raise WorkdirLocked(
                        f"the workdir is in use by another run ({describe(owner)}); lock file {self.path}. "
                        f"Wait for it to finish or use another --workdir; if that run is dead (e.g. on "
                        f"another host), delete {self.path}.")
                self._take_over(owner)
            raise WorkdirLocked(f"could not take the workdir lock {self.path}: it keeps changing hands")
        finally:
            os.remove(tmp)

    def _take_over(self, stale: dict) -> None:
        """Move a stale lock aside (only if it is still the same stale lock) so the next link succeeds."""
        aside = f"{self.path}.stale.{uuid.uuid4().hex}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            with open(aside) as f:
                moved = json.load(f)
        except (OSError, ValueError):
            moved = {}
        if moved != stale and moved and _alive(moved):  # someone else took it over first: put theirs back
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
        else:
            self.took_over = stale
            log.warning("took over the stale workdir lock %s of a process that is no longer running (%s)",
                        self.path, describe(stale) if stale else "unreadable lock file")
        os.remove(aside)

    def release(self) -> None:
        """Remove the lock if this process holds it."""
        if self.path not in _HELD:
            return
        _HELD.discard(self.path)
        owner = self.owner()
        if owner and owner.get("token") == getattr(self, "_token", None):
            os.remove(self.path)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
