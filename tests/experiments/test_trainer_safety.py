"""A run is never lost (in-process): config identity, eval never writes, checksums, blow-up guard, fast config errors.

One 6-step toy flow-matching run (a tiny MLP; checkpoints 2, 4, 6) is trained once per module
and copied into each test's directory. "Byte-identical" compares the SHA-256 of every file in the
workdir before and after.
"""
import hashlib
import json
import os
import shutil
import time

import jax
import numpy as np
import pytest
from absl import flags

from experiments import train
from experiments.configs import toy2d_edm, toy2d_flow_matching
from experiments.tasks import _workdir
from experiments.tasks._workdir import ConfigChanged
from genjax.train import checkpoint

FAST_S = 5.0  # every refusal and config error happens before any compilation


def override(c, **overrides):
    """``c`` with dotted overrides applied: ``override(c, **{"optim.lr": 1e-4})``."""
    for dotted, value in overrides.items():
        node = c
        *path, last = dotted.split(".")
        for p in path:
            node = node[p]
        node[last] = value
    return c


def config(**overrides):
    """toy2d_flow_matching:runlocal with a tiny MLP, 6 steps, checkpoints every 2 (kept: 5)."""
    c = toy2d_flow_matching.get_config("runlocal")
    c.model.net_kwargs.features = (16, 16)
    c.model.net_kwargs.embed_dim = 8
    c.training.num_steps = 6
    c.training.checkpoint_every = 2
    c.training.log_every = 2
    c.training.keep_checkpoints = 5
    return override(c, **overrides)


def _leaves(state):
    return [np.asarray(x) for x in jax.tree.leaves(state)]


def _assert_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)  # bitwise


