"""Sample-quality metrics.

- ``sample`` (re-exported here): MMD, energy distance, sliced W_2 for low-dimensional samples, and the
  bits/dim convention.
- ``fid``: the FID Inception network (pytorch-fid's graph) in flax, its features, Gaussian statistics
  and the Frechet distance; ``kid``, ``inception_score``, ``precision_recall`` on its features.
- ``streaming``: running float64 sums of features, sharded under a Mesh, and reference-statistics files.
- ``digits``: a small classifier of the bundled 8x8 digits and ``digits_fd``, a Frechet distance on its
  features, for CPU-scale runs.

Submodules that build networks are imported on first use (``from genjax.metrics import fid``).
"""
from genjax.metrics.sample import (  # noqa: F401
    DEFAULT_SCALES,
    bits_per_dim,
    dequantization_offset,
    energy_distance,
    median_distance,
    mmd2,
    nll_from_bits_per_dim,
    pairwise_sq_dists,
    sliced_wasserstein,
    wasserstein2_1d,
)
