"""Flow matching / rectified flow, ReFlow on couplings, and k-step distillation.

Convention (DESIGN.md): x_t = alpha(t) x0 + sigma(t) z with data x0 at t_min and the source z at
t_max; for the rectified schedule x_t = (1 - t) x0 + t z and the conditional velocity is
dx_t/dt = z - x0 (the paper's X1 - X0 with its time reversed: its pi_0 is our source at t = 1).
The network predicts the velocity ``u(x, t)``; sampling integrates dx/dt = u from t_max to t_min.

    flow_matching:  L = E_t E_{(x0, z)} mean_dims (u(x_t, t) - (alpha' x0 + sigma' z))^2
                    z = batch["z"] when present (any coupling, e.g. samples of a source mixture),
                    else z ~ N(0, I) independent of x0 (1-rectified flow from Gaussian noise).
    reflow:         the same loss on a coupling (x0, z) = (ODE endpoint, its noise) produced by
                    the previous flow (``genjax.reflow.couplings``): the (k+1)-rectified flow.
    distill:        the same loss with t restricted to the starting times of a k-step Euler grid
                    ``time_grid(s, k)[:-1]``; k = 1 is the one-step distillation of Liu et al.
                    (t = t_max only, x_t ~ z: u(z, t_max) learns z - x0). If u is exact on those
                    times, k Euler steps from z follow the straight segment to x0 exactly.

References: Liu, Gong & Liu 2023, "Flow Straight and Fast: Learning to Generate and Transfer Data
with Rectified Flow" (eq. 1 rectified flow, Sec. 2.3 reflow and distillation); Lipman et al. 2023,
"Flow Matching for Generative Modeling"; Esser et al. 2024 (logit-normal t).
"""
from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

from genjax import schedules
from genjax.losses import strategies as wt
from genjax.schedules import Schedule

Array = jax.Array


def _schedule(s: Optional[Schedule]) -> Schedule:
    if s is None:
        return schedules.rectified()
    if not isinstance(s, Schedule):
        raise TypeError(f"s must be a genjax.schedules.Schedule, got {type(s).__name__}")
    return s


def _coupled_loss(apply, s, sampler, p_uncond, train, needs_z):
    def loss_fn(params, batch, key):
        wt.check_batch(batch, ("x", "z") if needs_z else ("x",))
        x0 = jnp.asarray(batch["x"], jnp.float32)
        k_t, k_z, k_lab, k_net = jax.random.split(key, 4)
        if "z" in batch:
            z = jnp.asarray(batch["z"], jnp.float32)
            if z.shape != x0.shape:
                raise ValueError(f"batch['z'] must have the shape of batch['x'] {x0.shape}, got {z.shape}")
        else:
            z = jax.random.normal(k_z, x0.shape, x0.dtype)
        t, iw = sampler(s, (x0.shape[0],), k_t)
        xt = wt.bcast(s.alpha(t), x0) * x0 + wt.bcast(s.sigma(t), x0) * z
        label = wt.labels(batch, p_uncond, k_lab)
        out = apply(params, xt, t, label, train=train, key=k_net)
        err = wt.per_example(jnp.square(out - wt.conditional_target("velocity", s, x0, z, t)))
        loss = jnp.mean(iw * err)
        return loss, {"loss": loss, "mse": jnp.mean(err)}

    return loss_fn


def flow_matching(apply: Callable, s: Optional[Schedule] = None, t_sampler="uniform", *,
                  p_uncond: float = 0.0, train: bool = True) -> Callable:
    """Flow matching / 1-rectified flow: regress the velocity network on alpha' x0 + sigma' z.

    Args:
      apply: ``apply(params, x, t, label=None, train=False, key=None) -> u`` ([B, ...]).
      s: the path (default ``schedules.rectified()``: x_t = (1 - t) x0 + t z, target z - x0).
      t_sampler: "uniform", "logit_normal" (SD3) or any ``losses.time_sampler(...)``.
      p_uncond: label-dropout probability for classifier-free guidance.
      train: passed to the network.

    Returns:
      ``loss_fn(params, batch, key) -> (loss, {"loss", "mse"})``; batch["z"] (optional) is the
      source sample coupled with batch["x"], otherwise standard Gaussian noise is drawn.

    References: Liu et al. 2023, eq. (1); Lipman et al. 2023.
    """
    s = _schedule(s)
    wt.check_p_uncond(p_uncond)
    return _coupled_loss(apply, s, wt.as_time_sampler(t_sampler), p_uncond, train, needs_z=False)


def reflow(apply: Callable, s: Optional[Schedule] = None, t_sampler="uniform", *, p_uncond: float = 0.0,
           train: bool = True) -> Callable:
    """ReFlow: the rectified-flow loss on a coupling batch {"x": x0, "z": z} from the previous flow.

    Training on (x0, z) = (ODE_k(z), z) gives the (k+1)-rectified flow, whose paths are straighter
    (Liu et al. 2023, Theorem 3.7); ``genjax.reflow.couplings`` generates the pairs.

    References: Liu et al. 2023, Sec. 2.3 (Reflow), Algorithm 1.
    """
    s = _schedule(s)
    wt.check_p_uncond(p_uncond)
    return _coupled_loss(apply, s, wt.as_time_sampler(t_sampler), p_uncond, train, needs_z=True)


def distill(apply: Callable, s: Optional[Schedule] = None, num_steps: int = 1, *, p_uncond: float = 0.0,
            train: bool = True) -> Callable:
    """k-step distillation of a coupling: the ReFlow loss with t uniform on time_grid(s, k)[:-1].

    With num_steps = 1 this is Liu et al.'s one-step distillation E||(z - x0) - u(z, t_max)||^2
    (the rectified-flow loss restricted to the noise end); the student samples with k Euler steps
    on ``schedules.time_grid(s, k)``.

    References: Liu et al. 2023, Sec. 2.3 (Distillation).
    """
    s = _schedule(s)
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be an int >= 1, got {num_steps!r}")
    wt.check_p_uncond(p_uncond)
    starts = schedules.time_grid(s, num_steps)[:-1]

    def sampler(s_, shape, key):
        del s_
        idx = jax.random.randint(key, shape, 0, num_steps)
        return starts[idx], jnp.ones(shape, jnp.float32)

    return _coupled_loss(apply, s, sampler, p_uncond, train, needs_z=True)
