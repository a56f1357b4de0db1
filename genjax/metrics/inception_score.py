"""Inception Score from classifier logits: exp(E_x KL(p(y|x) || p(y))), averaged over splits.

    IS = exp( mean_x sum_y p(y|x) (log p(y|x) - log p(y)) ),   p(y) = mean_x p(y|x) within the split,

computed on ``num_splits`` contiguous splits of N // num_splits rows (the last N mod num_splits rows
are dropped), reported as (mean, standard deviation) over the splits, as the reference
implementations do (10 splits; p(y|x) the softmax of the Inception's 1008 logits, ``fid.logits``).
It equals k when every p(y|x) is one-hot and the classes are used equally often among k classes.
Also the "classifier score" of ``genjax.metrics.digits`` (with its 10-class classifier).

References: Salimans et al. 2016, "Improved Techniques for Training GANs"; Barratt & Sharma 2018,
"A Note on the Inception Score".
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy


@jax.jit
def _split_scores(logits):  # [S, n, C]
    logp = jax.nn.log_softmax(logits, axis=-1)
    p = jnp.exp(logp)
    py = jnp.mean(p, axis=1)                                 # [S, C]
    neg_entropy = jnp.mean(jnp.sum(p * logp, -1), axis=1)   # E_x sum_y p log p   (p log p -> 0 at p = 0)
    return jnp.exp(neg_entropy - jnp.sum(xlogy(py, py), -1))


def inception_score(logits, num_splits: int = 10) -> tuple[float, float]:
    """(mean, std) of exp(E_x KL(p(y|x) || p(y))) over ``num_splits`` splits of logits [N, C]."""
    lg = np.asarray(logits, np.float32)
    if lg.ndim != 2:
        raise ValueError(f"inception_score: logits must have shape [N, C], got {lg.shape}")
    if not isinstance(num_splits, int) or not 1 <= num_splits <= lg.shape[0]:
        raise ValueError(f"inception_score: num_splits must be an int in [1, N={lg.shape[0]}], got {num_splits!r}")
    n = lg.shape[0] // num_splits
    scores = np.asarray(_split_scores(jnp.asarray(lg[: n * num_splits].reshape(num_splits, n, -1))), np.float64)
    return float(scores.mean()), float(scores.std())
