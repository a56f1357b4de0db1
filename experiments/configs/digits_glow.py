r"""Glow (2 levels of squeeze, K x [actnorm, 1x1 conv (LU), affine coupling], factor-out) on the 8x8 digits.

Command:
    python -m experiments.train --config experiments/configs/digits_glow.py --workdir runs/digits_glow
    python -m experiments.train --config experiments/configs/digits_glow.py --workdir runs/digits_glow --mode eval

Hardware: one CPU, ~30 minutes (20k steps of batch 128); ``:runlocal`` in under a minute.

Expected result: test bits/dim of the dequantized 17-level pixels 2.13 after 2000 steps (4 steps
per level, 32 channels; experiments/papers/likelihood_table/bits_per_dim.py), 2.14 after 3000;
temperature 0.5-0.7 samples are smoother digits (experiments/papers/glow/digits_samples.py).

References: Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions".
"""
from experiments.configs import _likelihood_common, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = _likelihood_common.digits_base("flows", "flow", "glow",
                                       {"levels": 2, "steps_per_level": 8, "hidden": 128}, arg)
    c.flow.logit_alpha = 0.05
    c.flow.eval_num_steps = 0
    if arg == "runlocal":
        c.flow.kwargs.steps_per_level = 3
        c.flow.kwargs.hidden = 16
    return c
