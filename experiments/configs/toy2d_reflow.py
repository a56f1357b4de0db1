r"""2-rectified flow (ReFlow) on a 2-D toy set: retrain on the couplings of a 1-rectified flow.

One command trains both stages: the teacher (toy2d_flow_matching with the same argument) in
``<workdir>/teacher`` (resumed or reused if already there), then 20k ODE couplings
(z, x = ODE_teacher(z), RK4 with 64 steps), then the 2-rectified flow on them, initialised
from the teacher.

Command:
    python -m experiments.train --config experiments/configs/toy2d_reflow.py --workdir runs/toy2d_reflow
    python -m experiments.train --config experiments/configs/toy2d_reflow.py --workdir runs/toy2d_reflow --mode eval

Hardware: one CPU (laptop); 20k teacher steps + 10k ReFlow steps of batch 256.

Expected result: 2-step Euler samples of the 2-rectified flow already cover the checkerboard while
the teacher's do not, and its straightness S (Liu et al., Definition 3.6, on the sampler's grid)
is far smaller. Measured on CPU with 3000 teacher and 2000 ReFlow steps (10k couplings), 2 Euler
steps: MMD^2 0.470 (teacher) -> 0.0039 (2-RF), straightness 1.94 -> 0.017 (teacher numbers:
``--mode eval`` in ``<workdir>/teacher`` with ``--config.eval.straightness=True
--config.sampling.solver=euler --config.sampling.num_steps=2``).

References: Liu, Gong & Liu 2023, "Flow Straight and Fast: Learning to Generate and Transfer Data
with Rectified Flow" (Sec. 2.3, Algorithm 1, Figure 2).
"""
import ml_collections

from experiments.configs import common, toy2d_flow_matching


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = toy2d_flow_matching.get_config(arg)
    c.loss.name = "reflow"
    c.training.num_steps = 10_000 if not arg else c.training.num_steps
    c.optim.warmup_steps = 0
    c.sampling.solver = "euler"
    c.sampling.num_steps = 2
    c.eval.straightness = True
    c.reflow = ml_collections.ConfigDict()
    c.reflow.teacher = toy2d_flow_matching.get_config(arg)
    c.reflow.teacher_workdir = ""        # "" = <workdir>/teacher
    c.reflow.num_pairs = 20_000
    c.reflow.solver = "rk4"
    c.reflow.num_steps = 64
    c.reflow.init_from_teacher = True
    if arg == "runlocal":
        c.reflow.teacher.training.num_steps = 100
        c.reflow.num_pairs = 1024
        c.reflow.num_steps = 8
    return c
