"""genjax.train.checkpoint: interval / keep-last-K, exact round trip, half-written dirs ignored."""
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.train import checkpoint as ck
from genjax.train import sharding as sh
from genjax.train import state as st


def _state(step, mesh):
    tx = optax.adam(1e-3)
    params = {"w": jnp.full((4, 3), float(step)), "b": jnp.arange(3.0) * step}
    s = st.init_state(params, tx)._replace(step=jnp.int32(step))
    return sh.put_replicated(s, mesh)


@pytest.fixture
def mesh():
    return sh.data_mesh()


def test_save_interval_keep_and_exact_restore(tmp_path, mesh):
    c = ck.Checkpointer(str(tmp_path / "ckpt"), every=2, keep=2)
    saved = [c.save(_state(s, mesh)) for s in range(1, 7)]
    assert saved == [False, True, False, True, False, True]  # every 2 steps
    assert c.save(_state(7, mesh), force=True)  # forced (the exit save)
    c.wait()
    assert c.complete_steps() == [6, 7]  # keep the last 2
    template = _state(0, mesh)
    r = c.restore(template)
    assert int(r.step) == 7
    want = _state(7, mesh)
    for a, b in zip(jax.tree.leaves(r), jax.tree.leaves(want)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # bitwise round trip
    assert r.params["w"].sharding.is_equivalent_to(sh.replicated(mesh), 2)
    raw = c.read(6)  # template-free numpy view of an older step
    assert int(raw["step"]) == 6 and isinstance(raw["params"]["w"], np.ndarray)
    np.testing.assert_array_equal(raw["params"]["w"], np.full((4, 3), 6.0))
    c.close()


def test_no_checkpoint_restores_none(tmp_path, mesh):
    c = ck.Checkpointer(str(tmp_path / "empty"), every=1)
    assert c.restore(_state(0, mesh)) is None and c.latest_step() is None
    c.close()


@pytest.mark.parametrize("damage", ["no_commit_marker", "truncated_files", "empty_dir"])
def test_half_written_checkpoint_is_ignored(tmp_path, mesh, damage):
    d = str(tmp_path / "ckpt")
    c = ck.Checkpointer(d, every=1, keep=5)
    for s in (3, 4):
        c.save(_state(s, mesh))
    c.close()
    bad = os.path.join(d, "5")
    if damage == "empty_dir":
        os.makedirs(bad)
    else:  # a copy of step 4 relabelled 5, then damaged the way a killed writer leaves it
        shutil.copytree(os.path.join(d, "4"), bad)
        if damage == "no_commit_marker":
            os.remove(os.path.join(bad, "commit_success.txt"))
        else:
            for root, _, files in os.walk(os.path.join(bad, "default")):
                for f in files:
                    if f != "commit_success.txt":
                        open(os.path.join(root, f), "w").close()
    c = ck.Checkpointer(d, every=1, keep=5)
    r = c.restore(_state(0, mesh))
    assert int(r.step) == 4 and float(r.params["w"][0, 0]) == 4.0  # the previous one
    assert not os.path.exists(bad) and os.listdir(d + ".broken")  # moved aside, not deleted
    assert c.save(_state(5, mesh))  # the step can be written again
    c.wait()
    assert c.complete_steps() == [3, 4, 5]
    c.close()
