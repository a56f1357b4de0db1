"""One jit-compiled GAN training step: n_critic critic updates, then n_gen generator updates.

    state = init_state(gen_params, critic_params, gen_opt, critic_opt)
    step  = make_train_step(gan.objective("wgan_gp"), gen_apply, critic_apply, gen_opt, critic_opt,
                            latent_dim=2, n_critic=5)
    state, metrics = jax.jit(step)(state, real, key)      # real: [n_critic * m, ...]

The real batch is split into ``n_critic`` micro-batches of m samples, one per critic update (as
WGAN-GP draws a fresh batch for every critic iteration); each update draws m fresh generator
samples. Both loops are ``lax.scan``s inside the one step. The generator update is either the
objective's generator loss (``particle_step_size=None``), or MonoFlow's particle matching: the
targets x' = x - eta * B * grad_x L_gen(x) (for "monoflow", x + eta grad h(d(x))) are computed
once from fixed latents z, then ``n_gen`` steps minimise 1/2 E ||G(z) - x'||^2.

References: Goodfellow et al. 2014 (alternating updates); Gulrajani et al. 2017, Algorithm 1
(n_critic = 5); Yi et al. 2023, "MonoFlow" (particle matching, several generator steps).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from genjax.families import monoflow
from genjax.families.gan import Objective

Array = jax.Array
PyTree = Any


class GANState(NamedTuple):
    """Training state: both players' parameters and optimizer states, and the step counter."""

    gen_params: PyTree
    critic_params: PyTree
    gen_opt_state: PyTree
    critic_opt_state: PyTree
    step: Array


