"""GAN training on the multi-player step: n_critic critic updates, then n_gen generator updates.

    tx    = players.partition({"generator": optax.adam(1e-4, 0.5, 0.9), "critic": optax.adam(1e-4, 0.5, 0.9)})
    state = genjax.train.init_state({"generator": g_params, "critic": c_params}, tx)
    step  = make_train_step(gan.objectives.wgan_gp(), gen_apply, critic_apply, tx, latent_dim=2,
                            n_critic=5, ema={"generator": ema_rate(0.999)})
    state, metrics = jax.jit(step)(state, {"x": real}, key)     # real: [n_critic * m, ...]

The real batch is split into ``n_critic`` micro-batches of m samples, one per critic update (as
WGAN-GP draws a fresh batch for every critic iteration), strided: micro-batch i holds rows i,
i + n_critic, i + 2 n_critic, ... (``micro_batches``), so that a batch sharded over devices along its
rows splits on every device without moving data (consecutive blocks would make XLA gather the
whole batch onto every device, and every device would then run the whole step); each critic update draws m fresh
generator samples. The two phases of ``genjax.train.players`` (critic, then generator) are
``lax.scan`` s inside the one step, which also keeps the generator's EMA and refuses a non-finite
step as a whole. The generator update is either the objective's generator loss
(``particle_step_size=None``), or MonoFlow's particle matching: the targets
x' = x - eta * B * grad_x L_gen(x) (for MonoFlow, x + eta grad h(d(x))) are computed once from
fixed latents z, then ``n_gen`` updates minimise 1/2 E ||G(z) - x'||^2.

References: Goodfellow et al. 2014 (alternating updates); Gulrajani et al. 2017, Algorithm 1
(n_critic = 5); Yi et al. 2023, "MonoFlow" (particle matching, several generator steps).
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional

import jax
import jax.numpy as jnp
import optax

from genjax.families import monoflow
from genjax.families.gan.objectives import Objective
from genjax.train import players
from genjax.train.state import EMA

Array = jax.Array
GENERATOR, CRITIC = "generator", "critic"


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def particle_targets(obj: Objective, critic: Callable, x: Array, step_size: float,
                     max_step: Optional[float] = None) -> Array:
    """x' = x - clip(step_size * B * grad_x L_gen(x), max_step): each particle moved down its own
    generator loss, its displacement norm capped at ``max_step`` (None: no cap).

    L_gen is a batch mean, so B * grad_x L_gen is the per-sample gradient; for MonoFlow this is
    x + step_size * grad_x h(d(x)) (``monoflow.particle_targets``). No gradient flows through.
    """
    g = jax.grad(lambda y: obj.generator_loss(critic, y))(x) * x.shape[0]
    return jax.lax.stop_gradient(x + monoflow.clip_displacement(-step_size * g, max_step))


def micro_batches(x: Array, n: int) -> Array:
    """[n * m, ...] -> [n, m, ...], strided: micro-batch i is rows i, i + n, ..., i + (m - 1) n.

    Rows sharded over devices in contiguous blocks of a multiple of n stay where they are: the
    reshape to [m, n, ...] splits the sharded axis on its major side, the transpose moves no row.
    """
    return jnp.swapaxes(x.reshape((x.shape[0] // n, n) + x.shape[1:]), 0, 1)


def phases(obj: Objective, generator: Callable, critic: Callable, latent_dim: int, n_critic: int = 1,
           n_gen: int = 1, particle_step_size: Optional[float] = None,
           particle_max_step: Optional[float] = None) -> tuple[players.Phase, players.Phase]:
    """The critic phase and the generator phase of one GAN step (arguments: ``make_train_step``)."""
    if not isinstance(obj, Objective):
        raise TypeError(f"obj must be a gan.objectives.Objective, got {type(obj).__name__}")
    n_critic, n_gen = _check_count("n_critic", n_critic), _check_count("n_gen", n_gen)
    latent_dim = _check_count("latent_dim", latent_dim)
    if particle_step_size is not None and not particle_step_size > 0:
        raise ValueError(f"particle_step_size must be > 0 or None, got {particle_step_size}")
    if particle_max_step is not None and not particle_max_step > 0:
        raise ValueError(f"particle_max_step must be > 0 or None, got {particle_max_step}")

    def micro_batch(batch) -> int:
        b = batch["x"].shape[0]
        if b % n_critic:
            raise ValueError(f"the real batch size {b} must be a multiple of n_critic={n_critic}")
        return b // n_critic

    def latents(key, shape, batch):
        return jax.random.normal(key, shape + (latent_dim,), batch["x"].dtype)

    def critic_prepare(params, extra, batch, key):
        m = micro_batch(batch)
        return None, (micro_batches(batch["x"], n_critic), latents(key, (n_critic, m), batch)), extra

    def critic_loss(params, shared, each, key):
        real, z = each
        fake = jax.lax.stop_gradient(generator(params[GENERATOR], z))
        return obj.critic_loss(lambda x: critic(params[CRITIC], x), real, fake, key), {}

    def gen_prepare(params, extra, batch, key):
        if particle_step_size is None:                 # fresh latents for every update
            return None, latents(key, (n_gen, micro_batch(batch)), batch), extra
        z = latents(key, (micro_batch(batch),), batch)  # fixed latents, targets computed once
        targets = particle_targets(obj, lambda x: critic(params[CRITIC], x), generator(params[GENERATOR], z),
                                   particle_step_size, particle_max_step)
        return (z, targets), None, extra

    def gen_loss(params, shared, each, key):
        del key
        if particle_step_size is None:
            return obj.generator_loss(lambda x: critic(params[CRITIC], x), generator(params[GENERATOR], each)), {}
        z, targets = shared
        return monoflow.particle_matching_loss(generator(params[GENERATOR], z), targets), {}

    return (players.Phase(CRITIC, critic_loss, n_critic, critic_prepare, obj.project),
            players.Phase(GENERATOR, gen_loss, n_gen, gen_prepare))


def make_train_step(obj: Objective, generator: Callable, critic: Callable, tx: optax.GradientTransformation,
                    latent_dim: int, n_critic: int = 1, n_gen: int = 1,
                    particle_step_size: Optional[float] = None, particle_max_step: Optional[float] = None,
                    ema: Optional[Mapping[str, EMA]] = None) -> Callable:
    """Build ``step(state, {"x": real}, key) -> (state, metrics)`` on ``genjax.train.players``.

    Args:
      obj: a ``gan.objectives.Objective``.
      generator: ``generator(gen_params, z [m, latent_dim]) -> x [m, ...]``.
      critic: ``critic(critic_params, x [m, ...]) -> [m]``.
      tx: ``players.partition({"generator": ..., "critic": ...})``; the state is a TrainState with
        ``params = {"generator": ..., "critic": ...}``.
      latent_dim: size of z ~ N(0, I).
      n_critic, n_gen: critic / generator updates per step (>= 1).
      particle_step_size: None for loss-gradient generator updates; eta > 0 for MonoFlow's
        particle matching.
      particle_max_step: None, or > 0: the cap on each particle's displacement (trust region).
      ema: ``{"generator": EMA}`` to average the generator (the critic is usually not averaged).

    Returns:
      ``step(state, {"x": real [n_critic * m, ...]}, key)``. metrics: "critic_loss",
      "generator_loss", "critic_grad_norm", "generator_grad_norm" (last update of each),
      "critic_gap" = E D(real) - E D(fake) after the step, and ``players.train_step``'s
      "loss" (the critic's), "grad_norm", "finite".
    """
    steps = phases(obj, generator, critic, latent_dim, n_critic, n_gen, particle_step_size, particle_max_step)

    def gap(params, extra, batch, key):
        del extra
        real = micro_batches(batch["x"], n_critic)[-1]       # the last critic update's reals
        z = jax.random.normal(key, (real.shape[0], latent_dim), real.dtype)
        d = lambda x: critic(params[CRITIC], x)  # noqa: E731
        return {"critic_gap": jnp.mean(d(real)) - jnp.mean(d(generator(params[GENERATOR], z)))}

    return players.train_step(steps, tx, ema, metrics_fn=gap)


def sample(generator: Callable, gen_params, n: int, latent_dim: int, key) -> Array:
    """n generator samples G(z), z ~ N(0, I_latent): [n, ...]."""
    return generator(gen_params, jax.random.normal(key, (n, latent_dim)))
