"""A run's identity: its recorded config, compared key by key with the config of a resume.

Plain nested dicts only (the trainer passes ``json.loads(config.to_json())``). ``flatten`` turns a
nested dict into dotted keys, ``diff`` lists the keys whose values differ (a key present on one
side only differs from ``MISSING``), and ``classify`` sorts the differing keys with a ``Policy``:

- ``free``: changes that alter neither the checkpoint nor the training (log / sample intervals,
  evaluation settings); accepted and recorded;
- ``tunable``: changes that a restore survives but that change training (``num_steps``, learning
  rate and schedule values); accepted only when the user says so (``--allow_config_change``);
- ``fixed``: everything else: the checkpoint's structure (layer sizes, optimizer transforms) or
  what the run *is* (data, loss, seed); always refused. A key in ``zero_is_structural`` is tunable
  between non-zero values and fixed when it moves to or from zero (e.g. gradient clipping adds a
  transform to the optimizer chain).

``effective`` replays the recorded changes (``config_changes.jsonl`` rows) onto the first config,
so a resume is compared with the config the run last trained with.

References: Python ``fnmatch`` (shell-style key patterns such as ``"eval.*"``).
"""
from __future__ import annotations

import fnmatch
from typing import Any, Iterable, Mapping, NamedTuple

MISSING = "<absent>"


class Policy(NamedTuple):
    """Key patterns (fnmatch, on dotted keys) of the changes a resume may make."""

    free: tuple = ()
    tunable: tuple = ()
    zero_is_structural: tuple = ()


def _freeze(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


def flatten(tree: Mapping, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists become tuples; an empty dict stays as a leaf ({})."""
    out = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = {} if isinstance(v, Mapping) else _freeze(v)
    return out


def diff(old: Mapping, new: Mapping) -> dict:
    """{dotted key: (old value, new value)} for every key whose value differs (``MISSING`` if absent)."""
    a, b = flatten(old), flatten(new)
    return {k: (a.get(k, MISSING), b.get(k, MISSING)) for k in sorted(set(a) | set(b))
            if a.get(k, MISSING) != b.get(k, MISSING)}


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def classify(changes: Mapping[str, tuple], policy: Policy) -> dict:
    """{"free": [...], "tunable": [...], "fixed": [...]}: the keys of ``changes`` sorted by ``policy``."""
    out = {"free": [], "tunable": [], "fixed": []}
    for key, (old, new) in changes.items():
        if _matches(key, policy.free):
            kind = "free"
        elif _matches(key, policy.zero_is_structural):
            kind = "fixed" if MISSING in (old, new) or (not old) != (not new) else "tunable"
        elif _matches(key, policy.tunable) and MISSING not in (old, new):
            kind = "tunable"
        else:
            kind = "fixed"
        out[kind].append(key)
    return out


def _unflatten_set(tree: dict, key: str, value: Any) -> None:
    *path, last = key.split(".")
    node = tree
    for p in path:
        node = node.setdefault(p, {})
    if value == MISSING:
        node.pop(last, None)
    else:
        node[last] = value


def effective(first: Mapping, change_rows: Iterable[Mapping]) -> dict:
    """``first`` (nested) with each row's ``{"changes": {key: [old, new]}}`` applied in order."""
    import copy

    tree = copy.deepcopy(dict(first))
    for row in change_rows:
        for key, (_, new) in row.get("changes", {}).items():
            _unflatten_set(tree, key, new)
    return tree


def format_changes(changes: Mapping[str, tuple], keys: Iterable[str] | None = None) -> str:
    """One line per key: ``  config.a.b: old -> new``."""
    keys = sorted(changes) if keys is None else keys
    return "\n".join(f"  config.{k}: {changes[k][0]!r} -> {changes[k][1]!r}" for k in keys)
