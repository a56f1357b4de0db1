"""Shared plumbing of the likelihood families (flows, vae, autoregressive): data spaces and Tasks.

The trainer hands every family batches in its *model space*: 2-D toys as they are, digits at the
bin centres ``x = 2 (k + 1/2) / K - 1`` (``experiments.tasks.inputs``). Likelihood models need
their own space, and bits/dim depend on it:

- ``"continuous"`` (flows, Gaussian VAEs): toys unchanged (bits/dim = nll / (D ln 2) of the
  continuous density); digits uniformly dequantized to ``y = (k + u) / K`` in [0, 1)
  (``genjax.data.digits`` convention), so bits/dim = (nll(y) + D log K) / (D ln 2) bounds the
  discrete 17-level likelihood (``genjax.metrics.bits_per_dim``).
- ``"binary"`` (NADE, MADE, Bernoulli VAEs): digits binarised ``b = [k > 8]``; bits/dim =
  nll(b) / (D ln 2) of binary data. Binarised and dequantized numbers are NOT comparable.

Vector models see flattened images (``flatten=True``); image flows keep [H, W, C].
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.tasks import Task, ema_from, optimizer_from
from genjax import metrics
from genjax.train import init_state, train_step

SPACES = ("continuous", "binary")


class Space(NamedTuple):
    """A model's data space: ``to_model(x, key)``, ``to_data(y)``, ``bits_per_dim(nll)``, ``shape``."""

    shape: tuple
    to_model: Callable
    to_data: Callable
    bits_per_dim: Callable
    kind: str


def space_for(config, data, kind: str, flatten: bool) -> Space:
    """The Space of ``kind`` for the trainer's ``data`` (ValueError naming the config key)."""
    if kind not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {kind!r}")
    shape = tuple(data.shape)
    dim = math.prod(shape)
    out_shape = (dim,) if flatten else shape
    reshape_in = lambda y: y.reshape((y.shape[0],) + out_shape)
    reshape_out = lambda y: y.reshape((y.shape[0],) + shape)
    if data.num_levels is None:
        if kind == "binary":
            raise ValueError(f"config.data.source={config.data.source!r} is continuous; binary models "
                             "(NADE / MADE / Bernoulli VAE) need config.data.source='digits'")
        return Space(out_shape, lambda x, key: reshape_in(jnp.asarray(x, jnp.float32)), reshape_out,
                     lambda nll: metrics.bits_per_dim(nll, dim), kind)
    k_levels = int(data.num_levels)
    if kind == "continuous":
        def to_model(x, key):
            k = data.levels(x).astype(jnp.float32)
            return reshape_in((k + jax.random.uniform(key, k.shape)) / k_levels)

        return Space(out_shape, to_model, lambda y: reshape_out(2.0 * jnp.clip(y, 0.0, 1.0) - 1.0),
                     lambda nll: metrics.bits_per_dim(nll, dim, k_levels, (0.0, 1.0)), kind)
    threshold = (k_levels - 1) // 2            # 8 for the 17-level digits (genjax.data.digits.binarize)

    def to_model_binary(x, key):
        del key
        return reshape_in((data.levels(x) > threshold).astype(jnp.float32))

    def to_data_binary(b):
        level = b * (k_levels - 1)
        return reshape_out(2.0 * (level + 0.5) / k_levels - 1.0)

    return Space(out_shape, to_model_binary, to_data_binary, lambda nll: metrics.bits_per_dim(nll, dim), kind)


def init_batch(config, data, space: Space, n: int = 512) -> jax.Array:
    """A fixed batch of training data in the model space, for data-dependent init (actnorm)."""
    key = jax.random.key(int(config.seed) + 7)
    x = np.asarray(data.reference(n, key), np.float32)
    return jax.jit(space.to_model)(jnp.asarray(x), jax.random.fold_in(key, 1))   # one compile, not many eager ops


def make_task(config, data, space: Space, init_params: Callable, nll: Callable, sample: Callable,
              eval_terms: Callable, extras: dict) -> Task:
    """A Task minimising the mean of ``nll(params, y, key) -> [B]`` on ``space.to_model(batch)``.

    ``eval_terms(params, y, key) -> {name: nll [B] in nats}``; evaluate reports each term's mean
    nll and its bits/dim (``<name>_bits_per_dim``) in the Space's convention.
    """
    tx = optimizer_from(config)
    ema = ema_from(config)
    x0 = init_batch(config, data, space)

    def loss_fn(params, batch, key):
        k_space, k_model = jax.random.split(key)
        values = nll(params, space.to_model(batch["x"], k_space), k_model)
        loss = jnp.mean(values)
        return loss, {"bits_per_dim": space.bits_per_dim(loss)}

    def init(key):
        return init_state(init_params(x0, key), tx)

    def evaluate(params, batch, key):
        k_space, k_model = jax.random.split(key)
        terms = eval_terms(params, space.to_model(jnp.asarray(batch["x"]), k_space), k_model)
        out = {}
        for name, value in terms.items():
            mean = jnp.mean(value)
            out[f"{name}_nll"] = mean
            out[f"{name}_bits_per_dim"] = space.bits_per_dim(mean)
        return out

    def sample_data(params, n, key):
        return space.to_data(sample(params, n, key))

    return Task(init=init, train_step=train_step(loss_fn, tx, ema), sample=sample_data,
                evaluate=evaluate, extras=dict(extras, space=space))


def kwargs_of(section) -> dict:
    """A ConfigDict of factory keyword arguments as a plain dict (sequences as tuples)."""
    out = {}
    for name, value in section.items():
        out[name] = tuple(value) if isinstance(value, (list, tuple)) else value
    return out
