"""Checksums of a pytree of arrays: a manifest written with each checkpoint and verified on restore.

    manifest = {"leaves": {path: {"shape", "dtype", "crc32"}}, "crc32": crc32(canonical JSON of leaves)}

``crc32`` is ``zlib.crc32`` of a leaf's C-order bytes on the host (for a sharded array: of the
whole array when this process can address all of it, else of its first addressable shard, marked
``"scope": "shard0"``). CRC-32 detects every error burst of up to 32 bits, so any single flipped
byte (or bit) in a leaf is caught for certain; larger damage escapes with probability 2^-32. The
manifest carries its own checksum, so a damaged manifest is told apart from a template that does
not fit (``compare_structure``).

References: Peterson & Brown 1961, "Cyclic Codes for Error Detection"; Python ``zlib.crc32``
(the IEEE 802.3 polynomial).
"""
from __future__ import annotations

import json
import zlib
from typing import Any

import jax
import numpy as np

PyTree = Any


class IntegrityError(ValueError):
    """A checkpoint's data does not match its manifest (``step``, ``leaf`` name the damage)."""

    def __init__(self, message: str, leaf: str | None = None):
        super().__init__(message)
        self.leaf = leaf


def _host_bytes(a) -> tuple[np.ndarray, str]:
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        if a.is_fully_replicated:
            return np.asarray(a.addressable_data(0)), "full"
        return np.asarray(a.addressable_data(0)), "shard0"
    return np.asarray(a), "full"


def _leaves(tree: PyTree) -> list[tuple[str, Any]]:
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in jax.tree_util.tree_leaves_with_path(tree)]


def _crc_of(leaves: dict) -> int:
    return zlib.crc32(json.dumps(leaves, sort_keys=True).encode())


def manifest(tree: PyTree) -> dict:
    """The manifest of ``tree`` (JSON-ready): shape, dtype and crc32 of every leaf, keyed by its path."""
    leaves = {}
    for name, leaf in _leaves(tree):
        host, scope = _host_bytes(leaf)
        entry = {"shape": list(np.shape(leaf)), "dtype": str(np.asarray(host).dtype),
                 "crc32": zlib.crc32(np.ascontiguousarray(host).tobytes())}
        if scope != "full":
            entry["scope"] = scope
        leaves[name] = entry
    return {"leaves": leaves, "crc32": _crc_of(leaves)}


def check_manifest(m: Any) -> dict:
    """The manifest's leaves if its own checksum holds, else ``IntegrityError``."""
    if not isinstance(m, dict) or "leaves" not in m or m.get("crc32") != _crc_of(m["leaves"]):
        raise IntegrityError("the manifest is damaged (its own crc32 does not match)")
    return m["leaves"]


def compare_structure(m: dict, template: PyTree) -> list[str]:
    """Differences between the manifest's leaves and a template's (paths, shapes, dtypes); [] if it fits."""
    leaves = check_manifest(m)
    want = {name: (list(np.shape(x)), str(np.dtype(x.dtype))) for name, x in _leaves(template)}
    out = [f"{k}: in the checkpoint only" for k in sorted(set(leaves) - set(want))]
    out += [f"{k}: missing from the checkpoint" for k in sorted(set(want) - set(leaves))]
    for k in sorted(set(want) & set(leaves)):
        got = (leaves[k]["shape"], leaves[k]["dtype"])
        if got != want[k]:
            out.append(f"{k}: checkpoint {got[1]}{tuple(got[0])} vs model {want[k][1]}{tuple(want[k][0])}")
    return out


def verify(m: dict, tree: PyTree) -> None:
    """Raise ``IntegrityError`` naming the first leaf of ``tree`` whose checksum differs from ``m``."""
    leaves = check_manifest(m)
    got = manifest(tree)["leaves"]
    for name in sorted(set(leaves) | set(got)):
        if name not in leaves or name not in got:
            raise IntegrityError(f"leaf {name} is not in both the manifest and the restored tree", leaf=name)
        if leaves[name].get("scope", "full") != got[name].get("scope", "full"):
            continue  # written under another sharding: the shard checksums are not comparable
        if leaves[name]["crc32"] != got[name]["crc32"]:
            raise IntegrityError(f"leaf {name}: crc32 {got[name]['crc32']:#010x} != manifest "
                                 f"{leaves[name]['crc32']:#010x}", leaf=name)
