r"""NICE (additive couplings + diagonal scaling, logit preprocessing) on the dequantized 8x8 digits.

Command:
    python -m experiments.train --config experiments/configs/digits_nice.py --workdir runs/digits_nice
    python -m experiments.train --config experiments/configs/digits_nice.py --workdir runs/digits_nice --mode eval

Hardware: one CPU, ~15 minutes (20k steps of batch 128, 5 x 1000 hidden units); ``:runlocal`` in
under a minute.

Expected result: test bits/dim of the dequantized 17-level pixels (``flow_bits_per_dim``) 2.63
after 2000 steps with 3 x 256 hidden units (experiments/papers/likelihood_table/bits_per_dim.py);
uniform model: log2(17) = 4.09. NICE overfits the 1438 training digits with longer runs.

References: Dinh et al. 2015, "NICE: Non-linear Independent Components Estimation".
"""
from experiments.configs import _likelihood_common, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = _likelihood_common.digits_base("flows", "flow", "nice",
                                       {"num_couplings": 4, "hidden": (1000,) * 5}, arg)
    c.flow.logit_alpha = 0.05
    c.flow.eval_num_steps = 0
    c.optim.lr = 1e-4
    if arg == "runlocal":
        c.flow.kwargs.hidden = (128, 128)
        c.optim.lr = 1e-3
    return c
