"""The trainer's run: ``run(config, workdir, mode)`` checks, locks, restores, then trains / samples / evaluates.

Before any compilation the config is validated (``ValueError`` naming the key), the workdir locked
(train mode; ``WorkdirLocked``), the config compared with the run's recorded one
(``ConfigChanged``) and num_steps with the latest checkpoint. Then the mesh, the run's keys
(``run_keys``: fold_in(key(seed), i) for init, train, data, sample, eval), the data pipeline and
the task are built, the state is created sharded in place and the latest good checkpoint restored.
``run_config(name, workdir)`` does the same from a config file's name. ``experiments.train``
re-exports both (and ``Result``) as the trainer's Python entry points.

References: DESIGN.md section 2 (one trainer: --config, --workdir, --mode; resumes from the workdir).
"""
from __future__ import annotations

import logging
import os
from typing import Any, NamedTuple

import jax

from experiments import tasks
from experiments.configs import common as config_common
from experiments.tasks import _evaluate as evaluate
from experiments.tasks import _loop as loop
from experiments.tasks import _outputs as outputs
from experiments.tasks import _workdir, inputs
from genjax.train import distributed, identity, preemption, sharding
from genjax.train.state import TrainState

log = logging.getLogger("genjax.train")
MODES = ("train", "sample", "eval")


class Result(NamedTuple):
    """What ``run`` returns: the final (or restored) state, the task, the data, the workdir."""

    state: TrainState
    task: tasks.Task
    data: Any
    workdir: str


def run_keys(seed: int) -> dict:
    """The run's root keys {init, train, data, sample, eval}: fold_in(key(seed), i) in that order."""
    root = jax.random.key(seed)
    names = ("init", "train", "data", "sample", "eval")
    return {n: jax.random.fold_in(root, i) for i, n in enumerate(names)}


def run(config, workdir: str, mode: str = "train", allow_config_change: bool = False,
        stop: preemption.StopSignal | None = None) -> Result:
    """Train / sample / evaluate ``config`` in ``workdir``; resumes from the latest good checkpoint.

    Before any compilation: the config is validated (``ValueError`` naming the key), the workdir is
    locked (train mode; ``WorkdirLocked``), the config is compared with the run's recorded one
    (``ConfigChanged``; ``allow_config_change`` accepts learning-rate-like keys) and num_steps with
    the latest checkpoint. ``stop``: the signal recorder (default: a fresh one, installed for the
    training loop when called from the main thread).
    """
    from genjax.train import checkpoint  # orbax is imported only when a run starts

    if mode not in MODES:
        raise ValueError(f"--mode must be one of {MODES}, got {mode!r}")
    config_common.validate(config)
    workdir = outputs.check_workdir(workdir)
    lock = _workdir.take_lock(workdir) if mode == "train" else None
    stop = stop or preemption.StopSignal()
    ckpt = None
    try:
        changes = _workdir.check_config(config, workdir, mode, allow_config_change)
        ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"),
                                       every=int(config.training.checkpoint_every),
                                       keep=int(config.training.keep_checkpoints), read_only=mode != "train")
        latest = ckpt.latest_step()
        if mode == "train" and latest is not None and int(config.training.num_steps) < latest:
            raise ValueError(f"config.training.num_steps={int(config.training.num_steps)} is below the step of the "
                             f"latest checkpoint ({latest}) in {ckpt.directory}; raise it (with "
                             f"--allow_config_change) or use another --workdir")
        mesh = sharding.data_mesh()
        sharding.check_batch_size(int(config.training.batch_size), mesh, name="config.training.batch_size")
        keys = run_keys(int(config.seed))
        data = inputs.build(config, mesh, keys["data"])
        task = tasks.build(config, data, workdir)
        if mode == "train":
            stop.install()  # from here on a signal only sets a flag
            if jax.process_count() == 1 and stop.received():  # stopped during start-up: skip compiling
                raise preemption.Preempted(stop.signum, None, False)
        state = sharding.init_sharded(task.init, mesh, keys["init"])
        restored = ckpt.restore(state)
        if restored is not None:
            state = restored
            if mode == "train":
                log.warning("resuming %s from step %d%s", workdir, int(jax.device_get(state.step)),
                            "; config changes:\n" + identity.format_changes(changes) if changes else "")
        elif mode != "train":
            raise ValueError(f"--mode={mode} needs a checkpoint; none found in {ckpt.directory}")
        if mode == "train":
            if distributed.is_primary():
                _workdir.record_config(config, workdir, changes, int(jax.device_get(state.step)))
            state = loop.train(config, workdir, state, task, data, mesh, keys, ckpt, stop,
                               resumed=restored is not None)
        else:
            evaluate.sample_or_eval(config, workdir, state, task, data, mesh, keys, mode)
    finally:
        stop.restore()
        try:
            if ckpt is not None:
                ckpt.close()
        finally:
            if lock is not None:
                lock.release()
    return Result(state=state, task=task, data=data, workdir=workdir)


def run_config(name: str, workdir: str, arg: str | None = "runlocal", num_steps: int | None = None,
               mode: str = "train", allow_config_change: bool = False) -> Result:
    """Train (or sample / eval) ``experiments/configs/<name>.py:<arg>`` in-process, e.g. for a demo.

    ``res = run_config("toy2d_flow_matching", "runs/demo", num_steps=500)``; then
    ``res.task.extras["denoiser"](res.state.ema_params)`` is the trained denoiser D(x, t) and
    ``res.task.sample(res.state.ema_params, n, key)`` draws n samples. Resumes like ``run``
    (continuing to more steps needs ``allow_config_change=True``).
    """
    import importlib

    config = importlib.import_module(f"experiments.configs.{name}").get_config(arg)
    if num_steps is not None:
        config.training.num_steps = int(num_steps)
    return run(config, workdir, mode, allow_config_change=allow_config_change)
