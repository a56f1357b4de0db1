"""Shared checks of the flow tests: perturbed parameters, test data, one compiled forward / inverse / Jacobian."""
import jax
import jax.numpy as jnp
import numpy as np


def perturb(params, seed, scale):
    """Move params off their (identity) initialisation so couplings are non-trivial maps.
    numpy noise: drawing it with jax.random would cost a compilation per test."""
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(
        lambda a: a + scale * jnp.asarray(rng.standard_normal(a.shape), a.dtype), params)


def sample_data(name, shape, seed=0):
    rng = np.random.default_rng(seed)
    if name == "logit":
        return jnp.asarray(rng.uniform(0.05, 0.95, (3,) + shape), jnp.float32)
    if name == "image_preprocessing":
        return jnp.asarray(rng.uniform(0.5, 16.5, (3,) + shape), jnp.float32)
    return jnp.asarray(rng.standard_normal((3,) + shape), jnp.float32)


def check_everything(init, forward, inverse, x, key, scale, log_prob=None):
    """Init from x, perturb the params off the identity, then one compiled call: forward,
    inverse, the per-example Jacobian [B, D, D] and optionally log_prob."""
    shape = x.shape[1:]
    params = perturb(jax.jit(init)(x, key), 1, scale)

    @jax.jit
    def run(params, x):
        y, ld = forward(params, x)
        xr, ld_inv = inverse(params, y)
        flat = lambda xi: forward(params, xi.reshape((1,) + shape))[0].reshape(-1)
        jac = jax.vmap(jax.jacfwd(flat))(x.reshape(x.shape[0], -1))
        logp = None if log_prob is None else log_prob(params, x)
        return y, ld, xr, ld_inv, jac, logp

    return run(params, x)
