"""The "gan" family: GAN / WGAN / WGAN-GP / ReFlow critic / MonoFlow (``config.model.family = "gan"``).

Reads ``config.gan``:

    kind                 minimax | non_saturating | wgan | wgan_gp | reflow_critic | monoflow
                         (the factories of genjax.families.gan.objectives; the only place a name
                         is mapped to an objective)
    n_critic, n_gen      critic / generator updates per train step (both >= 1)
    latent_dim           z ~ N(0, I_latent)
    gp_weight, clip      WGAN-GP lambda; WGAN weight-clipping bound
    h                    MonoFlow's increasing map (genjax.families.monoflow.H_FUNCTIONS)
    particle_step_size   > 0: MonoFlow particle matching for the generator; 0: loss gradients
    particle_max_step    optional, > 0: cap on each particle's displacement; 0 / absent: none
    gen_hidden, critic_hidden, act     the MLPs of genjax.nets.critics

and ``config.optim`` (the same Adam setting for each player, one ``players.partition`` optimizer
with a state per player), ``config.ema`` (the generator's EMA; samples use it; the critic is not
averaged). The global batch ``config.training.batch_size`` is split into ``n_critic`` critic
micro-batches. The trainer's state is the usual ``TrainState`` with
``params = {"generator": ..., "critic": ...}``; the step is ``genjax.families.gan_train`` on
``genjax.train.players`` (EMA and non-finite guard included). Checkpoints written before the
multi-player step (opt_state keyed by player, both players averaged) do not restore.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from experiments.tasks import Task, _modes, config_error, ema_from, optimizer_from
from genjax.families import gan, gan_train
from genjax.nets.critics import MLPGenerator, ScalarMLP, activation
from genjax.train import init_state, players


def objective_from(g) -> gan.Objective:
    """The objective named by ``config.gan.kind`` with its options (ValueError naming the key)."""
    makers = {
        "minimax": gan.objectives.minimax,
        "non_saturating": gan.objectives.non_saturating,
        "wgan": lambda: gan.objectives.wgan(clip=float(g.clip)),
        "wgan_gp": lambda: gan.objectives.wgan_gp(gp_weight=float(g.gp_weight)),
        "reflow_critic": gan.objectives.reflow_critic,
        "monoflow": lambda: gan.objectives.monoflow(h=g.h),
    }
    if g.kind not in makers:
        raise ValueError(f"config.gan.kind must be one of {sorted(makers)}, got {g.kind!r}")
    key = {"wgan": "config.gan.clip", "wgan_gp": "config.gan.gp_weight", "monoflow": "config.gan.h"}
    with config_error(key.get(g.kind, "config.gan.kind")):
        return makers[g.kind]()


def build(config, data, workdir: str | None = None) -> Task:
    """The GAN Task of ``config`` (bad names / values raise ValueError naming the config key)."""
    del workdir  # no extra artefacts
    g = config.gan
    obj = objective_from(g)
    with config_error("config.gan.act"):
        activation(g.act)
    gen = MLPGenerator(out_shape=tuple(data.shape), hidden=tuple(g.gen_hidden), act=g.act)
    crit = ScalarMLP(hidden=tuple(g.critic_hidden), act=g.act)
    tx = players.partition({gan_train.GENERATOR: optimizer_from(config), gan_train.CRITIC: optimizer_from(config)})
    latent = int(g.latent_dim)
    with config_error("config.gan"):
        step = gan_train.make_train_step(obj, gen.apply, crit.apply, tx, latent, n_critic=int(g.n_critic),
                                         n_gen=int(g.n_gen),
                                         particle_step_size=float(g.particle_step_size) or None,
                                         particle_max_step=float(g.get("particle_max_step", 0.0)) or None,
                                         ema={gan_train.GENERATOR: ema_from(config)})
    batch = int(config.training.batch_size)
    if batch % int(g.n_critic):
        raise ValueError(f"config.training.batch_size={batch} must be a multiple of "
                         f"config.gan.n_critic={g.n_critic}")

    def init(key):
        kg, kc = jax.random.split(key)
        params = {gan_train.GENERATOR: gen.init(kg, jnp.zeros((1, latent))),
                  gan_train.CRITIC: crit.init(kc, jnp.zeros((1,) + tuple(data.shape)))}
        return init_state(params, tx)

    def sample(params, n, key):
        return gan_train.sample(gen.apply, params[gan_train.GENERATOR], n, latent, key)

    extras = {"objective": obj, "generator": gen, "critic": crit,
              "critic_fn": lambda params: (lambda x: crit.apply(params[gan_train.CRITIC], x))}
    return Task(init=init, train_step=step, sample=sample,
                evaluate=_modes.evaluate_fn(config, sample), extras=extras)
