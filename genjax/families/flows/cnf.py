"""Continuous normalizing flow (FFJORD) on vectors, integrated by ``genjax.integrators``.

The flow maps data x = x(0) to latent z = x(T) along dx/dt = f_theta(t, x). The instantaneous
change of variables d log p(x(t)) / dt = -tr(df/dx) gives

    log p(x) = log N(z; 0, I) + int_0^T tr(df/dx(t, x(t))) dt,

computed by integrating the augmented state (x, l), dl/dt = tr(df/dx), l(0) = 0, with a
fixed-grid solver (default RK4, differentiable end to end: "discretise then optimise"). The trace
is exact (d Jacobian-vector products, fine in low dimension) or Hutchinson's unbiased estimate
tr(J) ~ eps^T J eps with one Rademacher eps per example held fixed along the trajectory.
The parameters do not depend on the solver, so a model trained with few steps can be evaluated
with ``cnf(..., num_steps=larger)``, another ``integrators.fixed`` solver, or FFJORD's adaptive
Dormand-Prince (``cnf(..., stepping=integrators.adaptive(1e-5, 1e-5))``) on the same params.

References: Chen et al. 2018, "Neural Ordinary Differential Equations"; Grathwohl et al. 2019,
"FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models";
Hutchinson 1989, "A stochastic estimator of the trace of the influence matrix".
"""
from __future__ import annotations

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax import divergence as divergence_lib
from genjax import integrators
from genjax.families.flows.bijectors import Bijector
from genjax.families.flows.models import Flow, check_batch, check_num_samples, standard_normal_log_prob
from genjax.nets.flow_nets import ODEMLP, init_key

Array = jax.Array


def cnf(dim: int, hidden: Sequence[int] = (64, 64), divergence="exact", num_steps: int = 8,
        t1: float = 1.0, stepping: Optional[integrators.Stepping] = None,
        net: Optional[nn.Module] = None, preprocess: Optional[Bijector] = None) -> Flow:
    """FFJORD continuous flow on [B, dim] data.

    Args:
      dim: data dimension.
      hidden: widths of the default field network ``ODEMLP`` (ignored when ``net`` is given).
      divergence: a ``genjax.divergence`` strategy or its name: ``exact()`` (d JVPs per evaluation)
        or ``hutchinson()`` (one JVP; ``log_prob`` and ``forward`` then need a ``key``).
      num_steps: steps of the default stepping, ``integrators.fixed(rk4(), num_steps)`` on [0, t1].
      t1: integration time.
      stepping: the step-size control: ``integrators.fixed(solver, num_steps)`` (default RK4;
        differentiable, for training) or ``integrators.adaptive(rtol, atol, max_steps)``,
        FFJORD's adaptive Dormand-Prince evaluation (not reverse-differentiable). A solve that does
        not finish returns NaN for the state and the log-density of the whole batch instead of a
        truncated number.
      net: a flax module ``net(x [B, dim], t) -> [B, dim]`` replacing the default field.
      preprocess: a parameter-free bijector applied before the ODE (e.g. ``logit_transform``
        for dequantized images); its logdet enters ``log_prob``.

    Returns:
      ``Flow`` whose ``forward(params, x, key=None)``, ``inverse(params, z, key=None)`` and
      ``log_prob(params, x, key=None)`` take the Hutchinson key last.
    """
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    div = divergence_lib.get(divergence)
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be an int >= 1, got {num_steps!r}")
    stepping = integrators.fixed(integrators.rk4(), num_steps) if stepping is None else stepping
    if not isinstance(stepping, integrators.Stepping):
        raise TypeError(f"stepping must be integrators.fixed(...) or integrators.adaptive(...), got {stepping!r}")
    net = ODEMLP(tuple(hidden), dim) if net is None else net
    event_shape = (dim,)

    def augmented_field(params, probes):
        def field(t, state):
            x, _ = state
            return div.apply(lambda y: net.apply({"params": params}, y, t), x, probes)
        return field

    def _probes(x, key):
        if not div.needs_key:
            return None
        if key is None:
            raise ValueError(f"cnf with divergence {div.name} needs a key (the estimator's noise)")
        return div.probes(key, x)

    def _integrate(field, t_start, t_end, state):
        out, info = stepping.solve(field, t_start, t_end, state)
        return jax.tree.map(lambda a: jnp.where(info.converged, a, jnp.nan), out)

    def _solve(params, x, key, t_start, t_end):
        state = (x, jnp.zeros(x.shape[:1], x.dtype))
        return _integrate(augmented_field(params, _probes(x, key)), t_start, t_end, state)

    def init(x, key):
        check_batch(x, event_shape)
        x = jnp.asarray(x, jnp.float32)
        if preprocess is not None:
            x = preprocess.forward(None, x)[0]
        return net.init(init_key(key), x, 0.0)["params"]

    def forward(params, x, key=None):
        check_batch(x, event_shape)
        if preprocess is None:
            return _solve(params, x, key, 0.0, t1)
        y, ld0 = preprocess.forward(None, x)
        z, ld1 = _solve(params, y, key, 0.0, t1)
        return z, ld0 + ld1

    def inverse(params, z, key=None):
        check_batch(z, event_shape, "z")
        y, ld = _solve(params, z, key, t1, 0.0)
        if preprocess is None:
            return y, ld
        x, ld0 = preprocess.inverse(None, y)
        return x, ld + ld0

    def log_prob(params, x, key=None):
        z, logdet = forward(params, x, key)
        return standard_normal_log_prob(z) + logdet

    def sample(params, n, key, temperature=1.0):
        z = temperature * jax.random.normal(key, (check_num_samples(n),) + event_shape)
        field = lambda t, x: net.apply({"params": params}, x, t)
        x = _integrate(field, t1, 0.0, z)
        return x if preprocess is None else preprocess.inverse(None, x)[0]

    return Flow(init, forward, inverse, log_prob, sample, event_shape)
