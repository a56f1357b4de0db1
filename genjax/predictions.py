"""What a network predicts, as a strategy: the field each sampler needs with at most one conversion.

A network may predict any of six quantities about ``x_t = alpha(t) x_0 + sigma(t) eps``; the
canonical one is the denoiser ``D(x, t) ~ E[x_0 | x_t]`` (DESIGN.md section 1). With the schedule
coefficients of a ``Node`` (``genjax/nodes.py``, re-exported here with ``coefficients``, ``finite``,
``broadcast_time`` and ``pf_velocity``: ``a = alpha``, ``s = sigma``, ``n = sqrt(a^2 + s^2)``,
``p = s'/s``, ``q = a' - p a = a dlambda/dt``):

    kind        output from the denoiser D                       denoiser from the output
    "x0"        D                                                D
    "eps"       (x - a D) / s                                    (x - s eps) / a
    "score"     (a D - x) / s^2                                  (x + s^2 score) / a
    "v"         (a eps - s D) / n                                a x / n^2 - s v / n
    "velocity"  p x + q D          (the probability-flow field)  (u - p x) / q
    "edm"       F with D = c_skip x + c_out F(c_in x, c_noise)   (``edm_coefficients``)

"velocity" is the marginal velocity E[dx_t/dt | x_t] = f x - g^2/2 score, the one formula of the
probability-flow ODE used by every sampler, the likelihood and the SDE module (``pf_velocity``).
q uses a' from ``s.alpha`` itself, so it is finite where alpha = 0 (rectified flow at t = 1).

``parameterization(predicts)`` is made once per kind (memoised); a ``Model(net, param, s)`` pairs
a raw network ``net(x, t_in) -> out`` with it and is itself callable as ``D(x, t)``. Samplers
tabulate ``coefficients`` over the grid once and call ``denoise(model, node, x)`` (exponential
integrators) or ``velocity(model, node, x)`` (Euler / Heun / RK4): a velocity network is called
and returned as is, with no round trip through D. A plain callable is taken as a denoiser.

References: Salimans & Ho 2022, "Progressive Distillation for Fast Sampling of Diffusion Models"
(v-prediction); Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1, preconditioning); Lipman et al. 2023, "Flow Matching for Generative Modeling".
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from genjax._memo import memoized
from genjax.nodes import Node, broadcast_time, coefficients, finite, per_sample, pf_velocity
from genjax.preconditioning import edm_coefficients, edm_coefficients_at, edm_loss_weight, edm_precond, edm_weight
from genjax.schedules import Schedule

Array = jax.Array

KINDS = ("eps", "x0", "v", "score", "velocity")
PREDICTS = KINDS + ("edm",)

__all__ = ["KINDS", "PREDICTS", "Model", "Node", "Parameterization", "broadcast_time", "check_predicts",
           "coefficients", "convert", "denoise", "finite", "denoiser_from_prediction", "edm_coefficients",
           "edm_loss_weight", "edm_precond", "edm_weight", "from_denoiser", "parameterization", "pf_velocity",
           "to_denoiser", "velocity"]


def check_predicts(predicts, allowed=PREDICTS, name: str = "predicts") -> None:
    """ValueError naming ``name`` unless ``predicts`` is one of ``allowed``."""
    if predicts not in allowed:
        raise ValueError(f"{name}: unknown prediction kind {predicts!r}; choose one of {allowed}")


def _from_velocity(u, x, n):
    p = per_sample(n.dlog_sigma, x)
    return (u - p * x) / (per_sample(n.dalpha, x) - p * per_sample(n.alpha, x))


_TO_D = {
    "x0": lambda o, x, n: o,
    "eps": lambda o, x, n: (x - per_sample(n.sigma, x) * o) / per_sample(n.alpha, x),
    "score": lambda o, x, n: (x + jnp.square(per_sample(n.sigma, x)) * o) / per_sample(n.alpha, x),
    "v": lambda o, x, n: (lambda a, sg: a * x / (a * a + sg * sg) - sg * o * jax.lax.rsqrt(a * a + sg * sg))(
        per_sample(n.alpha, x), per_sample(n.sigma, x)),
    "velocity": _from_velocity,
}


def _eps_of(d, x, n):
    return (x - per_sample(n.alpha, x) * d) / per_sample(n.sigma, x)


_FROM_D = {
    "x0": lambda d, x, n: d,
    "eps": _eps_of,
    "score": lambda d, x, n: (per_sample(n.alpha, x) * d - x) / jnp.square(per_sample(n.sigma, x)),
    "v": lambda d, x, n: (lambda a, sg: (a * _eps_of(d, x, n) - sg * d) * jax.lax.rsqrt(a * a + sg * sg))(
        per_sample(n.alpha, x), per_sample(n.sigma, x)),
    "velocity": lambda d, x, n: pf_velocity(n, x, d),
}


class Parameterization(NamedTuple):
    """What a network outputs, as three pure functions of (network output, x, node).

    Attributes:
      kind: one of ``PREDICTS``.
      inputs: ``inputs(x, node) -> (x_in, t_in)``, the network's arguments ((x, t), or EDM's
        (c_in x, c_noise)).
      to_denoiser: ``to_denoiser(out, x, node) -> D``.
      to_velocity: ``to_velocity(out, x, node) -> p x + q D`` (the output itself for "velocity").
    """

    kind: str
    inputs: Callable
    to_denoiser: Callable
    to_velocity: Callable


@memoized
def parameterization(predicts: str, sigma_data: float = 0.5) -> Parameterization:
    """The strategy of a network that predicts ``predicts`` (one of ``PREDICTS``); memoised.

    Args:
      predicts: "eps", "x0", "v", "score", "velocity" or "edm".
      sigma_data: the data std of EDM preconditioning (used by "edm" only).

    References: Salimans & Ho 2022; Karras et al. 2022 (Table 1); Lipman et al. 2023.
    """
    check_predicts(predicts)
    if predicts == "edm":
        if not float(sigma_data) > 0:
            raise ValueError(f"sigma_data must be > 0, got {sigma_data}")

        def edm_inputs(x, n):
            _, _, c_in, c_noise = edm_coefficients_at(n.alpha, n.sigma, n.log_snr, sigma_data)
            return per_sample(c_in, x) * x, c_noise

        def edm_d(o, x, n):
            c_skip, c_out, _, _ = edm_coefficients_at(n.alpha, n.sigma, n.log_snr, sigma_data)
            return per_sample(c_skip, x) * x + per_sample(c_out, x) * o

        return Parameterization("edm", edm_inputs, edm_d, lambda o, x, n: pf_velocity(n, x, edm_d(o, x, n)))
    to_d = _TO_D[predicts]
    to_v = (lambda o, x, n: o) if predicts == "velocity" else (lambda o, x, n: pf_velocity(n, x, to_d(o, x, n)))
    return Parameterization(predicts, lambda x, n: (x, n.t), to_d, to_v)


@jax.tree_util.register_pytree_node_class
class Model:
    """A raw network ``net(x, t_in) -> out`` with its ``Parameterization`` and schedule.

    Callable as the denoiser ``D(x, t)`` (x [B, ...], t [] or [B]); a pytree whose leaves are the
    leaves of ``net`` (e.g. the params of a ``jax.tree_util.Partial``), so samplers trace them.
    """

    def __init__(self, net: Callable, param: Parameterization, s: Schedule):
        self.net, self.param, self.schedule = net, param, s

    def __call__(self, x, t):
        return denoise(self, coefficients(self.schedule, t), x)

    def tree_flatten(self):
        return (self.net,), (self.param, self.schedule)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], *aux)


def _raw(model: Model, node: Node, x):
    return model.net(*model.param.inputs(x, node))


def denoise(model: Callable, node: Node, x: Array) -> Array:
    """D(x, node.t): one network call and at most one conversion (a plain callable is D itself)."""
    if isinstance(model, Model):
        return model.param.to_denoiser(_raw(model, node, x), x, node)
    return model(x, node.t)


def velocity(model: Callable, node: Node, x: Array) -> Array:
    """The probability-flow velocity at node.t: a velocity network's output as is, else p x + q D."""
    if isinstance(model, Model):
        return model.param.to_velocity(_raw(model, node, x), x, node)
    return pf_velocity(node, x, model(x, node.t))


