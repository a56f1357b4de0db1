"""Continuous normalizing flow (FFJORD) on vectors, integrated by ``genjax.integrators``.

The flow maps data x = x(0) to latent z = x(T) along dx/dt = f_theta(t, x). The instantaneous
change of variables d log p(x(t)) / dt = -tr(df/dx) gives

    log p(x) = log N(z; 0, I) + int_0^T tr(df/dx(t, x(t))) dt,

computed by integrating the augmented state (x, l), dl/dt = tr(df/dx), l(0) = 0, with a
fixed-grid solver (default RK4, differentiable end to end: "discretise then optimise"). The trace
is exact (d Jacobian-vector products, fine in low dimension) or Hutchinson's unbiased estimate
tr(J) ~ eps^T J eps with one Rademacher eps per example held fixed along the trajectory.
The parameters do not depend on the solver, so a model trained with few steps can be evaluated
with ``cnf(..., num_steps=larger)``, another solver, or FFJORD's adaptive Dormand-Prince
(``cnf(..., solver="dopri5", rtol=1e-5, atol=1e-5)``) on the same params.

References: Chen et al. 2018, "Neural Ordinary Differential Equations"; Grathwohl et al. 2019,
"FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models";
Hutchinson 1989, "A stochastic estimator of the trace of the influence matrix".
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax import integrators
from genjax.families.flows.bijectors import Bijector
from genjax.divergence import divergence_exact, divergence_hutchinson
from genjax.families.flows.models import Flow, check_batch, check_num_samples, standard_normal_log_prob
from genjax.nets.flow_nets import ODEMLP, init_key

Array = jax.Array
DIVERGENCES = ("exact", "hutchinson")


def cnf(dim: int, hidden: Sequence[int] = (64, 64), divergence: str = "exact", num_steps: int = 8,
        t1: float = 1.0, solver: Union[None, str, integrators.Solver] = None,
        net: Optional[nn.Module] = None, preprocess: Optional[Bijector] = None,
        rtol: float = 1e-5, atol: float = 1e-5, max_steps: int = 4096) -> Flow:
    """FFJORD continuous flow on [B, dim] data.

    Args:
      dim: data dimension.
      hidden: widths of the default field network ``ODEMLP`` (ignored when ``net`` is given).
      divergence: "exact" (d JVPs per evaluation) or "hutchinson" (one JVP; ``log_prob`` and
        ``forward`` then need a ``key``).
      num_steps: steps of the fixed grid on [0, t1] (fixed-grid solvers only).
      t1: integration time.
      solver: a ``genjax.integrators.Solver`` on the fixed grid (default ``rk4()``;
        differentiable, for training), or ``"dopri5"``: adaptive Dormand-Prince to ``rtol`` /
        ``atol`` within ``max_steps`` attempts, FFJORD's evaluation solver (not
        reverse-differentiable). A dopri5 solve that does not finish returns NaN for the state
        and the log-density of the whole batch instead of a truncated number.
      net: a flax module ``net(x [B, dim], t) -> [B, dim]`` replacing the default field.
      preprocess: a parameter-free bijector applied before the ODE (e.g. ``logit_transform``
        for dequantized images); its logdet enters ``log_prob``.

    Returns:
      ``Flow`` whose ``forward(params, x, key=None)``, ``inverse(params, z, key=None)`` and
      ``log_prob(params, x, key=None)`` take the Hutchinson key last.
    """
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    if divergence not in DIVERGENCES:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    adaptive = isinstance(solver, str)
    if adaptive and solver != "dopri5":
        raise ValueError(f"solver must be a genjax.integrators.Solver, None (rk4) or 'dopri5', got {solver!r}")
    if adaptive and (not isinstance(max_steps, int) or max_steps < 1 or not rtol >= 0 or not atol >= 0
                     or rtol + atol <= 0):
        raise ValueError(f"cnf: dopri5 needs max_steps >= 1 and rtol, atol >= 0 (not both 0); got "
                         f"max_steps={max_steps!r}, rtol={rtol}, atol={atol}")
    solver = integrators.rk4() if solver is None else solver
    net = ODEMLP(tuple(hidden), dim) if net is None else net
    event_shape = (dim,)

    def augmented_field(params, eps):
        def field(t, state):
            x, _ = state
            fn = lambda y: net.apply({"params": params}, y, t)
            if eps is None:
                dx, div = divergence_exact(fn, x)
            else:
                dx, div = divergence_hutchinson(fn, x, eps)
            return dx, div
        return field

    def _noise(x, key):
        if divergence == "exact":
            return None
        if key is None:
            raise ValueError("cnf with divergence='hutchinson' needs a key (the estimator's noise)")
        return jax.random.rademacher(key, x.shape, x.dtype)

    def _integrate(field, t_start, t_end, state):
        if adaptive:
            out, info = integrators.dopri5(field, t_start, t_end, state, rtol=rtol, atol=atol,
                                           max_steps=max_steps)
            return jax.tree.map(lambda a: jnp.where(info.converged, a, jnp.nan), out)
        ts = jnp.linspace(t_start, t_end, num_steps + 1)
        return integrators.integrate(field, solver, ts, state)[0]

    def _solve(params, x, key, t_start, t_end):
        state = (x, jnp.zeros(x.shape[:1], x.dtype))
        return _integrate(augmented_field(params, _noise(x, key)), t_start, t_end, state)

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
