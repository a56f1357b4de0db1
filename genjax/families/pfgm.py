"""Poisson flow generative models: data as charges on z = 0, samples along electric field lines.

Augment x in R^d with z: x_aug = (x, z) in R^(d+1); the data y_i sit on the plane z = 0. The
Poisson field of the empirical distribution is, up to the constant of the Green's function,

    E(x_aug) = 1/n sum_i (x_aug - y_aug_i) / ||x_aug - y_aug_i||^(d+1).

Field lines from the data reach, for large radius, a uniform distribution on the hemisphere;
backward along them they end on the data. On the plane z = z_max the distribution is
p(x) ~ 1 / (||x||^2 + z_max^2)^((d+1)/2), sampled as ||x|| = z_max sqrt(b / (1 - b)),
b ~ Beta(d/2, 1/2), with a uniform direction.

Sampling integrates the backward ODE dx/dz = E_x / E_z from z_max to z_min ~ 0; with the
paper's change of variable t = log z it reads

    dx/dt = z E_x(x, z) / E_z(x, z),   t from log z_max down to log z_min,

which depends only on the direction of E (so a network predicting the normalised field, of
either sign, drives it as well). ``empirical_field`` returns E times the positive scalar
c(x_aug) = 1 / sum_i ||x_aug - y_aug_i||^-(d+1) (the paper's normalisation): the weights
w_i = softmax_i(-(d+1) log ||x_aug - y_aug_i||) keep it finite in float32 for any d, and then
E_z = z exactly, so dx/dt = sum_i w_i (x - y_i).

Training: a mini-batch is perturbed (``perturb``): m ~ U[0, M], the x-perturbation has norm
||eps_x|| (1 + tau)^m (eps_x ~ N(0, sigma^2 I_d)) in a uniform direction and
z = |eps_z| (1 + tau)^m (eps_z ~ N(0, sigma^2)); the target is the normalised empirical field of
the batch pointing to the data, -sqrt(d) E / (||E|| + gamma), regressed by least squares.

References: Xu et al. 2022, "Poisson Flow Generative Models" (NeurIPS 2022): Sections 3.1-3.3,
Algorithm 1 (perturbation), Appendix A.4 (prior), B.1 (normalised field, gamma, tau, M).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from genjax import integrators

Array = jax.Array


def _flat(x: Array) -> Array:
    return x.reshape(x.shape[0], -1)


def augment(x: Array, z=0.0) -> Array:
    """x [B, ...] -> x_aug [B, d + 1] = (flatten(x), z); z is a scalar or [B]."""
    x = _flat(x)
    z = jnp.broadcast_to(jnp.asarray(z, x.dtype), (x.shape[0],))
    return jnp.concatenate([x, z[:, None]], axis=-1)


def empirical_field(data: Array) -> Callable:
    """The Poisson field of ``data`` [N, ...] (charges on z = 0): ``field(x_aug [B, d+1]) -> [B, d+1]``.

    Returns c(x_aug) E(x_aug) = sum_i w_i (x_aug - y_aug_i), w = softmax_i(-(d+1) log r_i),
    r_i = ||x_aug - y_aug_i||: the Poisson field E times the positive scalar
    c = 1 / sum_i r_i^-(d+1) (module docstring). Direction and field lines are exactly E's.

    References: Xu et al. 2022, "Poisson Flow Generative Models", Eq. (5) and Section 3.3.
    """
    y_aug = augment(jnp.asarray(data))
    d = y_aug.shape[-1] - 1

    def field(x_aug: Array) -> Array:
        if x_aug.ndim != 2 or x_aug.shape[-1] != d + 1:
            raise ValueError(f"x_aug must have shape [B, {d + 1}], got {x_aug.shape}")
        diff = x_aug[:, None, :] - y_aug[None, :, :]               # [B, N, d+1]
        log_r2 = jnp.log(jnp.sum(jnp.square(diff), axis=-1) + 1e-30)
        w = jax.nn.softmax(-0.5 * (d + 1) * log_r2, axis=-1)       # [B, N]
        return jnp.einsum("bn,bnk->bk", w, diff)

    return field


def prior_sample(n: int, dim: int, z_max: float, key, *, max_radius: Optional[float] = None) -> Array:
    """n points of the plane z = z_max under p(x) ~ (||x||^2 + z_max^2)^-((dim+1)/2): [n, dim].

    ||x|| = z_max sqrt(b / (1 - b)), b ~ Beta(dim/2, 1/2), direction uniform on the sphere. The
    radius has a heavy tail (for dim = 2, P(||x|| > 10 z_max) ~ 0.1); ``max_radius`` clips it as
    the paper's sampler does (its ``upper_norm``), keeping a network inside its training range.

    References: Xu et al. 2022, Appendix A.4.
    """
    k_b, k_u = jax.random.split(key)
    b = jax.random.beta(k_b, dim / 2.0, 0.5, (n,))
    b = jnp.clip(b, 0.0, 1.0 - 1e-7)
    radius = z_max * jnp.sqrt(b / (1.0 - b))
    if max_radius is not None:
        radius = jnp.minimum(radius, max_radius)
    u = jax.random.normal(k_u, (n, dim))
    u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
    return radius[:, None] * u


def ode(field: Callable) -> Callable:
    """The backward ODE in t = log z: ``f(t, x [B, d]) -> z F_x / F_z`` for any field F ~ +-E.

    |F_z| is floored at 1e-12 (sign kept) so a network's z-component never divides by zero.
    """
    def f(t, x):
        z = jnp.exp(t)
        v = field(augment(x, z))
        vz = v[:, -1:]
        vz = jnp.where(vz < 0, jnp.minimum(vz, -1e-12), jnp.maximum(vz, 1e-12))
        return z * v[:, :-1] / vz

    return f


def check_sampling_options(n, dim, z_max, z_min, num_steps) -> None:
    """ValueError (before tracing) unless n, dim, num_steps >= 1 and 0 < z_min < z_max."""
    for name, val in (("n", n), ("dim", dim), ("num_steps", num_steps)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be an int >= 1, got {val!r}")
    if not (0 < z_min < z_max):
        raise ValueError(f"need 0 < z_min < z_max, got z_min={z_min}, z_max={z_max}")


def solve(field: Callable, x_init: Array, *, z_max: float = 40.0, z_min: float = 1e-3,
          num_steps: int = 100, solver: Optional[integrators.Solver] = None,
          save_trajectory: bool = False):
    """Integrate the backward ODE from (x_init, z_max) to z_min on a uniform grid in log z.

    Args:
      field: F(x_aug [B, d+1]) -> [B, d+1], proportional to the Poisson field (either sign).
      x_init: [B, d] points on the plane z = z_max.
      z_max, z_min: start and end of z (0 < z_min < z_max).
      num_steps: steps of the fixed grid t = log z.
      solver: a ``genjax.integrators`` ODE solver (default RK4).
      save_trajectory: keep the states at every grid time.

    Returns:
      ``(x [B, d], IntegrateInfo)``; ``info.trajectory`` is [num_steps + 1, B, d] if asked, and
      the grid is ``jnp.linspace(log z_max, log z_min, num_steps + 1)``.
    """
    check_sampling_options(x_init.shape[0], x_init.shape[-1], z_max, z_min, num_steps)
    ts = jnp.linspace(np.log(z_max), np.log(z_min), num_steps + 1)
    solver = integrators.rk4() if solver is None else solver
    return integrators.integrate(ode(field), solver, ts, x_init, save_trajectory=save_trajectory)


def sample(field: Callable, n: int, dim: int, *, z_max: float = 40.0, z_min: float = 1e-3,
           num_steps: int = 100, solver: Optional[integrators.Solver] = None,
           max_radius: Optional[float] = None, key) -> Array:
    """n samples [n, dim]: prior points at z = z_max carried by the backward ODE to z_min.

    The PRNG key is keyword-only and last (house rule).

    References: Xu et al. 2022, "Poisson Flow Generative Models", Algorithm 2 / Section 3.3.
    """
    check_sampling_options(n, dim, z_max, z_min, num_steps)
    x0 = prior_sample(n, dim, z_max, key, max_radius=max_radius)
    x, _ = solve(field, x0, z_max=z_max, z_min=z_min, num_steps=num_steps, solver=solver)
    return x


def perturb(y: Array, key, *, sigma: float = 0.01, tau: float = 0.03, M: float = 291.0) -> Array:
    """Perturbed augmented points [B, d + 1] around the data y [B, ...] (Algorithm 1 of the paper).

    m ~ U[0, M]; x = y + ||eps_x|| (1 + tau)^m u, u uniform on the sphere, eps_x ~ N(0, sigma^2 I_d);
    z = |eps_z| (1 + tau)^m, eps_z ~ N(0, sigma^2).
    """
    y = _flat(y)
    b, d = y.shape
    k_m, k_x, k_u, k_z = jax.random.split(key, 4)
    mult = (1.0 + tau) ** (jax.random.uniform(k_m, (b,)) * M)
    norm_x = jnp.linalg.norm(sigma * jax.random.normal(k_x, (b, d)), axis=-1) * mult
    u = jax.random.normal(k_u, (b, d))
    u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
    z = jnp.abs(sigma * jax.random.normal(k_z, (b,))) * mult
    return jnp.concatenate([y + norm_x[:, None] * u, z[:, None]], axis=-1).astype(y.dtype)


def target(x_aug: Array, data: Array, gamma: float = 5.0) -> Array:
    """The training target -sqrt(d) E / (||E|| + gamma) at x_aug [B, d+1] for the charges data [N, ...].

    E is the normalised empirical field (``empirical_field``), pointing away from the data; the
    target points towards it. gamma > 0 keeps the target small (and continuous) near the data.
    """
    e = empirical_field(data)(x_aug)
    d = x_aug.shape[-1] - 1
    return -np.sqrt(d) * e / (jnp.linalg.norm(e, axis=-1, keepdims=True) + gamma)


def make_loss(net_apply: Callable, *, sigma: float = 0.01, tau: float = 0.03, M: float = 291.0,
              gamma: float = 5.0, small_batch: Optional[int] = None) -> Callable:
    """``loss_fn(params, batch, key) -> (loss, aux)``: E_b ||net(x_aug_b) - target_b||^2.

    The first ``small_batch`` points of ``batch["x"]`` (all if None) are perturbed; the target
    field is computed over the whole batch (the paper's large-batch estimate of the field).

    Args:
      net_apply: ``net_apply(params, x_aug [B, d+1]) -> [B, d+1]``.
      sigma, tau, M: the perturbation (``perturb``).
      gamma: the target's normalisation (``target``).
      small_batch: how many points to perturb.
    """
    for name, val in (("sigma", sigma), ("tau", tau), ("M", M), ("gamma", gamma)):
        if not val >= 0:
            raise ValueError(f"{name} must be >= 0, got {val}")

    def loss_fn(params, batch, key):
        data = _flat(batch["x"])
        y = data if small_batch is None else data[:small_batch]
        x_aug = perturb(y, key, sigma=sigma, tau=tau, M=M)
        tgt = jax.lax.stop_gradient(target(x_aug, data, gamma))
        err = jnp.sum(jnp.square(net_apply(params, x_aug) - tgt), axis=-1)
        return jnp.mean(err), {"mse": jnp.mean(err)}

    return loss_fn
