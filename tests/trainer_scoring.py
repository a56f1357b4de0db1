"""Train a sample-based config with the one trainer and score it against fresh data."""
import importlib

import jax
import numpy as np


def train_and_score(name, workdir, **overrides):
    """Train ``experiments/configs/<name>.py:runlocal`` with ``experiments.train.run``.

    ``overrides`` maps dotted config keys ("gan.kind") to values. Returns MMD^2 to fresh data of
    the untrained and of the trained model (EMA parameters; bandwidth: the data's median pairwise
    distance, the same for both) and the task's own statistics (e.g. modes covered), suffixed
    ``_init`` / ``_trained``.
    """
    from scipy.spatial.distance import pdist

    from experiments import train
    from genjax import metrics

    cfg = importlib.import_module(f"experiments.configs.{name}").get_config("runlocal")
    cfg.training.checkpoint_every = 10**6          # one checkpoint, at exit
    for dotted, value in overrides.items():
        node, *path = dotted.split(".")
        target = cfg[node]
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value
    res = train.run(cfg, str(workdir))
    sample = jax.jit(res.task.sample, static_argnums=1)
    init = jax.jit(res.task.init)(jax.random.key(int(cfg.seed)))
    ref = res.data.reference(1000, jax.random.key(123))
    h = float(np.median(pdist(np.asarray(ref, np.float64).reshape(len(ref), -1))))
    k = jax.random.key(7)
    out = {}
    for tag, params in (("init", init.ema_params), ("trained", res.state.ema_params)):
        out[f"mmd_{tag}"] = float(metrics.mmd2(sample(params, 1000, k), ref, bandwidth=h))
        if res.task.evaluate is not None:
            out.update({f"{m}_{tag}": float(v) for m, v in res.task.evaluate(params, None, k).items()})
    return out
