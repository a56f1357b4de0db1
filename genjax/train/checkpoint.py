"""Checkpoints with orbax (the only module of the repository that imports orbax).

``Checkpointer(directory, every=N, keep=K)`` wraps an orbax ``CheckpointManager``: ``save``
writes the ``TrainState`` every N steps (asynchronously; ``force=True`` at exit), keeps the last
K, and ``restore`` returns the latest *complete* checkpoint, placed with the shardings of a
template state. A step directory counts as complete when

1. orbax finalised it (its ``commit_success.txt`` marker exists; orbax writes into a temporary
   directory and marks it only when every process has finished),
2. it restores without error, and
3. the restored ``state.step`` equals the directory's step.

A directory failing any test (a run killed mid-save, a disk that filled up, a copy gone wrong) is
moved aside to ``<directory>.broken/`` with a warning and the previous checkpoint is tried, so a
half-written checkpoint never stops a resume and is never mistaken for a good one.

References: Orbax documentation, "Checkpointing PyTrees" / ``CheckpointManager``.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

PyTree = Any
_COMMIT = "commit_success.txt"
# Replicated arrays are split into per-replica slices for parallel writing only when a slice is
# at least this large: small arrays (every array of a toy model) are written whole by replica 0,
# which avoids one eager slice (and one compilation) per array and replica.
MIN_REPLICA_SLICE_BYTES = 8 << 20
log = logging.getLogger(__name__)


def _handler() -> ocp.PyTreeCheckpointHandler:
    th = ocp.type_handlers
    registry = th.create_type_handler_registry(
        (jax.Array, th.ArrayHandler(min_slice_bytes_for_replica_parallel=MIN_REPLICA_SLICE_BYTES)),
        (np.ndarray, th.NumpyHandler()), (int, th.ScalarHandler()), (float, th.ScalarHandler()),
        (np.number, th.ScalarHandler()))
    return ocp.PyTreeCheckpointHandler(type_handler_registry=registry)


def abstract_like(tree: PyTree) -> PyTree:
    """ShapeDtypeStructs (with shardings) of a pytree of arrays: the restore template."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=getattr(a, "sharding", None)),
                        tree)


class Checkpointer:
    """Save at steps that are multiples of ``every`` (and when forced), keep the last ``keep``, restore the latest complete one.

    Args:
      directory: where step directories live (made absolute; created if missing).
      every: save interval in steps (``save`` is a no-op between intervals unless forced).
      keep: how many of the most recent checkpoints to keep (None: all).
      async_save: write in a background thread (orbax async checkpointing).
    """

    def __init__(self, directory: str, *, every: int = 1000, keep: int | None = 3, async_save: bool = True):
        if every < 1:
            raise ValueError(f"Checkpointer: every must be >= 1, got {every}")
        if keep is not None and keep < 1:
            raise ValueError(f"Checkpointer: keep must be >= 1 or None, got {keep}")
        self.directory = os.path.abspath(os.fspath(directory))
        self.every, self.keep, self.async_save = every, keep, async_save
        self._manager = self._open()

    def _open(self) -> ocp.CheckpointManager:
        options = ocp.CheckpointManagerOptions(
            save_interval_steps=1, max_to_keep=self.keep, create=True,
            cleanup_tmp_directories=True, enable_async_checkpointing=self.async_save)
        return ocp.CheckpointManager(self.directory, options=options, item_handlers=_handler())

    # --- queries ----------------------------------------------------------------------------------
    def all_steps(self) -> list[int]:
        """Steps orbax lists (complete or not), ascending."""
        return sorted(self._manager.all_steps())

    def complete_steps(self) -> list[int]:
        """Steps whose directory carries orbax's commit marker, ascending."""
        return [s for s in self.all_steps() if os.path.exists(os.path.join(self._step_dir(s), _COMMIT))]

    def latest_step(self) -> int | None:
        steps = self.complete_steps()
        return steps[-1] if steps else None

    def _step_dir(self, step: int) -> str:
        return str(self._manager.directory / str(step))

    # --- save / restore ---------------------------------------------------------------------------
    def save(self, state: PyTree, *, force: bool = False) -> bool:
        """Save ``state`` at ``int(state.step)`` if on the interval (or ``force``); return whether it did."""
        step = int(jax.device_get(state.step))
        if step in self._manager.all_steps() or not (force or step % self.every == 0):
            return False
        return bool(self._manager.save(step, args=ocp.args.PyTreeSave(state), force=True))

    def restore(self, template: PyTree) -> PyTree | None:
        """The latest complete checkpoint shaped and sharded like ``template``; None if there is none.

        Incomplete or unreadable step directories are moved to ``<directory>.broken/`` (by process 0,
        after every process has looked at them) and the previous one is tried.
        """
        self._manager.wait_until_finished()
        abstract = abstract_like(template)
        restore_args = ocp.checkpoint_utils.construct_restore_args(abstract)
        broken, restored = [], None
        for step in reversed(self.all_steps()):
            reason = None
            if not os.path.exists(os.path.join(self._step_dir(step), _COMMIT)):
                reason = f"no {_COMMIT} (half-written)"
            else:
                try:
                    state = self._manager.restore(step, args=ocp.args.PyTreeRestore(item=abstract,
                                                                                   restore_args=restore_args))
                    got = int(jax.device_get(state.step))
                    if got != step:
                        reason = f"holds step {got}"
                    else:
                        restored = state
                except Exception as e:  # noqa: BLE001 - any read failure means "not a usable checkpoint"
                    reason = f"{type(e).__name__}: {str(e)[:200]}"
            if reason is None:
                break
            log.warning("checkpoint %s is unusable (%s); trying the previous one", self._step_dir(step), reason)
            broken.append(step)
        if broken:
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
        self._manager.wait_until_finished()
        meta = self._manager.item_metadata(step)
        tree = getattr(meta, "tree", meta)
        args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
        return self._manager.restore(step, args=ocp.args.PyTreeRestore(restore_args=args))

    def _quarantine(self, steps: list[int]) -> None:
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("genjax_checkpoint_quarantine")
        if jax.process_index() == 0:
            target = self.directory.rstrip("/") + ".broken"
            os.makedirs(target, exist_ok=True)
            for step in steps:
                dest = os.path.join(target, f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
                shutil.move(self._step_dir(step), dest)
                log.warning("moved unusable checkpoint %d to %s", step, dest)
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("genjax_checkpoint_quarantine_done")
        self._manager.close()
        self._manager = self._open()

    def wait(self) -> None:
        """Block until pending asynchronous saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()
