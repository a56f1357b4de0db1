"""The "flows" family: NICE, RealNVP, multi-scale RealNVP, Glow and the FFJORD CNF by maximum
likelihood (``config.model.family = "flows"``).

Reads ``config.flow``:

    name          nice | realnvp | realnvp_image | glow | cnf  (a genjax.families.flows factory)
    kwargs        keyword arguments of that factory (dim / shape come from the data)
    logit_alpha   > 0: logit preprocessing y = logit(alpha + (1 - 2 alpha) v) of dequantized
                  images (its logdet is part of log p); 0: none (2-D toys)
    eval_num_steps  CNF only: steps of the fixed grid for ``evaluate`` (the same params; exact
                  divergence there whenever the trace is affordable, dim <= 64)
    eval_solver   CNF only, optional: "rk4" (default; the fixed grid above) or "dopri5" (FFJORD's
                  adaptive evaluation, tolerance ``eval_tol``, default 1e-5; NaN if unfinished)

Loss: mean negative log-likelihood of dequantized data in the space of ``_likelihood``;
``evaluate`` reports nll and bits/dim.
"""
from __future__ import annotations

import math

from experiments.tasks import Task, _likelihood, config_error
from genjax import integrators
from genjax.families import flows

NAMES = ("nice", "realnvp", "realnvp_image", "glow", "cnf")
IMAGE_MODELS = ("realnvp_image", "glow")


def build_flow(name: str, shape: tuple, kwargs: dict, logit_alpha: float) -> flows.Flow:
    """The flow ``name`` on data of event ``shape`` (vector models get ``dim = prod(shape)``)."""
    if name not in NAMES:
        raise ValueError(f"unknown flow {name!r} (config.flow.name); choose one of {NAMES}")
    pre = flows.logit_transform(logit_alpha) if logit_alpha > 0 else None
    with config_error("config.flow.kwargs"):
        if name == "cnf":
            return flows.cnf(math.prod(shape), preprocess=pre, **kwargs)
        if name in IMAGE_MODELS:
            factory = flows.glow if name == "glow" else flows.realnvp_image
            return factory(shape, preprocess=pre, **kwargs)
        return getattr(flows, name)(math.prod(shape), preprocess=pre, **kwargs)


def build(config, data, workdir: str | None = None) -> Task:
    """The flows Task of ``config``."""
    del workdir
    fc = config.flow
    name = fc.name
    if name not in NAMES:
        raise ValueError(f"unknown flow {name!r} (config.flow.name); choose one of {NAMES}")
    glow_vector = name == "glow" and len(data.shape) == 1
    space = _likelihood.space_for(config, data, "continuous",
                                  flatten=name not in IMAGE_MODELS or glow_vector)
    kwargs = _likelihood.kwargs_of(fc.kwargs)
    alpha = float(fc.logit_alpha)
    flow = build_flow(name, space.shape, kwargs, alpha)
    if name == "cnf":
        eval_kwargs = dict(kwargs, num_steps=int(fc.eval_num_steps))
        eval_solver = fc.get("eval_solver", "rk4")
        if eval_solver not in ("rk4", "dopri5"):
            raise ValueError(f"config.flow.eval_solver must be 'rk4' or 'dopri5', got {eval_solver!r}")
        if eval_solver == "dopri5":
            tol = float(fc.get("eval_tol", 1e-5))
            eval_kwargs.update(stepping=integrators.adaptive(tol, tol))
        if space.shape[0] <= 64:
            eval_kwargs["divergence"] = "exact"
        eval_flow = build_flow(name, space.shape, eval_kwargs, alpha)
    else:
        eval_flow = flow

    def nll(params, y, key):
        return -flow.log_prob(params, y, key)

    def eval_terms(params, y, key):
        return {"flow": -eval_flow.log_prob(params, y, key)}

    return _likelihood.make_task(config, data, space, flow.init, nll, flow.sample, eval_terms,
                                 extras={"flow": flow, "eval_flow": eval_flow})
