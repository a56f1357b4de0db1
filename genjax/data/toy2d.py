"""2-D toy data sets as pure, jit-able samplers: ``sample(name, n, key) -> [n, 2]`` float32.

Each set reproduces the law of the FFJORD / WGAN-GP toy generators (same shapes, noise levels
and final scaling; samples are i.i.d. from that law, so class counts are random rather than
equal). All sets live roughly in the box [-4, 4]^2 with per-coordinate std between ~1 and ~2.3:

- ``"8gaussians"``: 8 equal-weight N(c_k, 0.5^2 I) with c_k at radius 4 on the unit-circle
  angles 2 pi k / 8, all divided by 1.414 (centres at radius 2.83, std 0.354). Exact law:
  ``mixture.eight_gaussians_mixture()``.
- ``"25gaussians"``: N(2 (i, j), 0.05^2 I), i, j in {-2..2}, all divided by 2.828 (centres on a
  grid of spacing 0.707, std 0.0177). Exact law: ``mixture.grid_mixture()``.
- ``"moons"``: sklearn's two moons (upper arc (cos u, sin u), lower arc (1 - cos u, 0.5 - sin u),
  u ~ U[0, pi], noise N(0, 0.1^2)), then 2 x + (-1, -0.2).
- ``"swissroll"``: u ~ 1.5 pi (1 + 2 U[0, 1]), (u cos u, u sin u) + N(0, I) noise, divided by 5.
- ``"checkerboard"``: uniform on the 8 unit squares [a, a+1) x [b, b+1) of [-2, 2)^2 with
  a + b even, then multiplied by 2 (so floor(x/2) + floor(y/2) is even).
- ``"pinwheel"``: 5 arms; radial / tangential noise N(1, 0.3^2), N(0, 0.1^2) rotated by
  2 pi k / 5 + 0.25 exp(radial), times 2.
- ``"2spirals"``: u = sqrt(U) * 540 deg (in radians); arm (-u cos u, u sin u) + U[0, 0.5)^2 or its
  negative, divided by 3, plus N(0, 0.1^2 I).
- ``"circles"``: radius 1 or 0.5 with equal probability, uniform angle, N(0, 0.08^2 I) noise,
  times 3.

References: Grathwohl et al. 2019, "FFJORD: Free-form Continuous Dynamics for Scalable
Reversible Generative Models" (toy_data); Gulrajani et al. 2017, "Improved Training of
Wasserstein GANs" (8 / 25 Gaussians).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from genjax.data.mixture import eight_gaussians_mixture, grid_mixture

Array = jax.Array


def _eight_gaussians(n, key):
    return eight_gaussians_mixture().sample(n, key)


def _twenty_five_gaussians(n, key):
    return grid_mixture().sample(n, key)


def _moons(n, key):
    k_arm, k_u, k_noise = jax.random.split(key, 3)
    upper = jax.random.bernoulli(k_arm, 0.5, (n,))
    u = jax.random.uniform(k_u, (n,), maxval=math.pi)
    x = jnp.where(upper, jnp.cos(u), 1.0 - jnp.cos(u))
    y = jnp.where(upper, jnp.sin(u), 0.5 - jnp.sin(u))
    pts = jnp.stack([x, y], -1) + 0.1 * jax.random.normal(k_noise, (n, 2))
    return 2.0 * pts + jnp.array([-1.0, -0.2])


def _swissroll(n, key):
    k_u, k_noise = jax.random.split(key)
    u = 1.5 * math.pi * (1.0 + 2.0 * jax.random.uniform(k_u, (n,)))
    pts = jnp.stack([u * jnp.cos(u), u * jnp.sin(u)], -1) + jax.random.normal(k_noise, (n, 2))
    return pts / 5.0


def _checkerboard(n, key):
    k1, k2, k3 = jax.random.split(key, 3)
    x1 = 4.0 * jax.random.uniform(k1, (n,)) - 2.0
    x2 = jax.random.uniform(k2, (n,)) - 2.0 * jax.random.bernoulli(k3, 0.5, (n,))
    x2 = x2 + jnp.mod(jnp.floor(x1), 2.0)
    return 2.0 * jnp.stack([x1, x2], -1)


def _pinwheel(n, key, num_arms=5, radial_std=0.3, tangential_std=0.1, rate=0.25):
    k_arm, k_feat = jax.random.split(key)
    arm = jax.random.randint(k_arm, (n,), 0, num_arms)
    feat = jax.random.normal(k_feat, (n, 2)) * jnp.array([radial_std, tangential_std])
    feat = feat + jnp.array([1.0, 0.0])
    ang = 2.0 * math.pi * arm / num_arms + rate * jnp.exp(feat[:, 0])
    c, s = jnp.cos(ang), jnp.sin(ang)
    # row vector times rotation [[c, -s], [s, c]]
    return 2.0 * jnp.stack([feat[:, 0] * c + feat[:, 1] * s, -feat[:, 0] * s + feat[:, 1] * c], -1)


def _two_spirals(n, key):
    k_u, k_jit, k_side, k_noise = jax.random.split(key, 4)
    u = jnp.sqrt(jax.random.uniform(k_u, (n,))) * (540.0 * 2.0 * math.pi / 360.0)
    arm = jnp.stack([-jnp.cos(u) * u, jnp.sin(u) * u], -1) + 0.5 * jax.random.uniform(k_jit, (n, 2))
    sign = jnp.where(jax.random.bernoulli(k_side, 0.5, (n,)), 1.0, -1.0)[:, None]
    return sign * arm / 3.0 + 0.1 * jax.random.normal(k_noise, (n, 2))


def _circles(n, key):
    k_r, k_a, k_noise = jax.random.split(key, 3)
    r = jnp.where(jax.random.bernoulli(k_r, 0.5, (n,)), 1.0, 0.5)
    a = jax.random.uniform(k_a, (n,), maxval=2.0 * math.pi)
    pts = r[:, None] * jnp.stack([jnp.cos(a), jnp.sin(a)], -1) + 0.08 * jax.random.normal(k_noise, (n, 2))
    return 3.0 * pts


SAMPLERS = {
    "8gaussians": _eight_gaussians,
    "25gaussians": _twenty_five_gaussians,
    "moons": _moons,
    "swissroll": _swissroll,
    "checkerboard": _checkerboard,
    "pinwheel": _pinwheel,
    "2spirals": _two_spirals,
    "circles": _circles,
}
NAMES = tuple(SAMPLERS)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _sample(name: str, n: int, key) -> Array:
    return SAMPLERS[name](n, key).astype(jnp.float32)


def sample(name: str, n: int, key) -> Array:
    """n i.i.d. points of the named toy set: [n, 2] float32 (jit-compiled per (name, n)).

    Args:
      name: one of ``NAMES``.
      n: number of points (a Python int; static under jit).
      key: PRNG key (same key -> same points).
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown toy data set {name!r}; choose one of {list(NAMES)}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return _sample(name, int(n), key)
