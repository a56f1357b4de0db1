"""genjax.families.gan_train: the alternating critic / generator step on genjax.train.players."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.families import gan_train
from genjax.families.gan import objectives
from genjax.nets.critics import MLPGenerator, ScalarMLP
from genjax.train import ema_rate, init_state, players, sharding


@pytest.fixture(scope="module")
def nets():
    gen = MLPGenerator(out_shape=(2,), hidden=(32, 32))
    crit = ScalarMLP(hidden=(32, 32))
    gp = jax.jit(gen.init)(jax.random.key(1), jnp.zeros((1, 2)))
    cp = jax.jit(crit.init)(jax.random.key(2), jnp.zeros((1, 2)))
    return gen, crit, gp, cp


@pytest.mark.parametrize("kind,particle", [("wgan", None), ("monoflow", 0.05)])
def test_train_step_counts_updates_and_projects(nets, kind, particle, key):
    gen, crit, gp, cp = nets
    n_critic, n_gen = 3, 2
    obj = objectives.wgan(clip=0.05) if kind == "wgan" else objectives.monoflow()
    tx = players.partition({"generator": optax.adam(1e-3), "critic": optax.adam(1e-3)})
    step = gan_train.make_train_step(obj, gen.apply, crit.apply, tx, latent_dim=2, n_critic=n_critic,
                                     n_gen=n_gen, particle_step_size=particle,
                                     ema={"generator": ema_rate(0.5)})
    state = init_state({"generator": gp, "critic": cp}, tx)
    real = {"x": jax.random.normal(key, (n_critic * 16, 2))}
    state, metrics = jax.jit(step)(state, real, key)
    state, metrics = jax.jit(step)(state, real, jax.random.fold_in(key, 1))
    # two steps: adam counted n_critic critic updates and n_gen generator updates per step.
    inner = state.opt_state.inner_states
    assert int(inner["critic"].inner_state[0].count) == 2 * n_critic
    assert int(inner["generator"].inner_state[0].count) == 2 * n_gen
    assert all(np.isfinite(float(v)) for v in metrics.values())
    if kind == "wgan":   # weight clipping keeps every critic parameter in [-c, c]
        leaves = jax.tree_util.tree_leaves(state.params["critic"])
        assert max(float(jnp.max(jnp.abs(p))) for p in leaves) <= 0.05 + 1e-7
    # the generator is averaged (beta = 0.5: strictly between its old and new values), the critic not
    assert all(bool(jnp.all(a == b)) for a, b in zip(jax.tree.leaves(state.ema_params["critic"]),
                                                       jax.tree.leaves(state.params["critic"])))
    assert not all(bool(jnp.all(a == b)) for a, b in zip(jax.tree.leaves(state.ema_params["generator"]),
                                                           jax.tree.leaves(state.params["generator"])))
    with pytest.raises(ValueError, match="multiple of n_critic"):
        step(state, {"x": real["x"][:-1]}, key)


def test_micro_batches_are_strided():
    x = jnp.arange(10)
    np.testing.assert_array_equal(gan_train.micro_batches(x, 5), [[0, 5], [1, 6], [2, 7], [3, 8], [4, 9]])
    # every row used exactly once, and the trailing axes kept
    y = jnp.arange(24.0).reshape(12, 2)
    mb = gan_train.micro_batches(y, 3)
    assert mb.shape == (3, 4, 2)
    np.testing.assert_array_equal(np.sort(np.asarray(mb).reshape(-1, 2), axis=0), np.asarray(y))


def test_sharded_step_moves_no_rows_and_matches_one_device(nets, key):
    # A batch sharded over the data mesh splits into the critic's micro-batches where it lies: the
    # compiled step has no all-gather / all-to-all / collective-permute (consecutive micro-batches
    # gathered the whole batch onto every device, which then ran the whole step), only the
    # all-reduces of data parallelism, and it computes the one-device step's numbers.
    gen, crit, gp, cp = nets
    tx = players.partition({"generator": optax.adam(1e-3), "critic": optax.adam(1e-3)})
    step = jax.jit(gan_train.make_train_step(objectives.wgan_gp(), gen.apply, crit.apply, tx, latent_dim=2,
                                             n_critic=5, ema={"generator": ema_rate(0.9)}))
    state = init_state({"generator": gp, "critic": cp}, tx)
    real = jax.random.normal(key, (5 * 16, 2))
    mesh = sharding.data_mesh(jax.devices()[:8])
    args = (sharding.put_replicated(state, mesh), {"x": jax.device_put(real, sharding.batch_sharding(mesh))}, key)
    hlo = step.lower(*args).compile().as_text()
    ops = set(re.findall(r" (all-gather|all-to-all|collective-permute|all-reduce)(?:-start)?\(", hlo))
    assert ops == {"all-reduce"}, ops
    sharded, _ = step(*args)
    single, _ = step(state, {"x": real}, key)
    # float32; the sharded sums add the per-device partial sums in another order: 1e-5 after one step
    for a, b in zip(jax.tree.leaves(sharded.params), jax.tree.leaves(single.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
