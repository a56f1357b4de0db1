"""One checkpoint step directory through orbax (the repository's only orbax import): write, read, verify.

A step directory of an orbax ``CheckpointManager`` holds two items committed together:
``default`` (the ``TrainState``) and ``manifest`` (``genjax.train.integrity``: shape, dtype and
``zlib.crc32`` of every leaf, plus the manifest's own crc32); orbax writes into a temporary
directory and marks the step with ``commit_success.txt`` only when every process has finished.
``restore_step`` returns a step's state only when its manifest fits the template (else
``CheckpointMismatch``: the *config* changed, nothing is damaged), the restored ``state.step`` is
the directory's step and every leaf has its manifest checksum (else ``IntegrityError`` naming the
leaf). Which step to try, and what to do with a damaged one, is ``checkpoint.Checkpointer``'s.

References: Orbax documentation, "Checkpointing PyTrees" / ``CheckpointManager``; Peterson &
Brown 1961, "Cyclic Codes for Error Detection" (the per-leaf crc32).
"""
from __future__ import annotations

import errno
import logging
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from genjax.train import integrity

PyTree = Any
COMMIT = "commit_success.txt"
STATE, MANIFEST = "default", "manifest"  # the two orbax items of a step directory
# Replicated arrays are split into per-replica slices for parallel writing only when a slice is
# at least this large: small arrays (every array of a toy model) are written whole by replica 0,
# which avoids one eager slice (and one compilation) per array and replica.
MIN_REPLICA_SLICE_BYTES = 8 << 20
log = logging.getLogger("genjax.train.checkpoint")  # the Checkpointer's logger: one name for its warnings


class CheckpointMismatch(ValueError):
    """The checkpoint is intact but its structure differs from the template (a changed config)."""


def permission_denied(e: BaseException) -> bool:
    """Whether a read failed for lack of permission (OSError EACCES / EPERM, tensorstore PERMISSION_DENIED)."""
    seen = e
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.EACCES, errno.EPERM):
            return True
        if "PERMISSION_DENIED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def open_manager(directory: str, keep: int | None, async_save: bool, read_only: bool) -> ocp.CheckpointManager:
    """An orbax manager of ``directory`` whose steps hold the state and manifest items."""
    options = ocp.CheckpointManagerOptions(
        save_interval_steps=1, max_to_keep=keep, create=not read_only, cleanup_tmp_directories=not read_only,
        enable_async_checkpointing=async_save, read_only=read_only)
    th = ocp.type_handlers
    registry = th.create_type_handler_registry(
        (jax.Array, th.ArrayHandler(min_slice_bytes_for_replica_parallel=MIN_REPLICA_SLICE_BYTES)),
        (np.ndarray, th.NumpyHandler()), (int, th.ScalarHandler()), (float, th.ScalarHandler()),
        (np.number, th.ScalarHandler()))
    handlers = {STATE: ocp.PyTreeCheckpointHandler(type_handler_registry=registry),
                MANIFEST: ocp.JsonCheckpointHandler()}
    return ocp.CheckpointManager(directory, options=options, item_handlers=handlers)


def step_dir(manager: ocp.CheckpointManager, step: int) -> str:
    return str(manager.directory / str(step))


def committed(manager: ocp.CheckpointManager, step: int) -> bool:
    """Whether the step directory carries orbax's commit marker (it was finalised)."""
    return os.path.exists(os.path.join(step_dir(manager, step), COMMIT))


def save_items(state: PyTree) -> ocp.args.Composite:
    """The orbax save arguments of one step: the state and its manifest (computed now, on the host)."""
    return ocp.args.Composite(**{STATE: ocp.args.PyTreeSave(state),
                                 MANIFEST: ocp.args.JsonSave(integrity.manifest(state))})


