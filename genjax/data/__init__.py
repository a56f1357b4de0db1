"""Data: Gaussian mixtures with exact noised scores, 2-D toy sets, the bundled 8x8 digits.

The tfds loader for real data sets lives in ``genjax.data.tfds_loader`` and is imported on demand
(it pulls in tensorflow_datasets and grain).
"""
from genjax.data.mixture import (GaussianMixture, eight_gaussians_mixture, gaussian, grid_mixture,
                                 random_mixture, two_gaussians_1d)

__all__ = ["GaussianMixture", "eight_gaussians_mixture", "gaussian", "grid_mixture", "random_mixture",
           "two_gaussians_1d"]
