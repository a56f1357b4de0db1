r"""The one trainer: ``python -m experiments.train --config CONFIG.py[:ARG] --workdir DIR --mode MODE``.

Modes:
  train   train from the latest complete checkpoint in DIR (or from scratch) to
          ``config.training.num_steps``; checkpoints every ``checkpoint_every`` steps and at exit.
  sample  load the latest checkpoint, write ``samples_<step>.npz`` and a figure.
  eval    load the latest checkpoint, write ``eval_<step>.json``: sample metrics against the data
          (MMD, energy distance, sliced Wasserstein) and the family's own metrics (bits/dim, ...).

Configs are ml_collections files loaded locked; override any field with dotted flags, e.g.
``--config.optim.lr=1e-4 --config.training.batch_size=256``. Multi-host: pass
``--coordinator_address host:port --num_processes N --process_id I`` (or set $JAX_COORDINATOR_ADDRESS,
$JAX_NUM_PROCESSES, $JAX_PROCESS_ID), or ``--multihost`` on TPU pods / SLURM to auto-detect.

From Python (the demo, notebooks): ``result = experiments.train.run(config, workdir)`` (or
``run_config("toy2d_flow_matching", workdir, num_steps=500)``) returns
``Result(state, task, data, workdir)``; ``result.task.extras["denoiser"](result.state.ema_params)``
is the trained diffusion denoiser.

Everything random is a pure function of (config.seed, step): the train step uses
``fold_in(train_key, step)``, the data ``fold_in(data_key, step)``. A run killed at any point and
restarted with the same command therefore ends with exactly the parameters of an uninterrupted run.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from experiments import tasks
from experiments.tasks import _outputs, inputs
from experiments.tasks._sample_metrics import log_eval, sample_metrics
from genjax.train import distributed, sharding
from genjax.train.state import TrainState

log = logging.getLogger("genjax.train")
MODES = ("train", "sample", "eval")


class Result(NamedTuple):
    """What ``run`` returns: the final (or restored) state, the task, the data, the workdir."""

    state: TrainState
    task: tasks.Task
    data: Any
    workdir: str


class NonFiniteLoss(RuntimeError):
    """Training hit a non-finite loss or gradient; the last good checkpoint is kept."""


def _keys(seed: int):
    root = jax.random.key(seed)
    names = ("init", "train", "data", "sample", "eval")
    return {n: jax.random.fold_in(root, i) for i, n in enumerate(names)}


class _Prefetcher:
    """Background thread turning host-local feeds into global arrays, ``depth`` steps ahead."""

    def __init__(self, feeds, mesh, depth: int = 2):
        self._feeds, self._mesh = feeds, mesh
        self._queue, self._stop = queue.Queue(maxsize=depth), threading.Event()
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self):
        try:
            for feed in self._feeds:
                item = sharding.host_to_global(feed, self._mesh)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except Exception as e:  # noqa: BLE001 - handed to the consumer and raised there
            self._queue.put(e)

    def get(self):
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)


def _compiled_step(task, data, mesh):
    """jit of one training step: replicated state, the feed sharded on "data", batch built inside."""
    rep, bsh = sharding.replicated(mesh), sharding.batch_sharding(mesh)

    def fused(state, feed, data_key, key):
        batch = jax.lax.with_sharding_constraint(data.to_batch(state.step, data_key, feed), bsh)
        return task.train_step(state, batch, key)

    return jax.jit(fused, in_shardings=(rep, bsh, rep, rep), out_shardings=(rep, rep), donate_argnums=0)


def _sampler(task, mesh):
    rep = sharding.replicated(mesh)
    return jax.jit(task.sample, static_argnums=1, in_shardings=(rep, rep), out_shardings=rep)


def _write_samples(sampler, state, keys, n, workdir, name):
    """Samples from the EMA parameters (key: fold_in(sample_key, step)) and their figure."""
    x = np.asarray(jax.device_get(sampler(state.ema_params, n, jax.random.fold_in(keys["sample"], state.step))))
    if distributed.is_primary():
        os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
        _outputs.save_figure(x, os.path.join(workdir, "samples", f"{name}.png"), title=f"step {int(state.step)}")
    return x


def train(config, workdir, state, task, data, mesh, keys, ckpt) -> TrainState:
    """The training loop from ``state.step`` to ``config.training.num_steps``."""
    cfg = config.training
    num_steps, start = int(cfg.num_steps), int(jax.device_get(state.step))
    step_fn, sampler = _compiled_step(task, data, mesh), _sampler(task, mesh)
    primary = distributed.is_primary()
    writer = _outputs.MetricWriter(workdir, enabled=primary)
    progress = _outputs.Progress(start, num_steps, enabled=primary)
    prefetch = None
    if data.feeds is not None and start < num_steps:
        prefetch = _Prefetcher(data.feeds(start), mesh)
    log.info("training %s from step %d to %d on %d devices (%d processes), %s pipeline, workdir %s",
             config.model.family, start, num_steps, mesh.size, jax.process_count(), data.pipeline, workdir)
    t0 = time.perf_counter()
    try:
        for step in range(start, num_steps):
            feed = None if prefetch is None else prefetch.get()
            state, metrics = step_fn(state, feed, keys["data"], keys["train"])
            done = step + 1
            boundary = (done % cfg.log_every == 0 or done % cfg.checkpoint_every == 0 or done == num_steps
                        or (cfg.sample_every and done % cfg.sample_every == 0))
            if not boundary:
                continue
            # A non-finite step leaves the state (and its step counter) unchanged, so one check of
            # the counter at each boundary catches every non-finite step since the last one.
            host_metrics = jax.device_get(metrics)
            reached = int(jax.device_get(state.step))
            if reached != done:
                raise NonFiniteLoss(
                    f"non-finite loss or gradient at step {reached} (loss={float(host_metrics['loss']):.4g}, "
                    f"grad_norm={float(host_metrics['grad_norm']):.4g}); training stopped. The last good "
                    f"checkpoint (step {ckpt.latest_step()}) in {ckpt.directory} was kept. Try a lower "
                    f"config.optim.lr, a config.optim.grad_clip, or a longer config.optim.warmup_steps.")
            if done % cfg.log_every == 0 or done == num_steps:
                rate = progress.update(done, host_metrics)
                writer.write(done, {**host_metrics, "steps_per_sec": rate, "time": time.perf_counter() - t0})
            ckpt.save(state)
            if cfg.sample_every and (done % cfg.sample_every == 0 or done == num_steps):
                _write_samples(sampler, state, keys, int(config.sampling.num_samples), workdir, f"step_{done:08d}")
        ckpt.save(state, force=True)  # at exit (a no-op when this step is already saved)
    except KeyboardInterrupt:
        log.warning("interrupted at step %d; saving", int(jax.device_get(state.step)))
        ckpt.save(state, force=True)
        raise
    finally:
        if prefetch is not None:
            prefetch.close()
        ckpt.wait()
        progress.close()
        writer.close()
    return state


def sample_or_eval(config, workdir, state, task, data, mesh, keys, mode) -> dict:
    """sample: samples_<step>.npz + figure; eval: eval_<step>.json with sample and model metrics."""
    step = int(jax.device_get(state.step))
    n = int(config.sampling.num_samples if mode == "sample" else config.eval.num_samples)
    x = _write_samples(_sampler(task, mesh), state, keys, n, workdir, f"{mode}_{step:08d}")
    if mode == "sample":
        if distributed.is_primary():
            np.savez(os.path.join(workdir, f"samples_{step:08d}.npz"), samples=x)
        return {"step": step, "num_samples": n}
    ref = data.reference(n, keys["eval"])
    out = {"step": step, "num_samples": n}
    out.update(sample_metrics(x, ref, config.eval.sample_metrics, jax.random.fold_in(keys["eval"], 1),
                              config=config, mesh=mesh))
    if task.evaluate is not None:
        batch = {"x": ref[: int(config.eval.model_batch)]}
        res = jax.device_get(task.evaluate(state.ema_params, batch, jax.random.fold_in(keys["eval"], 2)))
        out.update({k: float(np.mean(v)) for k, v in res.items()})
    if distributed.is_primary():
        _outputs.write_json(out, os.path.join(workdir, f"eval_{step:08d}.json"))
        log_eval(workdir, step, out)
    return out


def run(config, workdir: str, mode: str = "train") -> Result:
    """Train / sample / evaluate ``config`` in ``workdir``; resumes from the latest checkpoint."""
    from genjax.train import checkpoint  # orbax is imported only when a run starts

    if mode not in MODES:
        raise ValueError(f"--mode must be one of {MODES}, got {mode!r}")
    workdir = _outputs.check_workdir(workdir)
    mesh = sharding.data_mesh()
    sharding.check_batch_size(int(config.training.batch_size), mesh, name="config.training.batch_size")
    keys = _keys(int(config.seed))
    data = inputs.build(config, mesh, keys["data"])
    task = tasks.build(config, data, workdir)
    state = sharding.init_sharded(task.init, mesh, keys["init"])
    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), every=int(config.training.checkpoint_every),
                                   keep=int(config.training.keep_checkpoints))
    restored = ckpt.restore(state)
    if restored is not None:
        state = restored
        log.info("resumed from step %d", int(jax.device_get(state.step)))
    elif mode != "train":
        ckpt.close()
        raise ValueError(f"--mode={mode} needs a checkpoint; none found in {ckpt.directory}")
    if mode == "train" and distributed.is_primary():
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=2))
    try:
        if mode == "train":
            state = train(config, workdir, state, task, data, mesh, keys, ckpt)
        else:
            sample_or_eval(config, workdir, state, task, data, mesh, keys, mode)
    finally:
        ckpt.close()
    return Result(state=state, task=task, data=data, workdir=workdir)


def run_config(name: str, workdir: str, arg: str | None = "runlocal", num_steps: int | None = None,
               mode: str = "train") -> Result:
    """Train (or sample / eval) ``experiments/configs/<name>.py:<arg>`` in-process, e.g. for a demo.

    ``res = run_config("toy2d_flow_matching", "runs/demo", num_steps=500)``; then
    ``res.task.extras["denoiser"](res.state.ema_params)`` is the trained denoiser D(x, t) and
    ``res.task.sample(res.state.ema_params, n, key)`` draws n samples. Resumes like ``run``.
    """
    import importlib

    config = importlib.import_module(f"experiments.configs.{name}").get_config(arg)
    if num_steps is not None:
        config.training.num_steps = int(num_steps)
    return run(config, workdir, mode)


def define_flags(flag_values=None, argv=None):
    """Define the trainer's flags on ``flag_values`` (default: absl's global FLAGS) and return it.

    ml_collections finds the dotted ``--config.a.b=v`` overrides in ``argv`` (default sys.argv)
    when the config flag is defined, so an in-process caller passes the argv it will parse.
    """
    from absl import flags
    from ml_collections import config_flags

    fv = flags.FLAGS if flag_values is None else flag_values
    config_flags.DEFINE_config_file("config", None, "path to a config file[:arg]", flag_values=fv, lock_config=True,
                                    sys_argv=argv)
    flags.DEFINE_string("workdir", None, "directory for checkpoints, logs and samples", flag_values=fv)
    flags.DEFINE_enum("mode", "train", list(MODES), "train | sample | eval", flag_values=fv)
    flags.DEFINE_string("coordinator_address", None, "multi-host: host:port of process 0", flag_values=fv)
    flags.DEFINE_integer("num_processes", None, "multi-host: number of processes", flag_values=fv)
    flags.DEFINE_integer("process_id", None, "multi-host: index of this process", flag_values=fv)
    flags.DEFINE_integer("num_cpu_devices", None, "host CPU devices per process (jax_num_cpu_devices)",
                         flag_values=fv)
    flags.DEFINE_bool("multihost", False, "auto-detect the cluster (TPU pod, SLURM) for jax.distributed",
                      flag_values=fv)
    return fv


def run_from_flags(flag_values=None) -> Result:
    """Start the distributed runtime if the flags ask for it, then ``run`` the parsed config."""
    from absl import flags

    fv = flags.FLAGS if flag_values is None else flag_values
    if fv.config is None or fv.workdir is None:
        raise ValueError("--config and --workdir are required")
    distributed.initialize(fv.coordinator_address, fv.num_processes, fv.process_id,
                           auto_detect=fv.multihost, num_cpu_devices=fv.num_cpu_devices)
    log.setLevel(logging.INFO)
    return run(fv.config, fv.workdir, fv.mode)


def main(argv) -> None:
    """absl entry point (``python -m experiments.train``)."""
    from absl import logging as absl_logging

    del argv
    absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs every save at INFO
    try:
        run_from_flags()
    except NonFiniteLoss as e:
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    from absl import app

    define_flags()
    app.run(main)
