"""genjax.train.sharding: the data-parallel step on 8 host devices equals the one-device step."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.train import sharding as sh
from genjax.train import state as st
from genjax.train import step as sp


def _init(key):
    k1, k2 = jax.random.split(key)
    return {"w1": jax.random.normal(k1, (2, 32)) / 2, "b1": jnp.zeros(32),
            "w2": jax.random.normal(k2, (32, 2)) / 6, "b2": jnp.zeros(2)}


def _loss(params, batch, key):
    """A denoising-style regression with per-example random noise from the step key."""
    x = batch["x"]
    noise = jax.random.normal(key, x.shape)
    h = jnp.tanh((x + 0.3 * noise) @ params["w1"] + params["b1"])
    out = h @ params["w2"] + params["b2"]
    return jnp.mean(jnp.sum((out - x) ** 2, -1)), {}


def _run(mesh, batch, key, steps=3):
    tx = st.optimizer(1e-2, grad_clip=1.0)
    state = sh.init_sharded(lambda k: st.init_state(_init(k), tx), mesh, jax.random.key(1))
    step = jax.jit(sp.train_step(_loss, tx, st.ema_rate(0.9)), donate_argnums=0)
    gbatch = jax.device_put(batch, sh.batch_sharding(mesh))
    losses = []
    for _ in range(steps):
        state, m = step(state, gbatch, key)
        losses.append(float(m["loss"]))
    return state, np.array(losses), gbatch


def test_data_parallel_step_equals_single_device(key):
    assert jax.device_count() == 8, "tests/conftest.py sets 8 host CPU devices"
    batch = {"x": jax.random.normal(jax.random.key(2), (64, 2))}
    s1, l1, _ = _run(sh.data_mesh(jax.devices()[:1]), batch, key)
    s8, l8, gb = _run(sh.data_mesh(), batch, key)
    assert gb["x"].sharding.shard_shape(gb["x"].shape) == (8, 2)  # really split over 8 devices
    assert s8.params["w1"].sharding.is_fully_replicated
    # Same global batch and keys; only the order of the float32 batch-mean summation differs
    # (8 partial sums + all-reduce vs one sum): relative 1e-5 on losses and parameters after
    # 3 Adam steps (each update is ~lr * sign(g), so rounding does not amplify).
    np.testing.assert_allclose(l8, l1, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(s8), jax.tree.leaves(s1)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert l1[-1] < l1[0]  # it is training


def test_batch_size_must_divide_devices():
    mesh = sh.data_mesh()
    assert sh.check_batch_size(64, mesh) == 64  # one process holds all rows
    with pytest.raises(ValueError, match=r"batch_size=12 is not divisible by the number of devices \(8\)"):
        sh.check_batch_size(12, mesh)
    with pytest.raises(ValueError, match="config.training.batch_size"):
        sh.check_batch_size(7, mesh, name="config.training.batch_size")


def test_host_to_global_and_local_slice():
    mesh = sh.data_mesh()
    local = {"x": np.arange(32, dtype=np.float32).reshape(16, 2)}
    g = sh.host_to_global(local, mesh)
    assert g["x"].shape == (16, 2) and g["x"].sharding == sh.batch_sharding(mesh)
    np.testing.assert_array_equal(np.asarray(g["x"]), local["x"])
    assert sh.local_batch_slice(16, mesh) == slice(0, 16)


def test_init_sharded_equals_default_compile():
    # init_sharded compiles at XLA:CPU optimisation level 0 (a faster compile). The random bits are
    # the same; the float transforms (inverse erf) may round differently: every value within
    # 2 float32 ulps (rtol 2.4e-7) of the default compile's.
    def init(k):
        k1, k2 = jax.random.split(k)
        return {"w": jax.random.normal(k1, (37, 5)), "u": jax.random.uniform(k2, (11,), minval=-2.0, maxval=3.0),
                "t": jax.random.truncated_normal(k1, -2.0, 2.0, (7, 3))}
    got = sh.init_sharded(init, sh.data_mesh(), jax.random.key(4))
    want = jax.jit(init)(jax.random.key(4))
    for name in want:
        np.testing.assert_allclose(np.asarray(got[name]), np.asarray(want[name]), rtol=2.4e-7, atol=0)
    assert all(x.sharding.is_fully_replicated for x in jax.tree.leaves(got))
