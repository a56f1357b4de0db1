"""The trainer's guards on a workdir: one run at a time, and the run's config as its identity.

- ``take_lock(workdir)``: ``genjax.train.lock.WorkdirLock`` taken by process 0 (train mode only);
  on multi-host runs the other processes learn the outcome through a broadcast, so a refused
  start stops every process.
- ``check_config(config, workdir, mode, allow_change)``: compares the config with the one the run
  last trained with (``config.json`` plus the rows of ``config_changes.jsonl``) key by key, with
  the policy of ``experiments.configs.common`` (``RESUME_POLICY``: free / tunable / fixed keys;
  ``EVAL_IGNORED``: what eval and sample modes may differ in). A refused change raises
  ``ConfigChanged`` naming the keys *before* anything in the workdir is touched.
- ``record_config``: writes ``config.json`` for a new run (never over an existing one) and
  appends accepted changes to ``config_changes.jsonl`` ({"time", "step", "changes": {key: [old, new]}}).
"""
from __future__ import annotations

import fnmatch
import json
import logging
import os
import time

import jax

from experiments.configs import common
from genjax.train import identity
from genjax.train.lock import WorkdirLock, WorkdirLocked

log = logging.getLogger("genjax.train")
CONFIG, CHANGES = "config.json", "config_changes.jsonl"


class ConfigChanged(ValueError):
    """The config differs from the run's recorded config in keys that may not change."""


def config_dict(config) -> dict:
    """The config as plain nested JSON data (tuples become lists), as config.json stores it."""
    return json.loads(config.to_json_best_effort())


def has_checkpoints(workdir: str) -> bool:
    """Whether ``workdir/checkpoints`` holds any step directory (complete or not)."""
    d = os.path.join(workdir, "checkpoints")
    return os.path.isdir(d) and any(n.isdigit() for n in os.listdir(d))


def take_lock(workdir: str) -> WorkdirLock | None:
    """The workdir's lock (process 0 holds it); ``WorkdirLocked`` on every process if refused."""
    lock, error = None, ""
    if jax.process_index() == 0:
        try:
            lock = WorkdirLock(workdir).acquire()
        except WorkdirLocked as e:
            error = str(e)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        import numpy as np

        refused = multihost_utils.broadcast_one_to_all(np.int32(bool(error)))
        if int(refused) and not error:
            error = f"process 0 could not take the workdir lock of {workdir} (see its log)"
    if error:
        raise WorkdirLocked(error)
    return lock


def _recorded(workdir: str) -> dict | None:
    """The config the run last trained with (config.json + config_changes.jsonl), or None."""
    path = os.path.join(workdir, CONFIG)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        first = json.load(f)
    rows = []
    changes = os.path.join(workdir, CHANGES)
    if os.path.exists(changes):
        with open(changes) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    return identity.effective(first, rows)


def _new_keys_at_default(changes: dict) -> set:
    """Keys the code gained or dropped since the run started: absent from the recorded config and now
    at ``common.base()``'s default (or a None placeholder), or no longer in the config at all.

    A new key at its shared default keeps the old behaviour by convention, and a dropped key is no
    longer read, so neither can break a resume (they are still recorded with the other changes).
    """
    defaults = identity.flatten(config_dict(common.base()))
    return {k for k, (old, new) in changes.items()
            if new == identity.MISSING or (old == identity.MISSING and (new is None or defaults.get(k, old) == new))}


def check_config(config, workdir: str, mode: str, allow_change: bool = False) -> dict:
    """The accepted changes {key: (old, new)} against the run's recorded config; ``ConfigChanged`` if refused."""
    old = _recorded(workdir)
    if old is None:
        return {}
    changes = identity.diff(old, config_dict(config))
    if not changes:
        return {}
    recorded = os.path.join(workdir, CONFIG)
    new_keys = _new_keys_at_default(changes)
    if mode != "train":
        bad = [k for k in changes if k not in new_keys
               and not any(fnmatch.fnmatchcase(k, p) for p in common.EVAL_IGNORED)]
        if bad:
            raise ConfigChanged(
                f"--mode={mode}: the config differs from the run's ({recorded}, with {CHANGES}) in keys that "
                f"define the trained model:\n{identity.format_changes(changes, bad)}\nUse the config file and "
                f"overrides the run was trained with. Nothing in {workdir} was changed.")
        return {}
    if not has_checkpoints(workdir):
        log.warning("no checkpoint in %s yet: accepting every config change (recorded in %s):\n%s", workdir,
                    CHANGES, identity.format_changes(changes))
        return changes
    kinds = identity.classify({k: v for k, v in changes.items() if k not in new_keys},
                              identity.Policy(**common.RESUME_POLICY))
    if kinds["fixed"]:
        raise ConfigChanged(
            f"resuming {workdir} with a changed config: these keys change the checkpoint's structure or what "
            f"the run is, and cannot change on resume (not even with --allow_config_change):\n"
            f"{identity.format_changes(changes, kinds['fixed'])}\nUse the run's config ({recorded}) or start "
            f"a new --workdir. Nothing in {workdir} was changed.")
    if kinds["tunable"] and not allow_change:
        raise ConfigChanged(
            f"resuming {workdir} with a changed config:\n{identity.format_changes(changes, kinds['tunable'])}\n"
            f"These keys change training but not the checkpoint; pass --allow_config_change to accept them "
            f"(they are recorded in {CHANGES}). Nothing in {workdir} was changed.")
    return changes


def record_config(config, workdir: str, changes: dict, step: int) -> None:
    """config.json for a new run (never replaced); accepted changes appended to config_changes.jsonl."""
    path = os.path.join(workdir, CONFIG)
    if not os.path.exists(path):
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write(config.to_json_best_effort(indent=2))
        os.replace(tmp, path)
    if changes:
        row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "step": int(step),
               "changes": {k: [old, new] for k, (old, new) in changes.items()}}
        with open(os.path.join(workdir, CHANGES), "a") as f:
            f.write(json.dumps(row) + "\n")