def snapshot(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """(workdir, final state leaves) of the uninterrupted 6-step run."""
    wd = tmp_path_factory.mktemp("safety") / "base"
    res = train.run(config(), str(wd))
    return wd, _leaves(res.state)


@pytest.fixture(scope="module")
def resumed8(base, tmp_path_factory):
    """The base run resumed to 8 steps with --allow_config_change (num_steps is the only change)."""
    wd = tmp_path_factory.mktemp("safety") / "resumed8"
    shutil.copytree(base[0], wd)
    res = train.run(config(**{"training.num_steps": 8}), str(wd), allow_config_change=True)
    return wd, _leaves(res.state)


def _copy(base, tmp_path):
    wd = tmp_path / "run"
    shutil.copytree(base[0], wd)
    return wd


@pytest.mark.parametrize("key, value", [("model.net_kwargs.features", (32, 32)), ("optim.grad_clip", 0.0),
                                        ("optim.optimizer", "adamw"), ("data.name", "moons")])
def test_structural_change_is_refused_even_with_the_flag(base, tmp_path, key, value):
    wd = _copy(base, tmp_path)
    before = snapshot(wd)
    t0 = time.perf_counter()
    with pytest.raises(ConfigChanged,
                       match=rf"(?s)cannot change on resume.*\n  config\.{key}: .* -> .*Nothing in .* was changed"):
        train.run(config(**{key: value}), str(wd), allow_config_change=True)
    assert time.perf_counter() - t0 < FAST_S
    assert snapshot(wd) == before  # every checkpoint byte-identical, nothing moved, config.json kept


def test_tunable_change_needs_the_flag(base, tmp_path):
    wd = _copy(base, tmp_path)
    before = snapshot(wd)
    with pytest.raises(ConfigChanged, match=r"(?s)config\.training\.num_steps: 6 -> 8\n.*pass --allow_config_change"):
        train.run(config(**{"training.num_steps": 8}), str(wd))
    assert snapshot(wd) == before


def test_keys_added_by_newer_code_do_not_block_a_resume(base, tmp_path):
    """A workdir from before a key existed (here: max_param_norm_ratio, a None placeholder, a dropped key)."""
    wd = _copy(base, tmp_path)
    recorded = json.loads((wd / "config.json").read_text())
    del recorded["training"]["max_param_norm_ratio"]
    del recorded["schedule"]["kwargs"]["t_min"]
    recorded["training"]["retired_key"] = 3
    (wd / "config.json").write_text(json.dumps(recorded))
    changes = _workdir.check_config(config(), str(wd), "train")  # no --allow_config_change needed
    assert set(changes) == {"training.max_param_norm_ratio", "schedule.kwargs.t_min", "training.retired_key"}
    assert _workdir.check_config(config(), str(wd), "eval") == {}
    with pytest.raises(ConfigChanged, match="training.max_param_norm_ratio"):  # not at its default: a change
        _workdir.check_config(config(**{"training.max_param_norm_ratio": 3.0}), str(wd), "train")


def test_tunable_change_with_the_flag_resumes_and_is_recorded(base, resumed8):
    wd, _ = resumed8
    assert (wd / "config.json").read_bytes() == (base[0] / "config.json").read_bytes()  # never overwritten
    rows = [json.loads(line) for line in (wd / "config_changes.jsonl").read_text().splitlines()]
    assert [(r["step"], r["changes"]) for r in rows] == [(6, {"training.num_steps": [6, 8]})]
    steps = [json.loads(line)["step"] for line in (wd / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]  # one row per logged step
    assert checkpoint.Checkpointer(str(wd / "checkpoints"), read_only=True).complete_steps() == [2, 4, 6, 8]
    assert (6, "START") in _session_logs(wd / "tensorboard")  # TensorBoard drops older events past step 6


def _session_logs(tb_dir):
    """(step, status) of the SessionLog events in TensorBoard event files (TFRecord framing)."""
    import struct

    from tensorboardX.proto import event_pb2

    out = []
    for f in sorted(tb_dir.glob("events.out.tfevents.*")):
        raw, at = f.read_bytes(), 0
        while at + 12 <= len(raw):
            (n,) = struct.unpack("<Q", raw[at:at + 8])
            event = event_pb2.Event.FromString(raw[at + 12:at + 12 + n])
            at += 12 + n + 4  # length, its crc, data, data crc
            if event.HasField("session_log"):
                out.append((event.step, event_pb2.SessionLog.SessionStatus.Name(event.session_log.status)))
    return out


@pytest.mark.parametrize("mode", ["eval", "sample"])
def test_eval_with_a_bad_override_or_the_wrong_config_file_refuses(base, tmp_path, mode):
    wd = _copy(base, tmp_path)
    before = snapshot(wd)
    with pytest.raises(ConfigChanged, match=rf"(?s)--mode={mode}: .*\n  config\.model\.net_kwargs\.features"):
        train.run(config(**{"model.net_kwargs.features": (32, 32)}), str(wd), mode=mode)
    wrong = toy2d_edm.get_config("runlocal")  # same network shapes, another model
    wrong.model.net_kwargs.features, wrong.model.net_kwargs.embed_dim = (16, 16), 8
    with pytest.raises(ConfigChanged, match=r"config\.loss\.name: 'flow_matching' -> 'edm'"):
        train.run(wrong, str(wd), mode=mode)
    assert snapshot(wd) == before


def flip_leaf_byte(step_dir, leaf) -> int:
    """Flip one byte in every verbatim copy of ``leaf``'s bytes in the data files.

    Returns how many copies were flipped in the merged store (``default/d/``), the one a restore
    reads. Orbax merges each process's OCDBT store (``ocdbt.process_*/``) into the root manifest,
    and the per-process files keep copies that a restore never reads: flipping only those leaves
    the checkpoint intact (seen in CI, where the leaf's bytes in the merged store were compressed,
    and the resume correctly used step 6).
    """
    want, hits = np.ascontiguousarray(leaf).tobytes(), 0
    for root, _, files in os.walk(step_dir):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                raw = bytearray(fh.read())
            at = raw.find(want)
            while at >= 0:
                raw[at + len(want) // 2] ^= 0x10
                hits += "ocdbt.process_" not in p
                at = raw.find(want, at + 1)
            with open(p, "wb") as fh:
                fh.write(bytes(raw))
    return hits


def test_bit_flip_in_the_newest_checkpoint_falls_back_and_retrains(base, tmp_path, caplog):
    wd = _copy(base, tmp_path)
    # the leaves are read from the base run, never from the copy, so that no read of the copy in
    # this process precedes the trainer's restore
    stored = checkpoint.Checkpointer(str(base[0] / "checkpoints"), read_only=True).read(6)
    for path, leaf in jax.tree_util.tree_leaves_with_path(stored["params"]):
        unique = leaf.size >= 8 and len(np.unique(leaf)) == leaf.size
        if unique and flip_leaf_byte(wd / "checkpoints" / "6", leaf):
            name = ".params" + jax.tree_util.keystr(path)  # TrainState is a NamedTuple
            break
    else:
        pytest.fail("no parameter stored verbatim in the merged store (default/d/)")
    res = train.run(config(), str(wd))
    # named by our crc32 (the chunk read back changed), or by tensorstore when the flip broke an
    # OCDBT node, whose own checksum it verifies: either way step 6 is refused, never used
    assert (f"checkpoint 6 ({wd / 'checkpoints' / '6'}) is damaged: leaf {name}: crc32" in caplog.text
            or f"checkpoint 6 ({wd / 'checkpoints' / '6'}) is damaged: ValueError: DATA_LOSS" in caplog.text)
    _assert_equal(_leaves(res.state), base[1])  # retrained 5 and 6: the uninterrupted run's parameters
    assert [p.name.split("-")[0] for p in (wd / "checkpoints.broken").iterdir()] == ["6"]
    steps = [json.loads(line)["step"] for line in (wd / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6]


def test_blown_up_step_is_never_saved_and_a_sane_rerun_resumes(base, resumed8, tmp_path):
    wd = _copy(base, tmp_path)
    before = snapshot(wd / "checkpoints")
    bad = config(**{"optim.lr": 1e6, "training.num_steps": 10, "training.checkpoint_every": 1})
    with pytest.raises(train.NonFiniteLoss, match=r"(?s)step 7: the parameter norm jumped .* nothing after it was "
                                                  r"saved: the last good checkpoint is step 6 .*Likely cause: the "
                                                  r"learning rate \(config.optim.lr=1e\+06\)"):
        train.run(bad, str(wd), allow_config_change=True)
    assert snapshot(wd / "checkpoints") == before  # nothing written
    res = train.run(config(**{"training.num_steps": 8}), str(wd), allow_config_change=True)  # no manual deletion
    _assert_equal(_leaves(res.state), resumed8[1])  # as if lr=1e6 had never been tried


@pytest.mark.parametrize("key, value", [
    ("training.log_every", 0), ("training.checkpoint_every", 0), ("training.keep_checkpoints", 0),
    ("model.net_kwargs.features", (16, -16)), ("optim.lr", float("nan")), ("optim.lr", float("inf")),
    ("training.num_steps", -1)])
def test_bad_config_value_fails_fast_naming_the_key(tmp_path, key, value):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=rf"^config\.{key}="):
        train.run(config(**{key: value}), str(tmp_path / "run"))
    assert time.perf_counter() - t0 < FAST_S
    assert not (tmp_path / "run").exists()  # failed before the workdir was created


def test_missing_tfds_data_dir_is_named(tmp_path):
    c = config(**{"data.source": "tfds", "data.name": "mnist", "data.data_dir": str(tmp_path / "nowhere")})
    with pytest.raises(ValueError, match=r"config\.data\.data_dir=.*nowhere.*does not exist"):
        train.run(c, str(tmp_path / "run"))


def test_num_steps_below_the_restored_step_fails_fast(base, tmp_path):
    wd = _copy(base, tmp_path)
    before = snapshot(wd)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"config\.training\.num_steps=4 is below the step of the latest checkpoint "
                                         r"\(6\)"):
        train.run(config(**{"training.num_steps": 4}), str(wd), allow_config_change=True)
    assert time.perf_counter() - t0 < FAST_S
    assert snapshot(wd) == before


def test_unknown_config_file_fails_at_flag_parsing(tmp_path):
    wd = tmp_path / "run"
    argv = ["train", "--config=experiments/configs/no_such_config.py", f"--workdir={wd}"]
    fv = train.define_flags(flags.FlagValues(), argv)
    with pytest.raises(flags.IllegalFlagValueError, match=r"(?s)--config could not be loaded.*no_such_config\.py"):
        fv(argv)
    assert not wd.exists()
