"""The "pfgm" family: Poisson flow generative models (``config.model.family = "pfgm"``).

Reads ``config.pfgm``:

    hidden, act           the field network (genjax.nets.critics.PoissonFieldMLP) on x_aug [B, d+1]
    sigma, tau, M, gamma  the paper's perturbation and target normalisation (genjax.families.pfgm)
    small_batch           points perturbed per step (0: the whole batch); the field uses the batch
    z_max, z_min          the backward ODE runs from z_max to z_min in t = log z
    sample_steps, solver  fixed grid of the ODE and a genjax.integrators ODE solver name
    max_radius            clip of the prior radius on the plane z = z_max (0: none)

Images are flattened to d = prod(shape) for the field and reshaped when sampling.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from experiments.tasks import Task, _modes, config_error, ema_from, optimizer_from
from genjax import integrators
from genjax.families import pfgm
from genjax.nets.critics import PoissonFieldMLP, activation
from genjax.train import init_state, learning_rate, train_step

SOLVERS = ("euler", "heun", "midpoint", "rk4")


def build(config, data, workdir: str | None = None) -> Task:
    """The PFGM Task of ``config`` (bad names / values raise ValueError naming the config key)."""
    del workdir  # no extra artefacts
    p = config.pfgm
    with config_error("config.pfgm.act"):
        activation(p.act)
    if p.solver not in SOLVERS:
        raise ValueError(f"config.pfgm.solver must be one of {SOLVERS}, got {p.solver!r}")
    solver = getattr(integrators, p.solver)()
    net = PoissonFieldMLP(hidden=tuple(p.hidden), act=p.act)
    shape = tuple(data.shape)
    dim = int(np.prod(shape))
    with config_error("config.pfgm"):
        loss_fn = pfgm.make_loss(net.apply, sigma=float(p.sigma), tau=float(p.tau), M=float(p.M),
                                 gamma=float(p.gamma), small_batch=int(p.small_batch) or None)
        pfgm.check_sampling_options(1, dim, float(p.z_max), float(p.z_min), int(p.sample_steps))
    tx = optimizer_from(config)
    ema = ema_from(config)
    max_radius = float(p.max_radius) or None

    def init(key):
        return init_state(net.init(key, jnp.zeros((1, dim + 1))), tx)

    def sample(params, n, key):
        field = lambda x_aug: net.apply(params, x_aug)  # noqa: E731
        x = pfgm.sample(field, n, dim, z_max=float(p.z_max), z_min=float(p.z_min),
                        num_steps=int(p.sample_steps), solver=solver, max_radius=max_radius, key=key)
        return x.reshape((n,) + shape)

    step = train_step(loss_fn, tx, ema, lr_schedule=learning_rate(config.optim.lr, int(config.optim.warmup_steps)))
    extras = {"net": net, "field": lambda params: (lambda x_aug: net.apply(params, x_aug)), "solver": solver}
    return Task(init=init, train_step=step, sample=sample, evaluate=_modes.evaluate_fn(config, sample),
                extras=extras)

