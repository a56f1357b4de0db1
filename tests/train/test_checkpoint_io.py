"""genjax.train.checkpoint_io: one step directory read back verified (the manifest's crc32 names a damaged
leaf; a template that does not fit is a CheckpointMismatch naming the leaf and both shapes)."""
import shutil

import jax
import numpy as np
import pytest

from genjax.train import checkpoint_io as io
from genjax.train import integrity
from genjax.train import sharding as sh
from tests.train.checkpoint_states import random_state, small_state, write_two_steps


@pytest.fixture
def mesh():
    return sh.data_mesh()


@pytest.fixture(scope="module")
def two_steps(tmp_path_factory):
    return write_two_steps(tmp_path_factory.mktemp("io") / "ckpt")


def _restore(directory, step, template):
    manager = io.open_manager(str(directory), keep=5, async_save=False, read_only=True)
    try:
        return io.restore_step(manager, step, io.restore_plan(template), template)
    finally:
        manager.close()


def test_a_flip_inside_array_data_is_named_by_its_leaf(two_steps, tmp_path, mesh):
    """Flips inside the largest OCDBT data file (the compressed arrays) at 4 places.

    tensorstore reads those bytes back without complaint (changed values): the manifest's crc32
    must refuse the step and name the damaged leaf, or the bytes were not read back and the state
    is exact.
    """
    want = random_state(2, mesh)
    data = max((two_steps / "2").rglob("ocdbt.process_0/d/*"), key=lambda p: p.stat().st_size)
    rel, size = data.relative_to(two_steps), data.stat().st_size
    named = []
    for k, frac in enumerate((0.2, 0.4, 0.6, 0.8)):
        d = tmp_path / f"ckpt{k}"
        shutil.copytree(two_steps, d)
        raw = bytearray((d / rel).read_bytes())
        raw[int(frac * size)] ^= 0x01
        (d / rel).write_bytes(bytes(raw))
        try:
            r = _restore(d, 2, random_state(0, mesh))
        except integrity.IntegrityError as e:
            assert str(e).startswith(f"leaf {e.leaf}: crc32"), str(e)
            named.append(e.leaf)
            continue
        for a, b in zip(jax.tree.leaves(r), jax.tree.leaves(want)):  # not read back: exact
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert named, "no flip was caught by the manifest"
    assert all(n.startswith((".params[", ".opt_state[", ".ema_params[")) for n in named), named


def test_a_template_that_does_not_fit_is_a_mismatch_naming_the_leaf(two_steps, mesh):
    with pytest.raises(io.CheckpointMismatch, match=r"checkpoint 2 .* does not fit .*\.params\['w'\]: "
                                                     r"checkpoint float32\(32, 32\) vs model float32\(4, 3\)"):
        _restore(two_steps, 2, small_state(0, mesh))
    assert int(_restore(two_steps, 2, random_state(0, mesh)).step) == 2   # the fitting template restores
