"""genjax.families.gan_train: the alternating critic / generator step on genjax.train.players."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.families import gan_train
from genjax.families.gan import objectives
from genjax.nets.critics import MLPGenerator, ScalarMLP
from genjax.train import ema_rate, init_state, players


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
