r"""FFJORD continuous normalizing flow on 2-D data (exact trace, RK4 through genjax.integrators).

Command:
    python -m experiments.train --config experiments/configs/toy2d_cnf.py --workdir runs/toy2d_cnf
    python -m experiments.train --config experiments/configs/toy2d_cnf.py --workdir runs/toy2d_cnf --mode eval

Hardware: one CPU core, ~20 minutes (5k steps of batch 256, 16 RK4 steps per solve: the grid on
which the checkerboard was measured, see below);
``:runlocal`` in under a minute.

Expected result: held-out nll 2.86 nats on 8 Gaussians, 2.38 pinwheel (2000 steps) and 3.64
checkerboard (8000 steps; optimum log 32 = 3.47), batch 128, hidden (64, 64), a 16-step RK4 training
grid (experiments/papers/ffjord/toy_densities.py); clean, separated modes. A coarse training grid can
be exploited: with 6 RK4 steps the checkerboard's training loss fell below the data's entropy while
the 32-step evaluation rose to 7 nats, so compare the training loss with the evaluation.
Evaluation re-solves with
``flow.eval_num_steps`` RK4 steps on the same parameters
(``--config.flow.eval_solver=dopri5``: FFJORD's adaptive solve to ``flow.eval_tol``). ``--config.flow.kwargs.divergence=hutchinson``
trains with Hutchinson's estimator (evaluation stays exact in 2-D).

References: Grathwohl et al. 2019, "FFJORD" (Fig. 2); Chen et al. 2018, "Neural ODEs".
"""
import ml_collections

from experiments.configs import common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = common.base()
    c.model.family = "flows"
    c.data.source = "toy2d"
    c.data.name = "8gaussians"
    c.flow = ml_collections.ConfigDict()
    c.flow.name = "cnf"
    c.flow.kwargs = ml_collections.ConfigDict({"hidden": (64, 64, 64), "divergence": "exact",
                                               "num_steps": 16, "t1": 1.0})
    c.flow.logit_alpha = 0.0
    c.flow.eval_num_steps = 32
    c.flow.eval_solver = "rk4"          # or "dopri5" (adaptive, to eval_tol)
    c.flow.eval_tol = 1e-5
    c.training.num_steps = 5_000
    c.optim.lr = 2e-3
    c.optim.grad_clip = 10.0
    c.ema.rate = 0.99
    if arg == "runlocal":
        common.runlocal(c, num_steps=300)
        c.flow.kwargs.hidden = (32, 32)
        c.flow.kwargs.num_steps = 4
        c.flow.eval_num_steps = 8
        c.ema.rate = 0.0
    return c
