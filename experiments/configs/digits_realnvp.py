r"""Multi-scale RealNVP (checkerboard + channel couplings, squeeze, factor-out) on the 8x8 digits.

Command:
    python -m experiments.train --config experiments/configs/digits_realnvp.py --workdir runs/digits_realnvp
    python -m experiments.train --config experiments/configs/digits_realnvp.py --workdir runs/digits_realnvp --mode eval

Hardware: one CPU, ~20 minutes (20k steps of batch 128); ``:runlocal`` in under a minute.

Expected result: test bits/dim of the dequantized 17-level pixels 2.09 after 2000 steps with 32
channels (experiments/papers/likelihood_table/bits_per_dim.py); uniform model: log2(17) = 4.09.

References: Dinh et al. 2017, "Density estimation using Real NVP".
"""
from experiments.configs import _likelihood_common, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = _likelihood_common.digits_base("flows", "flow", "realnvp_image", {"levels": 2, "hidden": 64}, arg)
    c.flow.logit_alpha = 0.05
    c.flow.eval_num_steps = 0
    if arg == "runlocal":
        c.flow.kwargs.hidden = 16
    return c
