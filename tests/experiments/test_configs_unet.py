"""The image configs on EDM's networks: documented parameter counts, loss decrease of ``:runlocal``
through the one trainer, and the random horizontal flip of the input pipeline.
"""
import importlib
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import train
from experiments.tasks import inputs
from genjax import nets

IMAGE_CONFIGS = ["cifar10_ddpmpp", "cifar10_ncsnpp", "cifar10_edm", "imagenet64_adm", "mnist_ddpmpp", "digits_ddpm",
                 "digits_edm"]


def _config(name, arg=None):
    return importlib.import_module(f"experiments.configs.{name}").get_config(arg)


def _num_params(config, num_classes=None):
    kw = config.model.net_kwargs.to_dict()
    if num_classes:
        kw["num_classes"] = num_classes
    abstract = nets.torch_import.abstract_variables(nets.get(config.model.net, **kw))  # eval_shape only
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(abstract["params"]))


@pytest.mark.parametrize("name,arg,classes", [(n, None, None) for n in IMAGE_CONFIGS if n != "imagenet64_adm"]
                         + [("cifar10_edm", "cond", 10), ("imagenet64_adm", None, 1000)])
def test_docstring_states_the_parameter_count(name, arg, classes):
    config = _config(name, arg)
    doc = importlib.import_module(f"experiments.configs.{name}").__doc__
    stated = {int(m.replace(",", "")) for m in re.findall(r"(\d{1,3}(?:,\d{3})+) parameters", doc)}
    stated |= {int(m.replace(",", "")) for m in re.findall(r"and (\d{1,3}(?:,\d{3})+)\s+class-conditional", doc)}
    assert _num_params(config, classes) in stated, (name, stated)
    for section in ("Command", "Hardware", "Expected result", "Network"):
        assert section in doc


# One run per distinct network / loss: DDPM++ (VP, eps), NCSN++ (VE, eps), DDPM++ (EDM, class-conditional),
# ADM (EDM, class-conditional). mnist_ddpmpp / digits_ddpm / digits_edm shrink to the first and third
# (their two-step runs are in tests/experiments/test_configs.py).
@pytest.mark.parametrize("name,arg", [("cifar10_ddpmpp", "runlocal"), ("cifar10_ncsnpp", "runlocal"),
                                      ("cifar10_edm", "cond,runlocal"), ("imagenet64_adm", "runlocal")])
def test_runlocal_loss_decreases_on_digits(name, arg, tmp_path):
    config = _config(name, arg)
    assert config.data.source == "digits" and config.model.net_kwargs.model_channels <= 16
    config.training.num_steps = 60
    config.training.log_every = 1
    config.training.checkpoint_every = 10**6
    res = train.run(config, str(tmp_path))
    loss = np.array([json.loads(r)["loss"] for r in (tmp_path / "metrics.jsonl").read_text().splitlines()])
    assert len(loss) == 60 and np.all(np.isfinite(loss))
    # per-batch losses are noisy (random t, eps); the means over 15 steps must fall by 10%
    assert loss[-15:].mean() < 0.9 * loss[:15].mean(), (loss[:15].mean(), loss[-15:].mean())
    assert int(res.state.step) == 60


def test_random_flip_mirrors_each_row_with_probability_half():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, size=(64, 8, 8, 1))
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
    data = inputs.array_source(images, None, 17, 64, mesh, jax.random.key(0), on_device=True)
    flip = inputs.with_random_flip(data)
    feed = next(data.feeds(0))
    to_batch = jax.jit(flip.to_batch)
    a, b = (np.asarray(to_batch(jnp.int32(s), jax.random.key(3), feed)["x"]) for s in (0, 1))
    x = np.asarray(data.to_batch(0, jax.random.key(3), feed)["x"])
    # atol 1e-6: the pixel map (k + 1/2) 2/K - 1 may fuse differently in two programs
    same = np.all(np.abs(a - x) < 1e-6, axis=(1, 2, 3))
    mirrored = np.all(np.abs(a - x[:, :, ::-1]) < 1e-6, axis=(1, 2, 3))
    assert np.all(same | mirrored)                      # each row intact or mirrored left-right
    assert 16 <= mirrored.sum() <= 48                   # Binomial(64, 1/2): outside with prob. < 1e-4
    np.testing.assert_array_equal(a, np.asarray(to_batch(jnp.int32(0), jax.random.key(3), feed)["x"]))  # pure in step
    assert np.any(a != b)                               # a new coin each step
    with pytest.raises(ValueError, match="random_flip needs images"):
        inputs.with_random_flip(data._replace(shape=(2,)))


def test_full_cifar10_ddpmpp_train_step_lowers_sharded_on_8_devices(tmp_path):
    # The trainer's jitted step for the full network, traced and lowered (not compiled) with
    # eval_shape parameters on the 8 host devices: shapes, shardings and the program are checked,
    # nothing is allocated.
    from experiments.tasks import diffusion
    from genjax.train import sharding

    config = _config("cifar10_ddpmpp")
    mesh = sharding.data_mesh()
    assert mesh.size == 8
    data = inputs.Data(shape=(32, 32, 3), num_classes=None, feeds=None, to_batch=lambda step, key, feed: feed,
                       reference=None)
    data = inputs.with_random_flip(data)
    task = diffusion.build(config, data, str(tmp_path))
    key = jax.eval_shape(lambda: jax.random.key(0))
    state = jax.eval_shape(task.init, key)
    assert sum(int(np.prod(p.shape)) for p in jax.tree.leaves(state.params)) == 61_804_419
    feed = {"x": jax.ShapeDtypeStruct((config.training.batch_size, 32, 32, 3), jnp.float32)}
    lowered = train.compiled_step(task, data, mesh).lower(state, feed, key, key)
    text = lowered.as_text()
    assert "num_partitions = 8" in text or "mhlo.num_partitions = 8" in text
