"""Mode coverage / high-quality rate as a Task ``evaluate`` for the 8- and 25-Gaussian toy sets.

Used by the sample-based families (gan, ebm, pfgm): their samples are scored against the exact
modes of ``genjax.data.mixture`` (``genjax.families.mode_coverage``).
"""
from __future__ import annotations

from typing import Callable, Optional

MIXTURES = {"8gaussians": "eight_gaussians_mixture", "25gaussians": "grid_mixture"}


def mixture_of(config):
    """The exact GaussianMixture of the configured toy set, or None."""
    from genjax.data import mixture

    if config.data.source != "toy2d" or config.data.name not in MIXTURES:
        return None
    return getattr(mixture, MIXTURES[config.data.name])()


def evaluate_fn(config, sample: Callable) -> Optional[Callable]:
    """``evaluate(params, batch, key) -> {"modes_covered", "mode_coverage", "hq_rate"}`` or None.

    ``sample(params, n, key)`` draws ``config.eval.num_samples`` points; the data batch is unused.
    """
    from genjax.families.mode_coverage import mode_stats

    gm = mixture_of(config)
    if gm is None:
        return None
    n = int(config.eval.num_samples)

    def evaluate(params, batch, key):
        del batch
        stats = mode_stats(sample(params, n, key), gm.means, gm.stds, gm.weights)
        return {"modes_covered": stats.num_covered, "mode_coverage": stats.coverage,
                "hq_rate": stats.hq_rate}

    return evaluate
