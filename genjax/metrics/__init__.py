"""Sample-quality metrics.

- ``sample`` (re-exported here): MMD, energy distance, sliced W_2 for low-dimensional samples, and the
  bits/dim convention.
- ``fid``: the FID Inception network (pytorch-fid's graph) in flax, its features, Gaussian statistics
  and the Frechet distance; ``kid``, ``inception_score``, ``precision_recall`` on its features.
- ``streaming``: running float64 sums of features, sharded under a Mesh, and reference-statistics files.
- ``digits``: a small classifier of the bundled 8x8 digits and ``digits_fd``, a Frechet distance on its
  features, for CPU-scale runs.

Submodules that build networks are imported on first use (``from genjax.metrics import fid``);
``metrics.digits_fd`` and ``metrics.digits_score`` load the digits classifier when first called.
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


def digits_fd(x, ref=None) -> float:
    """``genjax.metrics.digits.digits_fd``: Frechet distance of digits samples under the digits classifier."""
    from genjax.metrics import digits

    return digits.digits_fd(x, ref)


def digits_score(x, num_splits: int = 1) -> float:
    """``genjax.metrics.digits.digits_score``: the classifier score of digits samples (1 to 10)."""
    from genjax.metrics import digits

    return digits.digits_score(x, num_splits)
