"""Run safety across code changes: a zombie's lock is stale, and a checkpoint written before a leafless
state field existed (``TrainState.extra``) restores, while any other structure change moves nothing."""
import os
import subprocess
import sys
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.train import checkpoint as ck
from genjax.train import init_state, optimizer
from genjax.train.lock import WorkdirLock
from tests.train.test_lock import _write_lock


def test_a_zombie_owner_is_a_stale_lock(tmp_path, caplog):
    child = subprocess.Popen([sys.executable, "-c", "pass"])   # exits; not reaped until wait(): a zombie
    try:
        for _ in range(200):
            with open(f"/proc/{child.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        else:
            pytest.skip("the child did not become a zombie")
        _write_lock(tmp_path, pid=child.pid)
        lock = WorkdirLock(tmp_path).acquire()
        assert "took over the stale workdir lock" in caplog.text
        lock.release()
    finally:
        child.wait()


class _OldState(NamedTuple):   # TrainState before the ``extra`` field
    step: Any
    params: Any
    opt_state: Any
    ema_params: Any


def _state(w):
    params = {"w": jnp.asarray(w, jnp.float32)}
    return init_state(params, optimizer(1e-3))


def test_checkpoint_without_the_leafless_extra_field_restores(tmp_path):
    new = _state(np.arange(6.0).reshape(2, 3))
    old = _OldState(*new[:4])._replace(step=jnp.int32(3))
    c = ck.Checkpointer(str(tmp_path / "ckpt"), every=1, keep=2)
    c.save(old, force=True)
    c.wait()
    got = c.restore(jax.tree.map(jnp.zeros_like, new))
    c.close()
    assert got.extra is None and int(got.step) == 3
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(old)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not os.path.exists(tmp_path / "ckpt.broken")