def abstract_like(tree: PyTree) -> PyTree:
    """ShapeDtypeStructs (with shardings) of a pytree of arrays: the restore template."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=getattr(a, "sharding", None)),
                        tree)


def restore_plan(template: PyTree) -> tuple[PyTree, PyTree]:
    """(abstract state, orbax restore args) placing every leaf with the template's sharding."""
    abstract = abstract_like(template)
    return abstract, ocp.checkpoint_utils.construct_restore_args(abstract)


def read_manifest(manager: ocp.CheckpointManager, step: int) -> dict | None:
    """The step's manifest (None if it was written without one); IntegrityError if unreadable."""
    if not os.path.isdir(os.path.join(step_dir(manager, step), MANIFEST)):
        return None
    try:
        m = manager.restore(step, args=ocp.args.Composite(**{MANIFEST: ocp.args.JsonRestore()}))[MANIFEST]
    except Exception as e:  # noqa: BLE001
        if permission_denied(e):
            raise
        raise integrity.IntegrityError(f"the manifest cannot be read ({type(e).__name__})") from e
    integrity.check_manifest(m)
    return m


def restore_step(manager: ocp.CheckpointManager, step: int, plan: tuple[PyTree, PyTree], template: PyTree) -> PyTree:
    """One step's state, verified; CheckpointMismatch if it does not fit ``template``, IntegrityError /
    any read error if its data is damaged. ``plan``: ``restore_plan(template)``."""
    where = f"checkpoint {step} in {manager.directory}"
    m = read_manifest(manager, step)
    if m is not None:
        mismatch = integrity.compare_structure(m, template)
        if mismatch:
            raise CheckpointMismatch(f"{where} does not fit the model built from the config (the config "
                                     "changed?): " + "; ".join(mismatch[:8]) + (" ..." if len(mismatch) > 8 else ""))
    abstract, restore_args = plan
    try:
        state = _restore_item(manager, step, abstract, restore_args)
    except ValueError as e:
        if "tree structures do not match" not in str(e):
            raise
        state = _restore_without_empty_fields(manager, step, abstract, restore_args, e)
    got = int(jax.device_get(state.step))
    if got != step:
        raise integrity.IntegrityError(f"holds step {got}")
    if m is None:
        log.warning("checkpoint %s has no manifest (written before checksums): restored unverified",
                    step_dir(manager, step))
    else:
        integrity.verify(m, state)
    return state


def _restore_item(manager, step: int, abstract, restore_args) -> PyTree:
    args = ocp.args.Composite(**{STATE: ocp.args.PyTreeRestore(item=abstract, restore_args=restore_args)})
    return manager.restore(step, args=args)[STATE]


def _restore_without_empty_fields(manager, step: int, abstract, restore_args, error) -> PyTree:
    """A state whose leafless fields (e.g. ``TrainState.extra = None``) are absent on disk: the
    leaves already matched the manifest, so restore the other fields and rebuild the state.
    Anything else is a structure mismatch (CheckpointMismatch: nothing is moved), not damage."""
    where = f"checkpoint {step} in {manager.directory}"
    if not hasattr(abstract, "_asdict"):
        raise CheckpointMismatch(f"{where} does not fit the state: {error}")
    fields = {k: v for k, v in abstract._asdict().items() if jax.tree.leaves(v)}
    args = {k: v for k, v in restore_args._asdict().items() if k in fields}
    try:
        got = _restore_item(manager, step, fields, args)
    except ValueError as e:
        raise CheckpointMismatch(f"{where} does not fit the state (the code or config changed?): "
                                 f"{str(e)[:300]}") from e
    return abstract._replace(**{k: None for k in abstract._fields if k not in fields}, **got)


def read_arrays(manager: ocp.CheckpointManager, step: int) -> dict:
    """A step's state as host numpy arrays without a template (the nested dict orbax stored)."""
    meta = manager.item_metadata(step)[STATE]
    tree = getattr(meta, "tree", meta)
    args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
    return manager.restore(step, args=ocp.args.Composite(**{STATE: ocp.args.PyTreeRestore(restore_args=args)}))[STATE]
