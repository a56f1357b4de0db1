"""Tests for genjax/nets/mlp.py: shapes, time broadcast and conditioning (null label), image inputs."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import nets
from tests.nets.params import random_params


# --- MLP ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlp_cond():
    net = nets.MLP(features=(32, 32), embed_dim=16, num_classes=3)
    x = jnp.ones((5, 2))
    return net, jax.jit(nets.apply_fn(net), static_argnames=("train",)), random_params(net, x)


def test_mlp_shapes_time_broadcast_and_null_label(mlp_cond):
    net, apply, params = mlp_cond
    x = jax.random.normal(jax.random.key(2), (5, 2))
    out = apply(params, x, 0.3)
    assert out.shape == (5, 2)
    # atol 1e-6: separately compiled programs fuse float32 differently
    np.testing.assert_allclose(out, apply(params, x, jnp.full((5,), 0.3)), atol=1e-6)
    # label=None, NULL_LABEL and num_classes all select the same null row
    null = apply(params, x, 0.3, jnp.full((5,), nets.NULL_LABEL))
    np.testing.assert_allclose(out, null, atol=1e-6)
    np.testing.assert_allclose(out, apply(params, x, 0.3, jnp.full((5,), 3)), atol=1e-6)
    lab = apply(params, x, 0.3, jnp.array([0, 1, 2, 0, 1]))
    assert float(jnp.max(jnp.abs(lab - null))) > 1e-3
    assert float(jnp.max(jnp.abs(apply(params, x, 0.7) - out))) > 1e-3  # t matters


def test_mlp_flattens_images():
    net = nets.MLP(features=(16,), embed_dim=8, time_embedding="sinusoidal")
    x = jnp.ones((3, 8, 8, 1))
    shapes = jax.eval_shape(lambda: net.apply({"params": nets.init_params(net, x, jax.random.key(0))}, x, 0.1))
    assert shapes.shape == (3, 8, 8, 1)
