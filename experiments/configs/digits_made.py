r"""MADE (masked autoencoder, a uniform mixture over orderings) on the binarised 8x8 digits.

Command:
    python -m experiments.train --config experiments/configs/digits_made.py --workdir runs/digits_made
    python -m experiments.train --config experiments/configs/digits_made.py --workdir runs/digits_made --mode eval

Hardware: one CPU, ~5 minutes (20k steps of batch 128); ``:runlocal`` in under a minute.

Expected result: ``ar_bits_per_dim`` of the binary test images 0.38 after 2000 steps with
hidden (256,) and 2 orderings (experiments/papers/likelihood_table/bits_per_dim.py; independent
Bernoulli pixels: 0.55); the mixture over orderings is exactly normalised.

References: Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation".
"""
from experiments.configs import _likelihood_common, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = _likelihood_common.digits_base("autoregressive", "autoregressive", "made",
                                       {"hidden": (500,), "num_orderings": 1, "seed": 0}, arg)
    if arg == "runlocal":
        c.autoregressive.kwargs.hidden = (64,)
        c.autoregressive.kwargs.num_orderings = 2
    return c
