"""Checkpoints with orbax (the only module of the repository that imports orbax), with checksums.

``Checkpointer(directory, every=N, keep=K)`` wraps an orbax ``CheckpointManager``: ``save``
writes the ``TrainState`` every N steps (asynchronously; ``force=True`` at exit), keeps the last
K, and ``restore`` returns the latest *good* checkpoint, placed with the shardings of a template
state. Each step directory holds two orbax items committed together: ``default`` (the state) and
``manifest`` (``genjax.train.integrity``: shape, dtype and ``zlib.crc32`` of every leaf, plus the
manifest's own crc32). A step directory is good when

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

import errno
import logging
import os
import shutil
import time
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from genjax.train import integrity

PyTree = Any
_COMMIT = "commit_success.txt"
_STATE, _MANIFEST = "default", "manifest"  # the two orbax items of a step directory
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


class CheckpointError(OSError):
    """A checkpoint could not be written or read (the message names the path and the errno)."""


class CheckpointMismatch(ValueError):
    """The checkpoint is intact but its structure differs from the template (a changed config)."""


def _describe(e: BaseException) -> str:
    """'[Errno 13] Permission denied: /path' for OS errors (also when wrapped), else the exception."""
    seen = e
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return f"[Errno {seen.errno}] {seen.strerror}: {seen.filename or ''}".rstrip(": ")
        seen = seen.__cause__ or seen.__context__
    return f"{type(e).__name__}: {str(e)[:300]}"


def _not_allowed(e: BaseException) -> bool:
    """Whether a read failed for lack of permission (OSError EACCES / EPERM, tensorstore PERMISSION_DENIED)."""
    seen = e
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.EACCES, errno.EPERM):
            return True
        if "PERMISSION_DENIED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


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

    def _open(self) -> ocp.CheckpointManager:
        options = ocp.CheckpointManagerOptions(
            save_interval_steps=1, max_to_keep=self.keep, create=not self.read_only,
            cleanup_tmp_directories=not self.read_only, enable_async_checkpointing=self.async_save,
            read_only=self.read_only)
        handlers = {_STATE: _handler(), _MANIFEST: ocp.JsonCheckpointHandler()}
        return ocp.CheckpointManager(self.directory, options=options, item_handlers=handlers)

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
        """Save ``state`` at ``int(state.step)`` if on the interval (or ``force``); return whether it did.

        The manifest (per-leaf crc32) is computed from the state on the host before the
        asynchronous write starts and is committed in the same step directory.
        """
        if self.read_only:
            raise CheckpointError(f"Checkpointer({self.directory}) is read-only")
        step = int(jax.device_get(state.step))
        if step in self._manager.all_steps() or not (force or step % self.every == 0):
            return False
        args = ocp.args.Composite(**{_STATE: ocp.args.PyTreeSave(state),
                                     _MANIFEST: ocp.args.JsonSave(integrity.manifest(state))})
        try:
            return bool(self._manager.save(step, args=args, force=True))
        except Exception as e:  # noqa: BLE001 - a failed (earlier async or this) save: one clear error
            raise CheckpointError(f"writing checkpoints to {self.directory} failed (step {step}, or the "
                                  f"asynchronous save before it): {_describe(e)}") from e

    def _manifest_of(self, step: int) -> dict | None:
        """The step's manifest (None if it was written without one); IntegrityError if unreadable."""
        path = os.path.join(self._step_dir(step), _MANIFEST)
        if not os.path.isdir(path):
            return None
        try:
            m = self._manager.restore(step, args=ocp.args.Composite(**{_MANIFEST: ocp.args.JsonRestore()}))[_MANIFEST]
        except Exception as e:  # noqa: BLE001
            if _not_allowed(e):
                raise
            raise integrity.IntegrityError(f"the manifest cannot be read ({type(e).__name__})") from e
        integrity.check_manifest(m)
        return m

    def _restore_step(self, step: int, abstract, restore_args, template) -> PyTree:
        """One step's state, verified; IntegrityError / any read error if its data is damaged."""
        m = self._manifest_of(step)
        if m is not None:
            mismatch = integrity.compare_structure(m, template)
            if mismatch:
                raise CheckpointMismatch(
                    f"checkpoint {step} in {self.directory} does not fit the model built from the config "
                    f"(the config changed?): " + "; ".join(mismatch[:8]) + (" ..." if len(mismatch) > 8 else ""))
        try:
            state = self._restore_item(step, abstract, restore_args)
        except ValueError as e:
            if "tree structures do not match" not in str(e):
                raise
            state = self._restore_without_empty_fields(step, abstract, restore_args, e)
        got = int(jax.device_get(state.step))
        if got != step:
            raise integrity.IntegrityError(f"holds step {got}")
        if m is None:
            log.warning("checkpoint %s has no manifest (written before checksums): restored unverified",
                        self._step_dir(step))
        else:
            integrity.verify(m, state)
        return state

    def _restore_item(self, step: int, abstract, restore_args) -> PyTree:
        args = ocp.args.Composite(**{_STATE: ocp.args.PyTreeRestore(item=abstract, restore_args=restore_args)})
        return self._manager.restore(step, args=args)[_STATE]

    def _restore_without_empty_fields(self, step: int, abstract, restore_args, error) -> PyTree:
        """A state whose leafless fields (e.g. ``TrainState.extra = None``) are absent on disk: the
        leaves already matched the manifest, so restore the other fields and rebuild the state.
        Anything else is a structure mismatch (CheckpointMismatch: nothing is moved), not damage."""
        if not hasattr(abstract, "_asdict"):
            raise CheckpointMismatch(f"checkpoint {step} in {self.directory} does not fit the state: {error}")
        fields = {k: v for k, v in abstract._asdict().items() if jax.tree.leaves(v)}
        args = {k: v for k, v in restore_args._asdict().items() if k in fields}
        try:
            got = self._restore_item(step, fields, args)
        except ValueError as e:
            raise CheckpointMismatch(f"checkpoint {step} in {self.directory} does not fit the state "
                                     f"(the code or config changed?): {str(e)[:300]}") from e
        return abstract._replace(**{k: None for k in abstract._fields if k not in fields}, **got)

    def restore(self, template: PyTree) -> PyTree | None:
        """The latest good checkpoint shaped and sharded like ``template``; None if there is none.

        Damaged step directories are moved to ``<directory>.broken/`` (by process 0, after every
        process has looked at them; never when read-only) and the previous one is tried.
        ``CheckpointMismatch`` (nothing moved) when an intact checkpoint does not fit the template.
        """
        self.wait()
        abstract = abstract_like(template)
        restore_args = ocp.checkpoint_utils.construct_restore_args(abstract)
        broken, restored = [], None
        for step in reversed(self.all_steps()):
            reason = None
            if not os.path.exists(os.path.join(self._step_dir(step), _COMMIT)):
                reason = f"no {_COMMIT} (half-written)"
            else:
                try:
                    restored = self._restore_step(step, abstract, restore_args, template)
                except CheckpointMismatch:
                    raise
                except integrity.IntegrityError as e:
                    reason = str(e)
                except Exception as e:  # noqa: BLE001 - any other read failure means "damaged" ...
                    if _not_allowed(e):  # ... except a permission problem: the data may be fine
                        raise CheckpointError(f"cannot read checkpoint {step} in {self.directory}: "
                                              f"{_describe(e)}") from e
                    reason = f"{type(e).__name__}: {str(e)[:200]}"
            if reason is None:
                break
            log.warning("checkpoint %d (%s) is damaged: %s; falling back to the previous one",
                        step, self._step_dir(step), reason)
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
        meta = self._manager.item_metadata(step)[_STATE]
        tree = getattr(meta, "tree", meta)
        args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
        return self._manager.restore(step, args=ocp.args.Composite(
            **{_STATE: ocp.args.PyTreeRestore(restore_args=args)}))[_STATE]

    def _quarantine(self, steps: list[int]) -> None:
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("genjax_checkpoint_quarantine")
        if jax.process_index() == 0:
            target = self.directory.rstrip("/") + ".broken"
            os.makedirs(target, exist_ok=True)
            for step in steps:
                dest = os.path.join(target, f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
                shutil.move(self._step_dir(step), dest)
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
