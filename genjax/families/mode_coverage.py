"""Mode coverage and high-quality-sample rate of 2-D samples against a Gaussian mixture's modes.

The GAN literature's toy metrics (Unrolled GAN, VEEGAN, PacGAN) for the ring of 8 Gaussians and
the 5 x 5 grid:

* a sample is *high quality* when it lies within ``n_std`` standard deviations of its nearest
  mode centre (3 in those papers);
* a mode is *covered* when it receives at least ``min_fraction`` of its fair share n w_k of the
  high-quality samples (PacGAN: 20 of 2500 samples on 25 modes, i.e. 0.2 of the fair share 100).

References: Metz et al. 2017, "Unrolled Generative Adversarial Networks"; Srivastava et al. 2017,
"VEEGAN"; Lin et al. 2018, "PacGAN: The Power of Two Samples in Generative Adversarial Networks".
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class ModeStats(NamedTuple):
    """num_covered: modes covered (int); coverage: num_covered / K; hq_rate: high-quality fraction."""

    num_covered: Array
    coverage: Array
    hq_rate: Array


@functools.partial(jax.jit, static_argnames=("n_std", "min_fraction"))
def mode_stats(samples: Array, means: Array, stds: Array, weights=None, *, n_std: float = 3.0,
               min_fraction: float = 0.2) -> ModeStats:
    """Mode coverage and high-quality rate of ``samples`` [n, d] for modes ``means`` [K, d].

    Args:
      samples: [n, d].
      means: [K, d] mode centres.
      stds: [K] (isotropic) or [K, d] per-mode standard deviations; the distance is measured in
        units of the mode's std (per coordinate for [K, d]).
      weights: [K] mode weights (uniform if None), for the fair share n w_k.
      n_std: high-quality radius in standard deviations.
      min_fraction: a mode is covered with >= min_fraction * n * w_k high-quality samples.
    """
    samples, means = jnp.asarray(samples), jnp.asarray(means)
    k, d = means.shape
    stds = jnp.broadcast_to(jnp.asarray(stds, samples.dtype).reshape(k, -1), (k, d))
    w = jnp.full((k,), 1.0 / k) if weights is None else jnp.asarray(weights) / jnp.sum(weights)
    dist = jnp.linalg.norm(samples[:, None, :] - means[None], axis=-1)          # [n, K]
    nearest = jnp.argmin(dist, axis=-1)
    scaled = jnp.linalg.norm((samples - means[nearest]) / stds[nearest], axis=-1)
    hq = scaled <= n_std
    counts = jnp.zeros((k,)).at[nearest].add(hq.astype(jnp.float32))
    covered = counts >= min_fraction * samples.shape[0] * w
    num = jnp.sum(covered)
    return ModeStats(num_covered=num, coverage=num / k, hq_rate=jnp.mean(hq.astype(jnp.float32)))
