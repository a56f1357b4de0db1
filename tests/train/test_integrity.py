"""Checksums (genjax/train/integrity.py): a manifest catches every single byte flip."""
import json

import jax.numpy as jnp
import numpy as np
import pytest

from genjax.train import integrity


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
