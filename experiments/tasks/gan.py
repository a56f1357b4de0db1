"""The "gan" family: GAN / WGAN / WGAN-GP / ReFlow critic / MonoFlow (``config.model.family = "gan"``).

Reads ``config.gan``:

    kind                 one of genjax.families.gan.KINDS
    n_critic, n_gen      critic / generator updates per train step (both >= 1)
    latent_dim           z ~ N(0, I_latent)
    gp_weight, clip      WGAN-GP lambda; WGAN weight-clipping bound
    h                    MonoFlow's increasing map (genjax.families.monoflow.H_FUNCTIONS)
    particle_step_size   > 0: MonoFlow particle matching for the generator; 0: loss gradients
    particle_max_step    optional, > 0: cap on each particle's displacement; 0 / absent: none
    gen_hidden, critic_hidden, act     the MLPs of genjax.nets.critics

and ``config.optim`` (one Adam setting, a separate optimizer state for each player), ``config.ema``
(EMA of both players' parameters; samples use the generator's EMA). The global batch
``config.training.batch_size`` is split into ``n_critic`` critic micro-batches
(``genjax.families.gan_train``). The trainer's state is ``TrainState(step, params, opt_state, ema)``
with ``params = {"generator": ..., "critic": ...}`` and ``opt_state`` keyed the same way.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from experiments.tasks import Task, _modes, config_error, ema_from, optimizer_from
from genjax.families import gan, gan_train
from genjax.nets.critics import MLPGenerator, ScalarMLP, activation
from genjax.train import TrainState


def _finite_tree(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def build(config, data, workdir: str | None = None) -> Task:
    """The GAN Task of ``config`` (bad names / values raise ValueError naming the config key)."""
    del workdir  # no extra artefacts
    g = config.gan
    with config_error("config.gan.kind"):
        obj = gan.objective(g.kind, gp_weight=float(g.gp_weight), clip=float(g.clip), h=g.h)
    with config_error("config.gan.act"):
        activation(g.act)
    gen = MLPGenerator(out_shape=tuple(data.shape), hidden=tuple(g.gen_hidden), act=g.act)
    crit = ScalarMLP(hidden=tuple(g.critic_hidden), act=g.act)
    tx = optimizer_from(config)
    ema = ema_from(config)
    latent = int(g.latent_dim)
    with config_error("config.gan"):
        step_fn = gan_train.make_train_step(obj, gen.apply, crit.apply, tx, tx, latent,
                                            n_critic=int(g.n_critic), n_gen=int(g.n_gen),
                                            particle_step_size=float(g.particle_step_size) or None,
                                            particle_max_step=float(g.get("particle_max_step", 0.0)) or None)
    batch = int(config.training.batch_size)
    if batch % int(g.n_critic):
        raise ValueError(f"config.training.batch_size={batch} must be a multiple of "
                         f"config.gan.n_critic={g.n_critic}")

    def init(key):
        kg, kc = jax.random.split(key)
        gp = gen.init(kg, jnp.zeros((1, latent)))
        cp = crit.init(kc, jnp.zeros((1,) + tuple(data.shape)))
        params = {"generator": gp, "critic": cp}
        return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                          opt_state={"generator": tx.init(gp), "critic": tx.init(cp)},
                          ema_params=jax.tree_util.tree_map(jnp.array, params))

    def train_step(state, batch, key):
        gs = gan_train.GANState(gen_params=state.params["generator"],
                                critic_params=state.params["critic"],
                                gen_opt_state=state.opt_state["generator"],
                                critic_opt_state=state.opt_state["critic"], step=state.step)
        new, m = step_fn(gs, batch["x"], key)
        params = {"generator": new.gen_params, "critic": new.critic_params}
        finite = _finite_tree(m) & _finite_tree(params)
        beta = ema.decay(state.step)
        ema_params = jax.tree_util.tree_map(lambda e, p: beta * e + (1.0 - beta) * p,
                                            state.ema_params, params)
        cand = TrainState(step=state.step + 1, params=params,
                          opt_state={"generator": new.gen_opt_state, "critic": new.critic_opt_state},
                          ema_params=ema_params)
        new_state = jax.tree_util.tree_map(lambda n, o: jnp.where(finite, n, o), cand, state)
        metrics = dict(m, loss=m["critic_loss"], grad_norm=m["generator_grad_norm"], finite=finite)
        return new_state, metrics

    def sample(params, n, key):
        return gan_train.sample(gen.apply, params["generator"], n, latent, key)

    extras = {"objective": obj, "generator": gen, "critic": crit,
              "critic_fn": lambda params: (lambda x: crit.apply(params["critic"], x))}
    return Task(init=init, train_step=train_step, sample=sample,
                evaluate=_modes.evaluate_fn(config, sample), extras=extras)

