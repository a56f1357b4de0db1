"""Small TrainStates and a two-step checkpoint directory, shared by the checkpoint tests."""
import jax
import jax.numpy as jnp
import optax

from genjax.train import checkpoint as ck
from genjax.train import sharding as sh
from genjax.train import state as st


def small_state(step, mesh):
    """A [4, 3] + [3] Adam state whose values are the step (replicated on ``mesh``)."""
    tx = optax.adam(1e-3)
    params = {"w": jnp.full((4, 3), float(step)), "b": jnp.arange(3.0) * step}
    s = st.init_state(params, tx)._replace(step=jnp.int32(step))
    return sh.put_replicated(s, mesh)


def random_state(step, mesh):
    """A [32, 32] + [32] Adam state of random values drawn from key(step) (replicated on ``mesh``)."""
    tx = optax.adam(1e-3)
    k = jax.random.key(step)
    params = {"w": jax.random.normal(k, (32, 32)), "b": jax.random.normal(jax.random.fold_in(k, 1), (32,))}
    s = st.init_state(params, tx)._replace(step=jnp.int32(step))
    return sh.put_replicated(s, mesh)


def write_two_steps(directory):
    """A checkpoint directory with steps 1 and 2 of random states; returns ``directory``."""
    c = ck.Checkpointer(str(directory), every=1, keep=5)
    for s in (1, 2):
        c.save(random_state(s, sh.data_mesh()))
    c.close()
    return directory
