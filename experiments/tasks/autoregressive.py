"""The "autoregressive" family: NADE and MADE on binarised digits (``config.model.family = "autoregressive"``).

Reads ``config.autoregressive``:

    name     nade | made  (genjax.families.autoregressive factories)
    kwargs   nade: hidden (int); made: hidden (tuple), num_orderings, seed

Loss: exact negative log-likelihood of the binarised images b = [k > 8] (``_likelihood``);
``evaluate`` reports nll and bits/dim of binary data (not comparable with dequantized bits/dim).
``sample`` maps the binary samples to the extreme pixel levels in the model space.
"""
from __future__ import annotations

import math

from experiments.tasks import Task, _likelihood, config_error
from genjax.families import autoregressive

NAMES = ("nade", "made")


def build(config, data, workdir: str | None = None) -> Task:
    """The autoregressive Task of ``config``."""
    del workdir
    ac = config.autoregressive
    if ac.name not in NAMES:
        raise ValueError(f"unknown autoregressive model {ac.name!r} (config.autoregressive.name); "
                         f"choose one of {NAMES}")
    space = _likelihood.space_for(config, data, "binary", flatten=True)
    with config_error("config.autoregressive.kwargs"):
        model = getattr(autoregressive, ac.name)(math.prod(space.shape), **_likelihood.kwargs_of(ac.kwargs))

    def nll(params, y, key):
        del key
        return -model.log_prob(params, y)

    def eval_terms(params, y, key):
        del key
        return {"ar": -model.log_prob(params, y)}

    return _likelihood.make_task(config, data, space, model.init, nll, model.sample, eval_terms,
                                 extras={"model": model})
