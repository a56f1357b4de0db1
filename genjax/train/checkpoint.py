"""Checkpoints with checksums: save every N steps, keep the last K, restore the latest good one.

``Checkpointer(directory, every=N, keep=K)`` wraps an orbax ``CheckpointManager``: ``save``
writes the ``TrainState`` every N steps (asynchronously; ``force=True`` at exit), keeps the last
K, and ``restore`` returns the latest *good* checkpoint, placed with the shardings of a template
state. Each step directory holds two orbax items committed together: ``default`` (the state) and
``manifest`` (``genjax.train.integrity``: shape, dtype and ``zlib.crc32`` of every leaf, plus the
manifest's own crc32), written and verified by ``checkpoint_io`` (the only module that imports
orbax). A step directory is good when

1. orbax finalised it (its ``commit_success.txt`` marker exists; orbax writes into a temporary
   directory and marks it only when every process has finished),
2. its manifest is intact and the template has the manifest's paths, shapes and dtypes
   (otherwise the *config* does not fit the checkpoint: ``CheckpointMismatch`` is raised and
   nothing is touched),
3. it restores without error, the restored ``state.step`` equals the directory's step, and
4. every restored leaf has its manifest checksum.

Only a directory whose own data fails 1, 3 or 4 (a run killed mid-save, a disk that filled up, a
flipped bit) is moved aside to ``<directory>.broken/`` with a warning naming the step (and the
leaf), and the previous checkpoint is tried. ``read_only=True`` (the trainer's eval / sample
modes) never creates, moves or deletes anything: damaged steps are only skipped. Checkpoints
written before manifests existed restore with a warning that they cannot be verified.

Write failures (an unwritable or full disk) raise ``CheckpointError`` naming the path and the
errno, at construction (a probe file) or at the next ``save`` / ``wait`` after an asynchronous
save failed.

References: Orbax documentation, "Checkpointing PyTrees" / ``CheckpointManager``.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from typing import Any

import jax
from jax.experimental import multihost_utils

from genjax.train import checkpoint_io as step_io
from genjax.train import integrity
from genjax.train.checkpoint_io import CheckpointMismatch, abstract_like

__all__ = ["CheckpointError", "CheckpointMismatch", "Checkpointer", "abstract_like"]

PyTree = Any
log = logging.getLogger(__name__)


class CheckpointError(OSError):
    """A checkpoint could not be written or read (the message names the path and the errno)."""


def _describe(e: BaseException) -> str:
    """'[Errno 13] Permission denied: /path' for OS errors (also when wrapped), else the exception."""
    seen = e
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return f"[Errno {seen.errno}] {seen.strerror}: {seen.filename or ''}".rstrip(": ")
        seen = seen.__cause__ or seen.__context__
    return f"{type(e).__name__}: {str(e)[:300]}"


class Checkpointer:
    """Save every ``every`` steps (and when forced), keep the last ``keep``, restore the latest good one.

    Args:
      directory: where step directories live (made absolute; created if missing unless read-only).
      every: save interval in steps (``save`` is a no-op between intervals unless forced).
      keep: how many of the most recent checkpoints to keep (None: all).
      async_save: write in a background thread (orbax async checkpointing).
      read_only: never create, write, move or delete anything (``save`` raises).
    """

    def __init__(self, directory: str, *, every: int = 1000, keep: int | None = 3, async_save: bool = True,
                 read_only: bool = False):
        if every < 1:
            raise ValueError(f"Checkpointer: every must be >= 1, got {every}")
        if keep is not None and keep < 1:
            raise ValueError(f"Checkpointer: keep must be >= 1 or None, got {keep}")
        self.directory = os.path.abspath(os.fspath(directory))
        self.every, self.keep, self.async_save, self.read_only = every, keep, async_save, read_only
        if not read_only:
            self._probe()
        self._manager = self._open()

    def _probe(self) -> None:
        """Fail now, with the path and errno, if the directory cannot be created or written."""
        try:
            os.makedirs(self.directory, exist_ok=True)
            probe = os.path.join(self.directory, f".write_test_{os.getpid()}_{jax.process_index()}")
            with open(probe, "w") as f:
                f.write("ok")
            os.remove(probe)
        except OSError as e:
            error = CheckpointError(f"cannot write checkpoints to {self.directory}: {_describe(e)}")
            error.errno = e.errno
            raise error from e

    def _open(self):
        return step_io.open_manager(self.directory, self.keep, self.async_save, self.read_only)

    # --- queries ----------------------------------------------------------------------------------
    def all_steps(self) -> list[int]:
        """Steps orbax lists (complete or not), ascending."""
        return sorted(self._manager.all_steps())

    def complete_steps(self) -> list[int]:
        """Steps whose directory carries orbax's commit marker, ascending."""
        return [s for s in self.all_steps() if step_io.committed(self._manager, s)]

    def latest_step(self) -> int | None:
        steps = self.complete_steps()
        return steps[-1] if steps else None

    # --- save / restore ---------------------------------------------------------------------------
    def save(self, state: PyTree, *, force: bool = False) -> bool:
        """Save ``state`` at ``int(state.step)`` if on the interval (or ``force``); return whether it did.

        The manifest (per-leaf crc32) is computed from the state on the host before the
        asynchronous write starts and is committed in the same step directory.
        """
        if self.read_only:
            raise CheckpointError(f"Checkpointer({self.directory}) is read-only")
        step = int(jax.device_get(state.step))
        if step in self._manager.all_steps() or not (force or step % self.every == 0):
            return False
        try:
            return bool(self._manager.save(step, args=step_io.save_items(state), force=True))
        except Exception as e:  # noqa: BLE001 - a failed (earlier async or this) save: one clear error
            raise CheckpointError(f"writing checkpoints to {self.directory} failed (step {step}, or the "
                                  f"asynchronous save before it): {_describe(e)}") from e

    def restore(self, template: PyTree) -> PyTree | None:
        """The latest good checkpoint shaped and sharded like ``template``; None if there is none.

        Damaged step directories are moved to ``<directory>.broken/`` (by process 0, after every
        process has looked at them; never when read-only) and the previous one is tried.
        ``CheckpointMismatch`` (nothing moved) when an intact checkpoint does not fit the template.
        """
        self.wait()
        plan = step_io.restore_plan(template)
        broken, restored = [], None
        for step in reversed(self.all_steps()):
            reason = None
            if not step_io.committed(self._manager, step):
                reason = f"no {step_io.COMMIT} (half-written)"
            else:
                try:
                    restored = step_io.restore_step(self._manager, step, plan, template)
                except CheckpointMismatch:
                    raise
                except integrity.IntegrityError as e:
                    reason = str(e)
                except Exception as e:  # noqa: BLE001 - any other read failure means "damaged" ...
                    if step_io.permission_denied(e):  # ... except a permission problem: the data may be fine
                        raise CheckpointError(f"cannot read checkpoint {step} in {self.directory}: "
                                              f"{_describe(e)}") from e
                    reason = f"{type(e).__name__}: {str(e)[:200]}"
            if reason is None:
                break
            log.warning("checkpoint %d (%s) is damaged: %s; falling back to the previous one",
                        step, step_io.step_dir(self._manager, step), reason)
            broken.append(step)
        if broken and not self.read_only:
            self._quarantine(broken)
        return restored

    def read(self, step: int | None = None) -> dict:
        """A checkpoint as host numpy arrays without a template (default: the latest complete one).

        The TrainState comes back as the nested dict orbax stored ({"step", "params", "opt_state",
        "ema_params"}); for inspection and comparison, not for resuming (use ``restore``).
        """
        step = self.latest_step() if step is None else step
        if step is None or step not in self.complete_steps():
            raise ValueError(f"no complete checkpoint {step} in {self.directory}")
        self.wait()
        return step_io.read_arrays(self._manager, step)

    def _quarantine(self, steps: list[int]) -> None:
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("genjax_checkpoint_quarantine")
        if jax.process_index() == 0:
            target = self.directory.rstrip("/") + ".broken"
            os.makedirs(target, exist_ok=True)
            for step in steps:
                dest = os.path.join(target, f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
                shutil.move(step_io.step_dir(self._manager, step), dest)
                log.warning("moved damaged checkpoint %d to %s", step, dest)
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("genjax_checkpoint_quarantine_done")
        self._manager.close()
        self._manager = self._open()

    def wait(self) -> None:
        """Block until pending asynchronous saves are on disk; ``CheckpointError`` if one failed."""
        try:
            self._manager.wait_until_finished()
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"writing a checkpoint to {self.directory} failed: {_describe(e)}") from e

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._manager.close()
