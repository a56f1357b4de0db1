"""Data: Gaussian mixtures with exact noised scores, 2-D toy sets, the bundled 8x8 digits.

Submodules: ``mixture`` (GaussianMixture and constructors, re-exported here), ``toy2d``
(``sample(name, n, key)``), ``digits`` (scikit-learn's 8x8 digits, dequantization, bits/dim
convention), ``batching`` (seeded in-memory batch iterator). The tfds loader for real data sets,
``genjax.data.tfds_loader``, is imported on demand (it pulls in tensorflow_datasets and grain).
"""
from genjax.data import batching, digits, mixture, toy2d
from genjax.data.mixture import (GaussianMixture, eight_gaussians_mixture, gaussian, grid_mixture,
                                 random_mixture, two_gaussians_1d)

__all__ = ["GaussianMixture", "batching", "digits", "eight_gaussians_mixture", "gaussian", "grid_mixture",
           "mixture", "random_mixture", "toy2d", "two_gaussians_1d"]
