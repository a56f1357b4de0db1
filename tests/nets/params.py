"""Random network parameters for the nets tests, without compiling flax's initialisers."""
import jax
import jax.numpy as jnp
import numpy as np

from genjax import nets


def random_params(net, x, seed=0):
    """Random parameters without compiling flax's initialisers (XLA CPU compiles of many threefry
    calls dominate small tests): shapes by eval_shape, values from numpy; GroupNorm scales ~ 1."""
    shapes = jax.eval_shape(lambda: nets.init_params(net, x, jax.random.key(0)))
    rng = np.random.default_rng(seed)
    flat, tree = jax.tree_util.tree_flatten_with_path(shapes)
    vals = []
    for path, leaf in flat:
        scale = 1.0 if leaf.ndim < 2 else 1.0 / np.sqrt(np.prod(leaf.shape[:-1]))
        base = 1.0 if "scale" in jax.tree_util.keystr(path) else 0.0
        vals.append(jnp.asarray(base + scale * 0.5 * rng.normal(size=leaf.shape), jnp.float32))
    return jax.tree.unflatten(tree, vals)
