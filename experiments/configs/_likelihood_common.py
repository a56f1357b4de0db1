"""Shared settings of the likelihood-family digits configs (not a config: no ``get_config``)."""
from __future__ import annotations

import ml_collections

from experiments.configs import common


def digits_base(family: str, section: str, name: str, kwargs: dict, arg: str) -> ml_collections.ConfigDict:
    """The bundled 8x8 digits (train split), batch 128, Adam 1e-3, ``config.<section>`` for the model."""
    c = common.base()
    c.model.family = family
    c.data.source = "digits"
    c.data.name = "digits"
    c.training.batch_size = 128
    c.training.num_steps = 20_000
    c.optim.lr = 1e-3
    c.optim.grad_clip = 100.0
    c.ema.rate = 0.999
    c.sampling.num_samples = 256
    c.eval.num_samples = 512
    c.eval.model_batch = 359                    # the size of the held-out split
    sec = ml_collections.ConfigDict()
    sec.name = name
    sec.kwargs = ml_collections.ConfigDict(kwargs)
    c[section] = sec
    if arg == "runlocal":
        common.runlocal(c, num_steps=400)
        c.eval.model_batch = 128
        c.ema.rate = 0.0
    return c
