"""Every config: documented, parses with its ':runlocal' argument and runs two steps through the trainer.

The runs go through ``experiments.train.run_from_flags`` in-process with a fresh absl FlagValues (the same
parsing as ``python -m experiments.train``: config file, ':runlocal' argument, dotted overrides,
locked config). tfds configs read ``tfds.testing.mock_data`` (random images, nothing downloaded).
"""
import contextlib
import importlib
import json
import pathlib

import numpy as np
import pytest
from absl import flags

from experiments import train

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "experiments" / "configs"
# The trainer's own configs (the family engineers' configs are run by their tests).
CONFIGS = ["toy2d_flow_matching", "toy2d_edm", "toy2d_reflow", "digits_ddpm", "digits_edm", "mnist_ddpmpp",
           "cifar10_ddpmpp", "cifar10_edm"]


def _module(name):
    return importlib.import_module(f"experiments.configs.{name}")


def test_all_issue_configs_exist():
    found = {p.stem for p in CONFIG_DIR.glob("*.py") if "def get_config" in p.read_text()}
    assert set(CONFIGS) <= found


@pytest.mark.parametrize("name", CONFIGS)
def test_config_is_documented_and_accepts_runlocal(name):
    mod = _module(name)
    doc = mod.__doc__ or ""
    for section in ("Command", "Hardware", "Expected result"):
        assert section in doc, f"{name}: docstring lacks {section!r}"
    assert f"experiments/configs/{name}.py" in doc  # the command names this file
    full, local = mod.get_config(None), mod.get_config("runlocal")
    assert local.training.batch_size <= full.training.batch_size
    assert local.training.num_steps <= 1000 and local.training.batch_size <= 64
    with pytest.raises(ValueError, match="unknown config argument 'bogus'"):
        mod.get_config("bogus")


def _mock_data(name):
    if _module(name).get_config("runlocal").data.source != "tfds":
        return contextlib.nullcontext()
    import tensorflow_datasets as tfds
    return tfds.testing.mock_data(num_examples=64)


def run_cli(argv, mock=contextlib.nullcontext()):
    """``python -m experiments.train ARGV`` in-process; returns run()'s Result."""
    argv = ["experiments.train"] + list(argv)
    fv = flags.FlagValues()
    train.define_flags(fv, argv)
    fv(argv)
    with mock:
        return train.run_from_flags(fv)


# The U-Net configs whose ':runlocal' program another test already trains through the same trainer
# are not run again here: cifar10_ddpmpp and cifar10_edm (60 steps each in tests/experiments/test_configs_unet.py,
# cifar10_edm as its class-conditional variant) and mnist_ddpmpp (its ':runlocal' is cifar10_ddpmpp's
# without the random flip). Each U-Net run costs tens of seconds of XLA compile on 2 cores.
RUN_CONFIGS = [c for c in CONFIGS if c not in ("cifar10_ddpmpp", "cifar10_edm", "mnist_ddpmpp")]


@pytest.mark.parametrize("name", RUN_CONFIGS)
def test_config_runs_two_steps(name, tmp_path):
    res = run_cli([f"--config={CONFIG_DIR / name}.py:runlocal", f"--workdir={tmp_path}",
                   "--config.training.num_steps=2", "--config.training.log_every=1"], _mock_data(name))
    assert int(res.state.step) == 2
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert all(np.isfinite(r["loss"]) and r["finite"] for r in rows)
    assert (tmp_path / "checkpoints" / "2" / "commit_success.txt").exists()  # saved at exit
    assert json.loads((tmp_path / "config.json").read_text())["training"]["num_steps"] == 2
