"""Every likelihood-family config trains at ``:runlocal`` for a short run and clearly improves
the held-out NLL over its initialisation.

One config (toy2d_realnvp) runs through the one trainer end to end (``experiments.train.run``:
8 host devices, orbax checkpoint); the others run the same Task (``experiments.tasks.build``) and
input pipeline (``experiments.tasks.inputs.build``) on one device with a plain loop over the
jitted ``task.train_step`` (the trainer adds only sharding and checkpoints, already covered, and
would double each test's compile time). Held-out data: fresh toy samples (a key the trainer never
uses) or the digits *test* split. The number compared is the Task's own ``evaluate`` (exact nll
for flows / NADE / MADE, the ELBO bound for VAEs) in the bits/dim convention of its data space.
"""
import importlib

import jax
import numpy as np
import pytest

from experiments import tasks, train
from experiments.tasks import inputs
from genjax.data import digits
from genjax.train import sharding

# name -> (train steps, required drop of held-out bits/dim). Each drop is far above evaluation
# noise (< 0.01 bits/dim with the fixed key) and well below what the run reaches
# (docs/readme/families_likelihood.md). NADE / MADE start from the data marginals (output biases
# initialised to logit(mean)), already 0.55 bits/dim, so their required drop is smaller.
CONFIGS = {
    "toy2d_realnvp": (300, 0.3),
    "toy2d_glow": (500, 0.3),
    "toy2d_cnf": (300, 0.3),
    "digits_nice": (400, 0.5),
    "digits_realnvp": (400, 0.5),
    "digits_glow": (400, 0.5),
    "digits_cnf": (100, 0.3),
    "digits_vae": (400, 0.5),
    "digits_fvae": (400, 0.5),
    "digits_nade": (400, 0.05),
    "digits_made": (400, 0.05),
}
THROUGH_TRAINER = ("toy2d_realnvp",)


def _train_direct(cfg, steps):
    """The Task and pipeline of the trainer, one device, no checkpoints: (init state, final state, data, task)."""
    mesh = sharding.data_mesh(jax.devices()[:1])
    data = inputs.build(cfg, mesh, jax.random.key(1))
    task = tasks.build(cfg, data, "")
    state0 = jax.jit(task.init)(jax.random.key(int(cfg.seed)))
    data_key, train_key = jax.random.key(2), jax.random.key(3)
    step = jax.jit(lambda s, feed: task.train_step(s, data.to_batch(s.step, data_key, feed), train_key))
    feeds = data.feeds(0) if data.feeds is not None else None
    state = state0
    for _ in range(steps):                         # compiled once; steps cost milliseconds
        state, metrics = step(state, None if feeds is None else next(feeds))
    assert bool(metrics["finite"])
    return state0, state, data, task


def _heldout(cfg, data):
    if cfg.data.source == "digits":
        images, _ = digits.load("test")
        return {"x": 2.0 * (images.astype(np.float32) + 0.5) / digits.NUM_LEVELS - 1.0}
    return {"x": data.reference(1000, jax.random.key(12345))}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_trains_and_improves_heldout_nll(name, tmp_path):
    steps, drop = CONFIGS[name]
    mod = importlib.import_module(f"experiments.configs.{name}")
    assert all(s in mod.__doc__ for s in ("Command", "Hardware", "Expected result"))
    cfg = mod.get_config("runlocal")
    cfg.training.num_steps = steps
    if name in THROUGH_TRAINER:
        cfg.training.checkpoint_every = 10**6          # one checkpoint, at exit
        res = train.run(cfg, str(tmp_path))
        assert int(res.state.step) == steps
        init = jax.jit(res.task.init)(jax.random.key(int(cfg.seed)))
        final, data, task = res.state, res.data, res.task
    else:
        init, final, data, task = _train_direct(cfg, steps)
    batch = _heldout(cfg, data)
    evaluate = jax.jit(task.evaluate)
    key = jax.random.key(7)
    before = {k: float(v) for k, v in evaluate(init.params, batch, key).items()}
    after = {k: float(v) for k, v in evaluate(final.ema_params, batch, key).items()}
    metric = [k for k in before if k.endswith("bits_per_dim")][0]
    print(name, metric, before[metric], "->", after[metric])
    assert np.isfinite(after[metric])
    assert after[metric] < before[metric] - drop, (before, after)
    if name in THROUGH_TRAINER:                    # samples in the trainer's model space
        samples = jax.jit(task.sample, static_argnums=1)(final.ema_params, 8, key)
        assert samples.shape == (8,) + tuple(data.shape) and bool(np.all(np.isfinite(samples)))
