"""Training objectives: pure factories returning ``loss_fn(params, batch, key) -> (loss, aux)``.

    from genjax import losses
    loss_fn = losses.dsm(apply, s, target="eps", weighting="min_snr", t_sampler="uniform")
    loss_fn = losses.edm(apply, schedules.edm())
    loss_fn = losses.flow_matching(apply, schedules.rectified(), t_sampler="logit_normal")
    loss_fn = losses.reflow(apply)            # batch = {"x": ODE endpoints, "z": their noise}
    loss_fn = losses.distill(apply, num_steps=1)

``apply(params, x, t, label=None, train=False, key=None)`` is the network call of
``genjax.nets.apply_fn``; batch = {"x": [B, ...], optional "label": [B], "z": [B, ...]}.
Strategies are built by one factory per variant and passed in by value (or by name, for configs):
``losses.timesteps.logit_normal(0.0, 1.0)``, ``losses.weightings.min_snr(5.0)``.
"""
from genjax.losses import timesteps, weightings
from genjax.losses.diffusion import dsm, edm
from genjax.losses.flow import distill, flow_matching, reflow
from genjax.losses.strategies import (T_SAMPLERS, TARGETS, WEIGHTINGS, conditional_target, log_target_factor,
                                     time_sampler, weighting)

BY_NAME = {"dsm": dsm, "edm": edm, "flow_matching": flow_matching, "reflow": reflow, "distill": distill}


def get(name: str, *args, **kwargs):
    """A loss factory by name (for configs): ``get("dsm", apply, s, target="v")``."""
    if name not in BY_NAME:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(BY_NAME)}")
    return BY_NAME[name](*args, **kwargs)


__all__ = ["BY_NAME", "T_SAMPLERS", "TARGETS", "WEIGHTINGS", "conditional_target", "distill", "dsm", "edm",
           "flow_matching", "get", "log_target_factor", "reflow", "time_sampler", "timesteps", "weighting",
           "weightings"]
