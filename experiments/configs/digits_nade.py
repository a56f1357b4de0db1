r"""NADE on the binarised 8x8 digits (pixel > 8), exact likelihood.

Command:
    python -m experiments.train --config experiments/configs/digits_nade.py --workdir runs/digits_nade
    python -m experiments.train --config experiments/configs/digits_nade.py --workdir runs/digits_nade --mode eval

Hardware: one CPU, ~5 minutes (20k steps of batch 128, 500 hidden units); ``:runlocal`` in under a minute.

Expected result: ``ar_bits_per_dim`` of the binary test images 0.40 after 2000 steps with 128
hidden units (experiments/papers/likelihood_table/bits_per_dim.py; independent Bernoulli pixels:
0.55); not comparable with dequantized bits/dim.

References: Larochelle & Murray 2011, "The Neural Autoregressive Distribution Estimator".
"""
from experiments.configs import _likelihood_common, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = _likelihood_common.digits_base("autoregressive", "autoregressive", "nade", {"hidden": 500}, arg)
    if arg == "runlocal":
        c.autoregressive.kwargs.hidden = 64
    return c
