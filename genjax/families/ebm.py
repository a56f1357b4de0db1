"""Energy-based models: p(x) ~ exp(-E(x)), Langevin negatives, replay buffer (Du & Mordatch 2019).

Langevin dynamics with separate step size and noise scale, optional gradient clipping:

    x_{k+1} = x_k - step_size * clip(grad_x E(x_k)) + noise_std * xi_k,   xi_k ~ N(0, I).

``noise_std = sqrt(2 step_size)`` is the unadjusted Langevin algorithm (ULA) at temperature 1;
Du & Mordatch decouple the two (large step, small noise: a noisy gradient descent at temperature
noise_std^2 / (2 step_size)). ULA is biased by the step: for E = 1/2 (x - mu)^T P (x - mu) the chain
is Gaussian with mean mu and, per eigenvalue lambda of P, stationary variance
noise_std^2 / (2 step lambda - step^2 lambda^2)  ( = 1 / (lambda (1 - step lambda / 2)) for ULA).

Contrastive loss with the L2 energy regulariser (negatives carry no gradient):

    L = E_data E(x+) - E_neg E(x-) + alpha (E_data E(x+)^2 + E_neg E(x-)^2).

Chains: short-run (every chain starts from ``init_sampler`` noise) or persistent (a replay buffer:
a fixed-size array in the train state; each step draws chains from it, restarts a fraction
``reinit_fraction`` from noise, runs Langevin and writes the results back). The train step is
``genjax.families.ebm_train`` (on ``genjax.train.players``; the buffer is ``TrainState.extra``).

References: Du & Mordatch 2019, "Implicit Generation and Generalization in Energy-Based Models";
Nijkamp et al. 2019, "Learning Non-Convergent Non-Persistent Short-Run MCMC Toward Energy-Based
Model" (short-run chains); Roberts & Tweedie 1996 (ULA).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
PyTree = Any


def _concrete(value) -> Optional[float]:
    """The float value of a concrete scalar, None for a traced one."""
    if isinstance(value, jax.core.Tracer):
        return None
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise ValueError(f"expected a scalar, got shape {arr.shape}")
    return float(arr)


def _check(name: str, value, *, low: float, strict: bool, high: Optional[float] = None) -> None:
    v = _concrete(value)
    if v is None:
        return
    ok = np.isfinite(v) and (v > low if strict else v >= low) and (high is None or v <= high)
    if not ok:
        bound = f"in [{low}, {high}]" if high is not None else (f"> {low}" if strict else f">= {low}")
        raise ValueError(f"{name} must be {bound}, got {v}")


def check_langevin_options(num_steps, step_size, noise_std, grad_clip=None) -> None:
    """Validate Langevin options before tracing (ValueError naming the argument)."""
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 0:
        raise ValueError(f"num_steps must be an int >= 0, got {num_steps!r}")
    _check("step_size", step_size, low=0.0, strict=False)
    _check("noise_std", noise_std, low=0.0, strict=False)
    if grad_clip is not None:
        _check("grad_clip", grad_clip, low=0.0, strict=True)


def energy_grad(energy: Callable, x: Array) -> Array:
    """Per-sample grad_x E(x)_b, [B, ...] (energy acts on samples independently)."""
    return jax.grad(lambda y: jnp.sum(energy(y)))(x)


def langevin(energy: Callable, x0: Array, num_steps: int, step_size, noise_std,
             grad_clip: Optional[float] = None, *, key, return_trajectory: bool = False):
    """Langevin dynamics x <- x - step_size * clip(grad E(x)) + noise_std * N(0, I).

    The PRNG key is keyword-only and last (house rule); per-step keys are fold_in(key, k).

    Args:
      energy: x [B, ...] -> [B].
      x0: [B, ...] initial chains.
      num_steps: number of steps (>= 0, static).
      step_size: gradient step (>= 0; a negative step raises ValueError).
      noise_std: standard deviation of the injected noise (>= 0).
      grad_clip: if given (> 0), each gradient element is clipped to [-grad_clip, grad_clip]
        (Du & Mordatch's clipping, as in their released code's elementwise clip).
      key: PRNG key.
      return_trajectory: also return the chains after every step, [num_steps + 1, B, ...].

    Returns:
      x [B, ...] after ``num_steps`` steps (and the trajectory if asked).

    References: Du & Mordatch 2019, Eq. (3); Welling & Teh 2011 (Langevin dynamics).
    """
    check_langevin_options(num_steps, step_size, noise_std, grad_clip)

    def body(x, k):
        g = energy_grad(energy, x)
        if grad_clip is not None:
            g = jnp.clip(g, -grad_clip, grad_clip)
        noise = jax.random.normal(jax.random.fold_in(key, k), x.shape, x.dtype)
        x = x - step_size * g + noise_std * noise
        return x, (x if return_trajectory else None)

    x, traj = jax.lax.scan(body, x0, jnp.arange(num_steps))
    if return_trajectory:
        return x, jnp.concatenate([x0[None], traj], axis=0)
    return x


def contrastive_loss(energy: Callable, x_pos: Array, x_neg: Array,
                     reg_weight: float = 1.0) -> tuple[Array, dict]:
    """L = E E(x+) - E E(x-) + alpha (E E(x+)^2 + E E(x-)^2); the negatives are stop-gradient.

    References: Du & Mordatch 2019, Sections 3.1 and 3.3 (L2 energy regularisation).
    """
    e_pos = energy(x_pos)
    e_neg = energy(jax.lax.stop_gradient(x_neg))
    cd = jnp.mean(e_pos) - jnp.mean(e_neg)
    reg = jnp.mean(jnp.square(e_pos)) + jnp.mean(jnp.square(e_neg))
    return cd + reg_weight * reg, {"cd": cd, "reg": reg, "e_pos": jnp.mean(e_pos),
                                   "e_neg": jnp.mean(e_neg)}


def uniform_init(shape, low: float = -1.0, high: float = 1.0) -> Callable:
    """``init_sampler(n, key) -> [n, *shape]`` uniform on [low, high] (the chains' noise)."""
    shape = tuple(int(s) for s in shape)

    def init(n, key):
        return jax.random.uniform(key, (n,) + shape, minval=low, maxval=high)

    return init


def check_reinit_fraction(reinit_fraction) -> None:
    """ValueError unless 0 <= reinit_fraction <= 1."""
    _check("reinit_fraction", reinit_fraction, low=0.0, strict=False, high=1.0)


def draw_chains(buffer: Array, batch_size: int, reinit_fraction, init_sampler: Callable,
                key) -> tuple[Array, Array]:
    """Start ``batch_size`` chains from the replay buffer, a fraction restarted from noise.

    Args:
      buffer: [S, ...] stored chains (S >= batch_size).
      batch_size: number of chains.
      reinit_fraction: probability that a chain restarts from ``init_sampler`` (in [0, 1]).
      init_sampler: ``(n, key) -> [n, ...]``.
      key: PRNG key.

    Returns:
      (x0 [batch_size, ...], idx [batch_size]) -- distinct buffer slots to write back to.
    """
    check_reinit_fraction(reinit_fraction)
    if buffer.shape[0] < batch_size:
        raise ValueError(f"replay buffer size {buffer.shape[0]} must be >= batch size {batch_size}")
    k_idx, k_noise, k_mask = jax.random.split(key, 3)
    idx = jax.random.permutation(k_idx, buffer.shape[0])[:batch_size]
    fresh = init_sampler(batch_size, k_noise).astype(buffer.dtype)
    restart = jax.random.uniform(k_mask, (batch_size,)) < reinit_fraction
    restart = restart.reshape((batch_size,) + (1,) * (buffer.ndim - 1))
    return jnp.where(restart, fresh, buffer[idx]), idx


def sample(energy: Callable, params, init_sampler: Callable, n: int, *, num_steps: int,
           step_size: float, noise_std: float, grad_clip: Optional[float] = None, key) -> Array:
    """n samples: Langevin chains from ``init_sampler`` noise under E(params, .), [n, ...]."""
    k_init, k_lang = jax.random.split(key)
    return langevin(lambda x: energy(params, x), init_sampler(n, k_init), num_steps, step_size,
                    noise_std, grad_clip, key=k_lang)
