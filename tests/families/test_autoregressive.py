"""NADE / MADE: probabilities over all 2^D binary vectors sum to one, the MADE masks are
autoregressive, ancestral samples follow the model's probabilities, bad input raises."""
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.families import autoregressive
from genjax.nets.flow_nets import made_masks


def _all_binary(dim):
    return jnp.asarray(list(itertools.product([0.0, 1.0], repeat=dim)), jnp.float32)   # [2^D, D]


def _perturbed(params, key, scale=0.5):
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree_util.tree_unflatten(tree, [l + scale * jax.random.normal(k, l.shape) for l, k in zip(leaves, keys)])


MODELS = {
    "nade": lambda d: autoregressive.nade(d, hidden=7),
    "made": lambda d: autoregressive.made(d, hidden=(12, 12)),
    "made_3_orderings": lambda d: autoregressive.made(d, hidden=(12,), num_orderings=3, seed=4),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_probabilities_sum_to_one(name, key):
    dim = 11
    m = MODELS[name](dim)
    x_all = _all_binary(dim)
    params = _perturbed(m.init(x_all[::7], key), jax.random.fold_in(key, 1))
    total = jax.nn.logsumexp(jax.jit(m.log_prob)(params, x_all))
    # 2048 probabilities summed in float32 via logsumexp: |log sum| < 1e-5 is float32 round-off.
    assert abs(float(total)) < 1e-5, float(total)


@pytest.mark.parametrize("name", ["nade", "made_3_orderings"])
def test_ancestral_samples_follow_the_model(name, key):
    dim, n = 4, 20000
    m = MODELS[name](dim)
    x_all = _all_binary(dim)
    params = _perturbed(m.init(x_all, key), jax.random.fold_in(key, 2), scale=1.0)
    probs = np.exp(np.asarray(m.log_prob(params, x_all), np.float64))
    xs = np.asarray(jax.jit(m.sample, static_argnums=1)(params, n, jax.random.fold_in(key, 3)))
    assert set(np.unique(xs)) <= {0.0, 1.0}
    codes = (xs @ (2 ** np.arange(dim - 1, -1, -1))).astype(int)      # row index in _all_binary
    freq = np.bincount(codes, minlength=2**dim) / n
    # Each frequency is binomial: within 4.5 standard errors of its probability (16 cells).
    se = np.sqrt(probs * (1 - probs) / n)
    assert np.all(np.abs(freq - probs) < 4.5 * se + 1e-4), np.max(np.abs(freq - probs) / (se + 1e-12))


def test_made_masks_are_autoregressive():
    order = np.array([3, 0, 4, 1, 2])
    masks = made_masks(order, (16, 16), seed=0)
    conn = masks[0] @ masks[1] @ masks[2]                     # paths from input j to output i
    allowed = order[:, None] < order[None, :]                 # j may feed i iff o(j) < o(i)
    assert np.all(conn[~allowed] == 0)
    assert np.all(conn[allowed] > 0)                          # 16 units: every allowed path is present


def _nade_log_prob(x, key):
    m = autoregressive.nade(4, hidden=3)
    return m.log_prob(m.init(jnp.zeros((2, 4)), key), x)


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda k: _nade_log_prob(jnp.full((2, 4), 0.5), k), "binary", id="nade_not_binary"),
    pytest.param(lambda k: _nade_log_prob(jnp.zeros((2, 5)), k), r"shape \[B, 4\]", id="nade_shape"),
    pytest.param(lambda k: autoregressive.made(4, hidden=(8,)).init(jnp.full((2, 4), 2.0), k), "binary",
                 id="made_not_binary"),
    pytest.param(lambda k: autoregressive.made(4, num_orderings=0), "num_orderings", id="made_num_orderings"),
])
def test_bad_input_raises(call, match, key):
    with pytest.raises(ValueError, match=match):
        call(key)


def test_nade_by_hand_at_one_dimension(key):
    # A hand check at D = 1 with V = 0: l_1 = b_1 = logit(2/3), initialised from the data mean.
    one = autoregressive.nade(1, hidden=2)
    p1 = dict(one.init(jnp.array([[1.0], [0.0], [1.0]]), key), V=jnp.zeros((1, 2)))
    np.testing.assert_allclose(one.log_prob(p1, jnp.array([[1.0]])), math.log(2 / 3), rtol=1e-5)
