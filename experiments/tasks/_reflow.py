"""ReFlow for the diffusion family: a teacher flow, its ODE couplings, and a step that trains on them.

``config.reflow`` (see experiments/configs/toy2d_reflow.py):

    teacher            a full config of the previous flow (e.g. toy2d_flow_matching's); itself a
                       ReFlow config for k > 2 (the recursion trains 1-, 2-, ... rectified flows)
    teacher_workdir    where the teacher lives; "" = <workdir>/teacher. The teacher is trained
                       there first (or resumed, or just restored when finished) by the same trainer
    num_pairs          couplings generated once: z ~ prior, x = ODE_teacher(z)
    solver, num_steps  the deterministic sampler and grid of that ODE solve
    init_from_teacher  start the student from the teacher's EMA parameters

The couplings are a fixed set (Liu et al. 2023, Algorithm 1), a pure function of config.seed, so a
resumed run regenerates exactly the same pairs; each step draws its batch of pairs with
``fold_in(key, step)``.

References: Liu, Gong & Liu 2023, "Flow Straight and Fast" (Sec. 2.3, Algorithm 1).
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments.tasks import config_error
from genjax import reflow, samplers, schedules
from genjax.train import sharding

_PAIRS_SALT = 0x5EED


def couplings(config, data, workdir):
    """(pairs {"x": [N, ...], "z": [N, ...]} replicated on the mesh, teacher EMA params as numpy)."""
    from experiments.tasks import _run  # the same trainer trains / restores the teacher (lazy: _run imports tasks)

    if "reflow" not in config:
        raise ValueError(f"config.loss.name={config.loss.name!r} needs a config.reflow section "
                         "(see experiments/configs/toy2d_reflow.py)")
    r = config.reflow
    teacher_dir = r.teacher_workdir or os.path.join(workdir, "teacher")
    teacher = _run.run(r.teacher, teacher_dir, mode="train")
    if tuple(teacher.data.shape) != tuple(data.shape):
        raise ValueError(f"config.reflow.teacher: the teacher's data shape {teacher.data.shape} differs "
                         f"from the student's {data.shape}")
    s = teacher.task.extras["schedule"]
    if r.solver not in ("euler", "heun", "rk4"):
        raise ValueError(f"config.reflow.solver must be a deterministic ODE solver (euler, heun, rk4), got {r.solver!r}")
    solve = getattr(samplers, r.solver)()
    with config_error("config.reflow.num_steps"):
        ts = np.asarray(schedules.time_grid(s, int(r.num_steps)))
    denoiser_of = teacher.task.extras["denoiser"]
    mesh = sharding.data_mesh()
    key = jax.random.fold_in(jax.random.key(int(config.seed)), _PAIRS_SALT)
    shape = (int(r.num_pairs),) + tuple(data.shape)

    def generate(params, key):
        z = s.prior_sample(shape, key)
        return reflow.couplings(denoiser_of(params), s, solve, ts, z)

    pairs = jax.jit(generate, out_shardings=sharding.replicated(mesh))(teacher.state.ema_params, key)
    return pairs, jax.device_get(teacher.state.ema_params)


def on_pairs(step, pairs: dict, batch_size: int):
    """A train step on ``batch_size`` couplings drawn with fold_in(key, step) (the data batch is unused)."""
    n = int(pairs["x"].shape[0])
    pairs = jax.device_get(pairs)

    def fused(state, batch, key):
        del batch
        k = jax.random.fold_in(jax.random.fold_in(key, _PAIRS_SALT), state.step)
        idx = jax.random.randint(k, (batch_size,), 0, n)
        return step(state, {"x": jnp.asarray(pairs["x"])[idx], "z": jnp.asarray(pairs["z"])[idx]}, key)

    return fused
