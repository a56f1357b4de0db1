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

The replay buffer lives in the trainer's state as ``opt_state = {"optimizer": ..., "buffer": [S, ...]}``
(``TrainState`` has one optimizer-state slot; the buffer is checkpointed with it).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from experiments.tasks import Task, _modes, config_error, ema_from, optimizer_from
from genjax.families import ebm
from genjax.nets.critics import ScalarMLP, activation
from genjax.train import TrainState


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
    tx = optimizer_from(config)
    ema = ema_from(config)
    buffer_size = int(e.buffer_size)
    if buffer_size and buffer_size < int(config.training.batch_size):
        raise ValueError(f"config.ebm.buffer_size={buffer_size} must be 0 or >= "
                         f"config.training.batch_size={config.training.batch_size}")
    with config_error("config.ebm"):
        step_fn = ebm.make_train_step(net.apply, tx, init_sampler, reg_weight=float(e.reg_weight),
                                      reinit_fraction=float(e.reinit_fraction), **langevin_opts)
        ebm.check_langevin_options(int(e.sample_steps), float(e.step_size), float(e.noise_std), grad_clip)

    def init(key):
        k_net, k_buf = jax.random.split(key)
        params = net.init(k_net, jnp.zeros((1,) + shape))
        s = ebm.init_state(params, tx, buffer_size, init_sampler, key=k_buf)
        opt_state = {"optimizer": s.opt_state}
        if s.buffer is not None:
            opt_state["buffer"] = s.buffer
        return TrainState(step=s.step, params=params, opt_state=opt_state,
                          ema_params=jax.tree_util.tree_map(jnp.array, params))

    def train_step(state, batch, key):
        s = ebm.EBMState(params=state.params, opt_state=state.opt_state["optimizer"],
                         buffer=state.opt_state.get("buffer"), step=state.step)
        new, m = step_fn(s, batch["x"], key)
        finite = jnp.isfinite(m["loss"]) & jnp.isfinite(m["grad_norm"]) & jnp.all(
            jnp.stack([jnp.all(jnp.isfinite(p)) for p in jax.tree_util.tree_leaves(new.params)]))
        beta = ema.decay(state.step)
        opt_state = {"optimizer": new.opt_state}
        if new.buffer is not None:
            opt_state["buffer"] = new.buffer
        cand = TrainState(step=state.step + 1, params=new.params, opt_state=opt_state,
                          ema_params=jax.tree_util.tree_map(lambda a, p: beta * a + (1.0 - beta) * p,
                                                            state.ema_params, new.params))
        new_state = jax.tree_util.tree_map(lambda n, o: jnp.where(finite, n, o), cand, state)
        return new_state, dict(m, finite=finite)

    def sample(params, n, key):
        return ebm.sample(net.apply, params, init_sampler, n, key=key,
                          **dict(langevin_opts, num_steps=int(e.sample_steps)))

    extras = {"net": net, "energy": lambda params: (lambda x: net.apply(params, x)),
              "init_sampler": init_sampler, "langevin": langevin_opts}
    return Task(init=init, train_step=train_step, sample=sample,
                evaluate=_modes.evaluate_fn(config, sample), extras=extras)
