r"""FFJORD CNF on the flattened dequantized 8x8 digits (logit preprocessing; Hutchinson trace in
training, exact in eval).

Command:
    python -m experiments.train --config experiments/configs/digits_cnf.py --workdir runs/digits_cnf
    python -m experiments.train --config experiments/configs/digits_cnf.py --workdir runs/digits_cnf --mode eval

Hardware: one CPU, ~1 hour (10k steps of batch 128, 8 RK4 steps); a GPU in minutes; ``:runlocal``
in about a minute.

Expected result: test bits/dim of the dequantized pixels 2.40 after 1000 steps with hidden
(128, 128) (experiments/papers/likelihood_table/bits_per_dim.py; evaluation: exact divergence,
``flow.eval_num_steps`` RK4 steps on the same parameters;
``--config.flow.eval_solver=dopri5``: FFJORD's adaptive solve to ``flow.eval_tol``).

References: Grathwohl et al. 2019, "FFJORD: Free-form Continuous Dynamics for Scalable Reversible
Generative Models".
"""
from experiments.configs import _likelihood_common, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = _likelihood_common.digits_base("flows", "flow", "cnf",
                                       {"hidden": (256, 256), "divergence": "hutchinson", "num_steps": 8,
                                        "t1": 1.0}, arg)
    c.flow.logit_alpha = 0.05
    c.flow.eval_num_steps = 16
    c.flow.eval_solver = "rk4"          # or "dopri5" (adaptive, to eval_tol)
    c.flow.eval_tol = 1e-5
    c.training.num_steps = 10_000
    if arg == "runlocal":
        c.flow.kwargs.hidden = (64,)
        c.flow.kwargs.num_steps = 4
        c.flow.eval_num_steps = 8
    return c