def init_state(gen_params, critic_params, gen_opt: optax.GradientTransformation,
               critic_opt: optax.GradientTransformation) -> GANState:
    """A fresh ``GANState`` at step 0."""
    return GANState(gen_params=gen_params, critic_params=critic_params,
                    gen_opt_state=gen_opt.init(gen_params),
                    critic_opt_state=critic_opt.init(critic_params),
                    step=jnp.zeros((), jnp.int32))


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

    L_gen is a batch mean, so B * grad_x L_gen is the per-sample gradient; for "monoflow" this is
    x + step_size * grad_x h(d(x)) (``monoflow.particle_targets``). No gradient flows through.
    """
    g = jax.grad(lambda y: obj.generator_loss(critic, y))(x) * x.shape[0]
    return jax.lax.stop_gradient(x + monoflow.clip_displacement(-step_size * g, max_step))


def make_train_step(obj: Objective, generator: Callable, critic: Callable,
                    gen_opt: optax.GradientTransformation, critic_opt: optax.GradientTransformation,
                    latent_dim: int, n_critic: int = 1, n_gen: int = 1,
                    particle_step_size: Optional[float] = None,
                    particle_max_step: Optional[float] = None) -> Callable:
    """Build ``step(state, real, key) -> (state, metrics)``, pure and jit-able.

    Args:
      obj: a ``gan.Objective``.
      generator: ``generator(gen_params, z [m, latent_dim]) -> x [m, ...]``.
      critic: ``critic(critic_params, x [m, ...]) -> [m]``.
      gen_opt, critic_opt: optax transformations.
      latent_dim: size of z ~ N(0, I).
      n_critic: critic updates per step (>= 1).
      n_gen: generator updates per step (>= 1).
      particle_step_size: None for loss-gradient generator updates; eta > 0 for MonoFlow's
        particle matching.
      particle_max_step: None, or > 0: the cap on each particle's displacement (trust region).

    Returns:
      ``step(state, real [n_critic * m, ...], key)``; metrics are the last critic and generator
      losses ("critic_loss", "generator_loss"), their gradient norms ("critic_grad_norm",
      "generator_grad_norm") and the critic gap E D(real) - E D(fake) after the step.
    """
    if not isinstance(obj, Objective):
        raise TypeError(f"obj must be a gan.Objective, got {type(obj).__name__}")
    n_critic = _check_count("n_critic", n_critic)
    n_gen = _check_count("n_gen", n_gen)
    latent_dim = _check_count("latent_dim", latent_dim)
    if particle_step_size is not None and not particle_step_size > 0:
        raise ValueError(f"particle_step_size must be > 0 or None, got {particle_step_size}")
    if particle_max_step is not None and not particle_max_step > 0:
        raise ValueError(f"particle_max_step must be > 0 or None, got {particle_max_step}")

    def critic_update(gen_params, carry, inp):
        cp, cos = carry
        x_real, k = inp
        kz, kl = jax.random.split(k)
        z = jax.random.normal(kz, (x_real.shape[0], latent_dim), x_real.dtype)
        fake = jax.lax.stop_gradient(generator(gen_params, z))
        loss, grads = jax.value_and_grad(
            lambda p: obj.critic_loss(lambda x: critic(p, x), x_real, fake, kl))(cp)
        updates, cos = critic_opt.update(grads, cos, cp)
        cp = obj.project(optax.apply_updates(cp, updates))
        return (cp, cos), (loss, optax.global_norm(grads))

    def gen_update_loss(critic_fn, m, dtype, carry, k):
        gp, gos = carry
        z = jax.random.normal(k, (m, latent_dim), dtype)
        loss, grads = jax.value_and_grad(lambda p: obj.generator_loss(critic_fn, generator(p, z)))(gp)
        updates, gos = gen_opt.update(grads, gos, gp)
        return (optax.apply_updates(gp, updates), gos), (loss, optax.global_norm(grads))

    def step(state: GANState, real: Array, key) -> tuple[GANState, dict]:
        if real.shape[0] % n_critic:
            raise ValueError(f"the real batch size {real.shape[0]} must be a multiple of "
                             f"n_critic={n_critic}")
        m = real.shape[0] // n_critic
        reals = real.reshape((n_critic, m) + real.shape[1:])
        k_c, k_g = jax.random.split(jax.random.fold_in(key, state.step))
        (cp, cos), (c_losses, c_norms) = jax.lax.scan(
            lambda c, i: critic_update(state.gen_params, c, i),
            (state.critic_params, state.critic_opt_state),
            (reals, jax.random.split(k_c, n_critic)))
        critic_fn = lambda x: critic(cp, x)  # noqa: E731

        carry = (state.gen_params, state.gen_opt_state)
        if particle_step_size is None:
            (gp, gos), (g_losses, g_norms) = jax.lax.scan(
                lambda c, k: gen_update_loss(critic_fn, m, real.dtype, c, k), carry,
                jax.random.split(k_g, n_gen))
        else:
            z = jax.random.normal(k_g, (m, latent_dim), real.dtype)
            targets = particle_targets(obj, critic_fn, generator(state.gen_params, z),
                                       particle_step_size, particle_max_step)

            def body(c, _):
                gp, gos = c
                loss, grads = jax.value_and_grad(
                    lambda p: monoflow.particle_matching_loss(generator(p, z), targets))(gp)
                updates, gos = gen_opt.update(grads, gos, gp)
                return (optax.apply_updates(gp, updates), gos), (loss, optax.global_norm(grads))

            (gp, gos), (g_losses, g_norms) = jax.lax.scan(body, carry, None, length=n_gen)

        gap = jnp.mean(critic_fn(reals[-1])) - jnp.mean(
            critic_fn(jax.lax.stop_gradient(generator(gp, jax.random.normal(
                jax.random.fold_in(k_g, 1), (m, latent_dim), real.dtype)))))
        new_state = GANState(gen_params=gp, critic_params=cp, gen_opt_state=gos,
                             critic_opt_state=cos, step=state.step + 1)
        metrics = {"critic_loss": c_losses[-1], "generator_loss": g_losses[-1], "critic_gap": gap,
                   "critic_grad_norm": c_norms[-1], "generator_grad_norm": g_norms[-1]}
        return new_state, metrics

    return step


def sample(generator: Callable, gen_params, n: int, latent_dim: int, key) -> Array:
    """n generator samples G(z), z ~ N(0, I_latent): [n, ...]."""
    return generator(gen_params, jax.random.normal(key, (n, latent_dim)))