def to_denoiser(kind: str, s: Schedule, out: Array, x: Array, t: Array) -> Array:
    """The denoiser D = E[x_0 | x_t] from a network output of the given kind (one of ``KINDS``).

    Args:
      kind: "eps", "x0", "v", "score" or "velocity".
      s: the schedule.
      out: the prediction, [B, ...] (same shape as x).
      x: the noisy state x_t, [B, ...].
      t: time, [] or [B].

    References: Salimans & Ho 2022; Karras et al. 2022; Lipman et al. 2023.
    """
    check_predicts(kind, KINDS, "kind")
    return _TO_D[kind](out, x, coefficients(s, t))


def from_denoiser(kind: str, s: Schedule, d: Array, x: Array, t: Array) -> Array:
    """The prediction of the given kind implied by the denoiser output ``d`` at (x, t).

    References: Salimans & Ho 2022; Karras et al. 2022; Lipman et al. 2023.
    """
    check_predicts(kind, KINDS, "kind")
    return _FROM_D[kind](d, x, coefficients(s, t))


def convert(from_kind: str, to_kind: str, s: Schedule, out: Array, x: Array, t: Array) -> Array:
    """Any-to-any conversion through the denoiser: ``from_denoiser(to, to_denoiser(from, out))``."""
    check_predicts(from_kind, KINDS, "from_kind")
    check_predicts(to_kind, KINDS, "to_kind")
    if from_kind == to_kind:
        return out
    return from_denoiser(to_kind, s, to_denoiser(from_kind, s, out, x, t), x, t)


def denoiser_from_prediction(predict: Callable, kind: str, s: Schedule) -> Model:
    """``predict(x, t) -> out`` of the given kind as a ``Model``, callable as ``D(x, t)``."""
    return Model(predict, parameterization(kind), s)
