"""The "ebm" family: energy-based models with Langevin negatives (``config.model.family = "ebm"``).

Reads ``config.ebm``:

    hidden, act                      the energy MLP (genjax.nets.critics.ScalarMLP)
    num_steps, step_size, noise_std  Langevin negatives: x <- x - step * clip(grad E) + noise_std xi
    grad_clip                        elementwise gradient clip (0: none)
    reg_weight                       alpha of the L2 energy regulariser
    buffer_size                      replay buffer (persistent chains); 0: short-run chains
    reinit_fraction                  fraction of buffer chains restarted from noise, in [0, 1]
    init_low, init_high              chains start uniform on [low, high]^d
    sample_steps                     Langevin steps from noise when sampling the trained model

The step is ``genjax.families.ebm_train`` on ``genjax.train.players`` (one player, "energy":
``params = {"energy": ...}``, averaged by ``config.ema``). The replay buffer is the state's own
field, ``TrainState.extra = {"buffer": [S, ...]}``, checkpointed with it. Checkpoints written
before the multi-player step (buffer in ``opt_state``) do not restore.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from experiments.tasks import Task, _modes, config_error, ema_from, optimizer_from
from genjax.families import ebm, ebm_train
from genjax.nets.critics import ScalarMLP, activation
from genjax.train import players

ENERGY = ebm_train.ENERGY


def build(config, data, workdir: str | None = None) -> Task:
    """The EBM Task of ``config`` (bad values raise ValueError naming the config key)."""
    del workdir  # no extra artefacts
    e = config.ebm
    with config_error("config.ebm.act"):
        activation(e.act)
    net = ScalarMLP(hidden=tuple(e.hidden), act=e.act)
    shape = tuple(data.shape)
    init_sampler = ebm.uniform_init(shape, float(e.init_low), float(e.init_high))
    grad_clip = float(e.grad_clip) or None
    langevin_opts = dict(num_steps=int(e.num_steps), step_size=float(e.step_size),
                         noise_std=float(e.noise_std), grad_clip=grad_clip)
    tx = players.partition({ENERGY: optimizer_from(config)})
    buffer_size = int(e.buffer_size)
    if buffer_size and buffer_size < int(config.training.batch_size):
        raise ValueError(f"config.ebm.buffer_size={buffer_size} must be 0 or >= "
                         f"config.training.batch_size={config.training.batch_size}")
    with config_error("config.ebm"):
        step = ebm_train.make_train_step(net.apply, tx, init_sampler, reg_weight=float(e.reg_weight),
                                         reinit_fraction=float(e.reinit_fraction),
                                         ema={ENERGY: ema_from(config)}, **langevin_opts)
        ebm.check_langevin_options(int(e.sample_steps), float(e.step_size), float(e.noise_std), grad_clip)

    def init(key):
        k_net, k_buf = jax.random.split(key)
        params = net.init(k_net, jnp.zeros((1,) + shape))
        return ebm_train.init_state(params, tx, buffer_size, init_sampler, key=k_buf)

    def sample(params, n, key):
        return ebm.sample(net.apply, params[ENERGY], init_sampler, n, key=key,
                          **dict(langevin_opts, num_steps=int(e.sample_steps)))

    extras = {"net": net, "energy": lambda params: (lambda x: net.apply(params[ENERGY], x)),
              "init_sampler": init_sampler, "langevin": langevin_opts}
    return Task(init=init, train_step=step, sample=sample,
                evaluate=_modes.evaluate_fn(config, sample), extras=extras)
