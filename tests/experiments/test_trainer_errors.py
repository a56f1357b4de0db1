"""experiments.train: bad input fails early with a ValueError naming the key; non-finite losses stop safely."""
import os

import jax
import numpy as np
import pytest

from experiments import train
from experiments.configs import toy2d_flow_matching
from genjax.train import checkpoint
from tests.experiments.test_trainer_safety import override


def _config(**overrides):
    c = toy2d_flow_matching.get_config("runlocal")
    c.training.num_steps = 2
    return override(c, **overrides)


@pytest.mark.parametrize("key, value, match", [
    ("model.family", "diffusionz", r"unknown model family 'diffusionz' \(config.model.family\)"),
    ("model.net", "resnet9000", r"config.model.net: unknown network 'resnet9000'"),
    ("model.predicts", "noise", r"config.model.predicts"),
    ("loss.name", "dsmm", r"unknown loss 'dsmm' \(config.loss.name\)"),
    ("schedule.name", "vp_cosinus", r"config.schedule.name: unknown schedule 'vp_cosinus'"),
    ("data.name", "checkerbored", r"unknown toy data set 'checkerbored' \(config.data.name\)"),
    ("data.source", "imagenet", r"unknown data source 'imagenet' \(config.data.source\)"),
    ("sampling.solver", "heunn", r"unknown sampler 'heunn' \(config.sampling.solver\)"),
    ("optim.optimizer", "sgdd", r"config.optim: unknown optimizer 'sgdd'"),
    ("training.batch_size", 12, r"config.training.batch_size=12 is not divisible by the number of devices \(8\)"),
])
def test_bad_config_value_names_the_key(tmp_path, key, value, match):
    with pytest.raises(ValueError, match=match):
        train.run(_config(**{key: value}), str(tmp_path))


def test_unknown_tfds_name(tmp_path):
    c = _config(**{"data.source": "tfds", "data.name": "cifar11"})
    with pytest.raises(ValueError, match=r"unknown tfds data set 'cifar11' \(config.data.name\)"):
        train.run(c, str(tmp_path))


def test_loss_and_prediction_must_agree(tmp_path):
    with pytest.raises(ValueError, match=r"config.loss.name='edm' needs config.model.predicts in \('edm',\)"):
        train.run(_config(**{"loss.name": "edm"}), str(tmp_path))


def test_unwritable_workdir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match=r"--workdir '.*a_file/run' cannot be written"):
        train.run(_config(), str(blocker / "run"))
    with pytest.raises(ValueError, match="--workdir is required"):
        train.run(_config(), "")


def test_bad_mode_and_eval_without_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="--mode must be one of"):
        train.run(_config(), str(tmp_path), mode="fit")
    with pytest.raises(ValueError, match="--mode=eval needs a checkpoint; none found"):
        train.run(_config(), str(tmp_path / "fresh"), mode="eval")


def test_non_finite_loss_stops_and_keeps_the_good_checkpoint(tmp_path):
    wd = str(tmp_path)
    good = train.run(_config(**{"training.num_steps": 4, "training.checkpoint_every": 2}), wd)
    ckpt_dir = os.path.join(wd, "checkpoints")
    assert sorted(os.listdir(ckpt_dir)) == ["2", "4"]
    # lr = 1e30 with the norm-jump guard off: Adam moves every weight by ~1e30 at step 5 (finite),
    # the loss overflows at step 6. (With the guard on, step 5 itself is refused:
    # tests/experiments/test_trainer_safety.py.)
    bad = _config(**{"training.num_steps": 10, "training.checkpoint_every": 2, "optim.lr": 1e30,
                     "training.max_param_norm_ratio": 0.0})
    with pytest.raises(train.NonFiniteLoss, match=r"(?s)step 6: non-finite loss or gradient .*the last good "
                                                  r"checkpoint is step 4 .*Likely cause: the learning rate "
                                                  r"\(config.optim.lr=1e\+30\) or the data"):
        train.run(bad, wd, allow_config_change=True)
    assert sorted(os.listdir(ckpt_dir)) == ["2", "4"]  # nothing written past the last good state
    restored = checkpoint.Checkpointer(ckpt_dir).restore(good.state)
    assert int(restored.step) == 4
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(good.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # the good state, bit for bit
