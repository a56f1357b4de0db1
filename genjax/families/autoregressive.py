"""Autoregressive models of binary vectors: NADE and MADE, exact likelihood, ancestral sampling.

Both factorise p(x) = prod_d p(x_{o_d} | x_{o_<d}) over an ordering o, each conditional a
Bernoulli with logit l_d:

    log p(x) = sum_d [x_d log sigmoid(l_d) + (1 - x_d) log sigmoid(-l_d)].

NADE (natural order) shares one hidden layer through a running sum, O(D H) per example:

    a_1 = c,  a_{d+1} = a_d + W_d x_d,  h_d = sigmoid(a_d),  l_d = b_d + V_d . h_d.

MADE masks an autoencoder so logit i sees only x_j with o(j) < o(i). With ``num_orderings = K``
the model is the uniform mixture over K (ordering, hidden-degree) masks sharing one set of
weights, p(x) = (1/K) sum_k p_k(x), still exactly normalised; sampling draws an ordering per
example then D ancestral steps.

    m = nade(dim, hidden=500)           # or made(dim, hidden=(500,), num_orderings=1)
    params = m.init(x, key); logp = m.log_prob(params, x)  # [B]; xs = m.sample(params, n, key)

References: Larochelle & Murray 2011, "The Neural Autoregressive Distribution Estimator";
Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation".
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from genjax.nets.flow_nets import MADENet, init_key, made_masks

Array = jax.Array


class ARModel(NamedTuple):
    """init(x, key) -> params; log_prob(params, x) -> [B]; sample(params, n, key) -> [n, D]."""

    init: Callable
    log_prob: Callable
    sample: Callable
    dim: int


def check_binary(x, dim: int, name: str = "x") -> None:
    """ValueError unless x: [B, dim] with entries in {0, 1} (values checked when concrete)."""
    shape = tuple(jnp.shape(x))
    if len(shape) != 2 or shape[1] != dim:
        raise ValueError(f"{name} must have shape [B, {dim}], got {shape}")
    if not isinstance(x, jax.core.Tracer):
        values = np.asarray(x)
        if not np.all((values == 0) | (values == 1)):
            raise ValueError(f"{name} must be binary (entries 0 or 1); got values in "
                             f"[{values.min()}, {values.max()}]. Binarise the data first "
                             "(e.g. the binarised digits)")


def bernoulli_log_prob(x: Array, logits: Array) -> Array:
    """sum_d x_d log sigmoid(l_d) + (1 - x_d) log sigmoid(-l_d): [B, D] -> [B]."""
    return jnp.sum(x * jax.nn.log_sigmoid(logits) + (1 - x) * jax.nn.log_sigmoid(-logits), axis=-1)


def _marginal_logits(x: Array) -> Array:
    """logit of the per-coordinate mean of x, clipped to [1e-3, 1 - 1e-3]: the output-bias init."""
    p = jnp.clip(jnp.mean(jnp.asarray(x, jnp.float32), axis=0), 1e-3, 1 - 1e-3)
    return jnp.log(p) - jnp.log1p(-p)


def nade(dim: int, hidden: int = 500) -> ARModel:
    """NADE with tied input weights W: [D, H], c: [H], V: [D, H], b: [D] (natural ordering)."""
    if not isinstance(dim, int) or dim < 1 or hidden < 1:
        raise ValueError(f"nade: dim and hidden must be positive ints, got dim={dim}, hidden={hidden}")

    def init(x, key):
        check_binary(x, dim)
        k1, k2 = jax.random.split(key)
        return {"W": jax.random.normal(k1, (dim, hidden)) / math.sqrt(dim),
                "c": jnp.zeros((hidden,)),
                "V": jax.random.normal(k2, (dim, hidden)) / math.sqrt(hidden),
                "b": _marginal_logits(x)}

    def logits(params, x):
        # a_d = c + sum_{j<d} x_j W_j: an exclusive cumulative sum over d, [B, D, H].
        contrib = x[:, :, None] * params["W"][None]
        a = params["c"] + jnp.cumsum(contrib, axis=1) - contrib
        return params["b"] + jnp.sum(jax.nn.sigmoid(a) * params["V"], axis=-1)

    def log_prob(params, x):
        check_binary(x, dim)
        x = jnp.asarray(x, jnp.float32)
        return bernoulli_log_prob(x, logits(params, x))

    def sample(params, n, key):
        def step(a, inp):
            d, w_d, v_d, b_d = inp
            p = jax.nn.sigmoid(b_d + jax.nn.sigmoid(a) @ v_d)
            x_d = jax.random.bernoulli(jax.random.fold_in(key, d), p).astype(jnp.float32)
            return a + x_d[:, None] * w_d, x_d

        a0 = jnp.broadcast_to(params["c"], (n, hidden))
        _, xs = jax.lax.scan(step, a0, (jnp.arange(dim), params["W"], params["V"], params["b"]))
        return xs.T

    return ARModel(init, log_prob, sample, dim)


def made(dim: int, hidden: Sequence[int] = (500,), num_orderings: int = 1, seed: int = 0) -> ARModel:
    """MADE: a masked MLP whose masks come from ``num_orderings`` orderings (the first is the
    natural one; the others random permutations from ``seed``), mixed uniformly."""
    if not isinstance(dim, int) or dim < 2:
        raise ValueError(f"made: dim must be an int >= 2, got {dim!r}")
    if num_orderings < 1:
        raise ValueError(f"made: num_orderings must be >= 1, got {num_orderings}")
    hidden = tuple(int(h) for h in hidden)
    rng = np.random.default_rng(seed)
    orders = [np.arange(dim)] + [rng.permutation(dim) for _ in range(num_orderings - 1)]
    nets = [MADENet(hidden, made_masks(o, hidden, seed + 1000 * k)) for k, o in enumerate(orders)]
    order_arr = jnp.asarray(np.stack(orders))                                 # [K, D]
    last = f"MaskedDense_{len(hidden)}"

    def init(x, key):
        check_binary(x, dim)
        params = nets[0].init(init_key(key), jnp.asarray(x, jnp.float32))["params"]
        params[last]["bias"] = _marginal_logits(x)
        return params

    def all_logits(params, x):                                               # [K, B, D]
        return jnp.stack([net.apply({"params": params}, x) for net in nets])

    def log_prob(params, x):
        check_binary(x, dim)
        x = jnp.asarray(x, jnp.float32)
        per_order = jax.vmap(lambda l: bernoulli_log_prob(x, l))(all_logits(params, x))
        return jax.nn.logsumexp(per_order, axis=0) - math.log(num_orderings)

    def sample(params, n, key):
        key_order, key = jax.random.split(key)
        k = jax.random.randint(key_order, (n,), 0, num_orderings)
        pos = order_arr[k]                                                   # [n, D]

        def step(x, j):
            logit = jnp.take_along_axis(all_logits(params, x), k[None, :, None], axis=0)[0]
            draw = jax.random.bernoulli(jax.random.fold_in(key, j), jax.nn.sigmoid(logit))
            return jnp.where(pos == j, draw.astype(jnp.float32), x), None

        x, _ = jax.lax.scan(step, jnp.zeros((n, dim)), jnp.arange(dim))
        return x

    return ARModel(init, log_prob, sample, dim)
