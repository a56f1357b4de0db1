"""Gaussian mixtures with exact noised densities, scores and denoisers for every schedule.

A ``GaussianMixture`` ``sum_k w_k N(m_k, diag(s_k^2))`` pushed through any Gaussian path
``x_t = alpha(t) x_0 + sigma(t) eps`` stays a mixture, so its noised log-density, class
posterior, score and denoiser ``D(x, t) = E[x_0 | x_t = x]`` are exact for every schedule
(formulas and their float32 accuracy in ``mixture_exact.py``). The constructors below build the
laws of the toy data sets (``eight_gaussians_mixture``, ``grid_mixture``) and random mixtures.

These are the oracles the sampler, loss and likelihood tests check against.

References: Efron 2011, "Tweedie's Formula and Selection Bias"; Song et al. 2021,
"Score-Based Generative Modeling through Stochastic Differential Equations"; Karras et al. 2022,
"Elucidating the Design Space of Diffusion-Based Generative Models" (appendix on mixtures).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from genjax.data import mixture_exact
from genjax.schedules import Schedule

Array = jax.Array


def _is_traced(*xs) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in xs)


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True, eq=False)
class GaussianMixture:
    """``sum_k w_k N(m_k, diag(s_k^2))`` in d dimensions with exact noised quantities.

    Attributes:
      means: [K, d] component means.
      stds: [K, d] per-dimension component standard deviations (an isotropic [K] input is
        broadcast to [K, d] at construction).
      weights: [K] mixing weights, non-negative, summing to one.

    A pytree (leaves: means, stds, weights), so a mixture can be an argument of ``jit``/``vmap``.
    Validation runs at construction on concrete inputs and raises ``ValueError`` naming the field.
    """

    means: Array
    stds: Array
    weights: Array

    def __post_init__(self):
        means, stds, weights = self.means, self.stds, self.weights
        dtype = jnp.result_type(float)
        if np.ndim(means) != 2:
            raise ValueError(f"GaussianMixture: means must have shape [K, d], got shape {np.shape(means)}")
        k, d = np.shape(means)
        if k < 1 or d < 1:
            raise ValueError(f"GaussianMixture: means must have K >= 1 and d >= 1, got shape {(k, d)}")
        if np.shape(weights) != (k,):
            raise ValueError(f"GaussianMixture: weights must have shape [K] = [{k}], got {np.shape(weights)}")
        if np.shape(stds) not in ((k,), (k, d)):
            raise ValueError(f"GaussianMixture: stds must have shape [K] = [{k}] (isotropic) or "
                             f"[K, d] = [{k}, {d}] (diagonal), got {np.shape(stds)}")
        if not _is_traced(means, stds, weights):
            m, s, w = (np.asarray(a, np.float64) for a in (means, stds, weights))
            if not np.all(np.isfinite(m)):
                raise ValueError("GaussianMixture: means must be finite")
            if not (np.all(np.isfinite(s)) and np.all(s > 0)):
                raise ValueError(f"GaussianMixture: stds must be finite and > 0, got min {s.min()}")
            if not np.all(w >= 0) or not np.all(np.isfinite(w)):
                raise ValueError(f"GaussianMixture: weights must be finite and >= 0, got {w}")
            if abs(w.sum() - 1.0) > 1e-5:
                raise ValueError(f"GaussianMixture: weights must sum to one (tol 1e-5), got sum {w.sum()}")
        stds = jnp.asarray(stds, dtype)
        if stds.ndim == 1:
            stds = jnp.broadcast_to(stds[:, None], (k, d))
        object.__setattr__(self, "means", jnp.asarray(means, dtype))
        object.__setattr__(self, "stds", stds)
        object.__setattr__(self, "weights", jnp.asarray(weights, dtype))

    # --- pytree ---------------------------------------------------------------------------------
    def tree_flatten(self):
        return (self.means, self.stds, self.weights), None

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        obj = object.__new__(cls)  # no validation: leaves may be tracers or placeholders
        for name, leaf in zip(("means", "stds", "weights"), leaves):
            object.__setattr__(obj, name, leaf)
        return obj

    # --- basic properties ------------------------------------------------------------------------
    @property
    def num_components(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def mean(self) -> Array:
        """E[x_0]: [d]."""
        return self.weights @ self.means

    def cov(self) -> Array:
        """Cov[x_0] = sum_k w_k (diag(s_k^2) + m_k m_k^T) - mu mu^T: [d, d]."""
        mu = self.mean()
        second = jnp.einsum("k,ki,kj->ij", self.weights, self.means, self.means)
        return second + jnp.diag(self.weights @ jnp.square(self.stds)) - jnp.outer(mu, mu)

    def component(self, k: int) -> "GaussianMixture":
        """The k-th component as a one-component mixture (weight 1)."""
        if not isinstance(k, (int, np.integer)) or not 0 <= k < self.num_components:
            raise ValueError(f"component: k must be an int in [0, {self.num_components}), got {k!r}")
        return GaussianMixture(self.means[k:k + 1], self.stds[k:k + 1], jnp.ones((1,), self.weights.dtype))

    # --- sampling -------------------------------------------------------------------------------
    def sample_with_labels(self, n: int, key) -> tuple[Array, Array]:
        """x_0 ~ p_0 with its component labels: ([n, d], [n] int32)."""
        _check_n(n)
        return mixture_exact.sample(self, int(n), key)

    def sample(self, n: int, key) -> Array:
        """x_0 ~ p_0: [n, d]."""
        return self.sample_with_labels(n, key)[0]

    def log_prob(self, x: Array) -> Array:
        """log p_0(x) = logsumexp_k [log w_k + log N(x; m_k, diag(s_k^2))]: [B, d] -> [B]."""
        return mixture_exact.log_prob(self, _check_x(x, self.dim))

    # --- exact noised quantities for a schedule --------------------------------------------------
    def _bind(self, s: Schedule, what: str):
        _check_schedule(s)

        def fn(x, t):
            return mixture_exact.noised(self, s, what, _check_x(x, self.dim), t)

        fn.__doc__ = f"{what} of the mixture under the {s.name} schedule: fn(x [B, d], t [] or [B])."
        return fn

    def noised_log_prob(self, s: Schedule) -> Callable[[Array, Array], Array]:
        """fn(x [B, d], t [] or [B]) -> log p_t(x) [B] (the marginal of x_t)."""
        return self._bind(s, "log_prob")

    def class_log_prob(self, s: Schedule) -> Callable[[Array, Array], Array]:
        """fn(x [B, d], t) -> log p(c = k | x_t = x) [B, K] (log responsibilities)."""
        return self._bind(s, "class_log_prob")

    def score(self, s: Schedule) -> Callable[[Array, Array], Array]:
        """fn(x [B, d], t) -> grad_x log p_t(x) = sum_k r_k (alpha m_k - x) / v_k: [B, d]."""
        return self._bind(s, "score")

    def denoiser(self, s: Schedule) -> Callable[[Array, Array], Array]:
        """fn(x [B, d], t) -> E[x_0 | x_t = x] = sum_k r_k (sigma^2 m_k + alpha s_k^2 x) / v_k."""
        return self._bind(s, "denoiser")


def _check_n(n) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")


def _check_x(x, dim: int) -> Array:
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"x must have shape [B, d] = [B, {dim}], got {tuple(x.shape)}")
    return x


def _check_schedule(s) -> None:
    if not isinstance(s, Schedule):
        raise TypeError(f"expected a genjax.schedules.Schedule, got {type(s).__name__}")


# --- constructors --------------------------------------------------------------------------------
def gaussian(mean, std) -> GaussianMixture:
    """A single Gaussian N(mean, diag(std^2)); ``mean`` [d], ``std`` scalar or [d]."""
    mean = np.atleast_1d(np.asarray(mean, np.float32))
    if mean.ndim != 1:
        raise ValueError(f"gaussian: mean must be a scalar or [d], got shape {mean.shape}")
    std = np.asarray(std, np.float32)
    if std.shape not in ((), mean.shape):
        raise ValueError(f"gaussian: std must be a scalar or have the shape of mean {mean.shape}, got {std.shape}")
    std = np.broadcast_to(std, mean.shape)
    return GaussianMixture(mean[None], std[None], np.ones((1,), np.float32))


def two_gaussians_1d(separation: float = 4.0, std: float = 0.5, weight: float = 0.5) -> GaussianMixture:
    """w N(-separation/2, std^2) + (1 - w) N(separation/2, std^2) on the line (d = 1)."""
    half = 0.5 * separation
    return GaussianMixture(np.array([[-half], [half]], np.float32), np.array([std, std], np.float32),
                           np.array([weight, 1.0 - weight], np.float32))


def eight_gaussians_mixture(radius: float = 4.0 / 1.414, std: float = 0.5 / 1.414) -> GaussianMixture:
    """Eight equal-weight isotropic Gaussians on a circle: the law of ``toy2d.sample("8gaussians")``.

    Defaults follow FFJORD's toy set (centres at radius 4, std 0.5, all divided by 1.414), so the
    exact score of the toy data set is available.
    """
    ang = np.arange(8) * (2 * np.pi / 8)
    means = radius * np.stack([np.cos(ang), np.sin(ang)], -1)
    return GaussianMixture(means.astype(np.float32), np.full((8,), std, np.float32), np.full((8,), 1 / 8, np.float32))


def grid_mixture(n_side: int = 5, spacing: float = 2.0 / 2.828, std: float = 0.05 / 2.828) -> GaussianMixture:
    """``n_side^2`` equal-weight Gaussians on a centred square grid: the law of ``"25gaussians"``.

    Defaults follow FFJORD's 25 Gaussians (centres 2 (i, j), i, j in -2..2, std 0.05, all
    divided by 2.828).
    """
    if not isinstance(n_side, int) or n_side < 1:
        raise ValueError(f"grid_mixture: n_side must be a positive int, got {n_side!r}")
    c = (np.arange(n_side) - (n_side - 1) / 2) * spacing
    means = np.stack(np.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)
    k = n_side * n_side
    return GaussianMixture(means.astype(np.float32), np.full((k,), std, np.float32), np.full((k,), 1 / k, np.float32))


def random_mixture(num_components: int, dim: int, key, scale: float = 2.0, std_range=(0.2, 0.8)) -> GaussianMixture:
    """A random diagonal mixture: means ~ N(0, scale^2), stds ~ U[std_range], weights = softmax(N(0, I)).

    Drawn with numpy from the key's bits (a constructor, not traced; nothing to compile).
    """
    if num_components < 1 or dim < 1:
        raise ValueError(f"random_mixture: need num_components >= 1 and dim >= 1, got {num_components}, {dim}")
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel())
    means = scale * rng.normal(size=(num_components, dim))
    stds = rng.uniform(std_range[0], std_range[1], size=(num_components, dim))
    logits = rng.normal(size=num_components)
    w = np.exp(logits - logits.max())
    return GaussianMixture(means.astype(np.float32), stds.astype(np.float32), (w / w.sum()).astype(np.float32))
