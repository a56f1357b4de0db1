r"""The one trainer: ``python -m experiments.train --config CONFIG.py[:ARG] --workdir DIR --mode MODE``.

Modes:
  train   train from the latest complete checkpoint in DIR (or from scratch) to
          ``config.training.num_steps``; checkpoints every ``checkpoint_every`` steps and at exit.
  sample  load the latest checkpoint, write ``samples_<step>.npz`` and a figure.
  eval    load the latest checkpoint, write ``eval_<step>.json``: sample metrics against the data
          (``config.eval.sample_metrics`` of ``eval.num_samples`` samples drawn in chunks of
          ``eval.sample_batch``) and the family's own metrics (bits/dim, ...).
  With ``--config.eval.periodic=True`` training also logs the sample metrics of the samples it
  draws every ``training.sample_every`` steps.

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

Run safety (docs/readme/train.md, "What the trainer guarantees"): the workdir is locked by one
training run; its ``config.json`` is the run's identity and a resume with a changed config stops
before touching anything unless the change is harmless (``--allow_config_change`` for num_steps,
learning rate, ...; never for the network or optimizer structure); checkpoints carry per-leaf
crc32 checksums; a non-finite or blown-up step is never saved; SIGTERM / SIGINT save the current
step and exit with 143 / 130; eval and sample modes never write checkpoints.
"""
from __future__ import annotations

import signal as _signal

# Ctrl-C or SIGTERM during start-up (imports, compilation) is remembered and acted on before the
# first step, so a signal can never land inside a jitted step with donated buffers.
_EARLY_SIGNALS: list = []
if __name__ == "__main__":
    for _s in (_signal.SIGTERM, _signal.SIGINT):
        _signal.signal(_s, lambda signum, frame: _EARLY_SIGNALS.append(signum))

import logging
import os
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from experiments import tasks
from experiments.configs import common as config_common
from experiments.tasks import _outputs, _sample_metrics, _step, _workdir, inputs
from experiments.tasks._sample_metrics import log_eval, sample_metrics
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


class NonFiniteLoss(RuntimeError):
    """Training hit a non-finite loss, gradient or parameters, or a parameter-norm blow-up; nothing bad is saved."""


def run_keys(seed: int) -> dict:
    """The run's root keys {init, train, data, sample, eval}: fold_in(key(seed), i) in that order."""
    root = jax.random.key(seed)
    names = ("init", "train", "data", "sample", "eval")
    return {n: jax.random.fold_in(root, i) for i, n in enumerate(names)}


Prefetcher = _step.Prefetcher  # public: benchmarks/ and the tests build the trainer's step with these
compiled_step = _step.compiled_step


def _sampler(task, mesh):
    rep = sharding.replicated(mesh)
    return jax.jit(task.sample, static_argnums=1, in_shardings=(rep, rep), out_shardings=rep)


def _write_samples(sampler, state, keys, n, workdir, name):
    """Samples from the EMA parameters (key: fold_in(sample_key, step)) and their figure."""
    x = np.asarray(jax.device_get(sampler(state.ema_params, n, jax.random.fold_in(keys["sample"], state.step))))
    return _figure(x, workdir, name, int(jax.device_get(state.step)))


def _figure(x, workdir, name, step):
    if distributed.is_primary():
        os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
        _outputs.save_figure(x, os.path.join(workdir, "samples", f"{name}.png"), title=f"step {step}")
    return x


def _periodic_eval(config, x, data, step, keys, mesh, writer) -> None:
    """config.eval.periodic: the sample metrics of the loop's samples x -> metrics.jsonl / TensorBoard."""
    rows = _sample_metrics.periodic_metrics(config, x, data, step, keys["eval"], mesh)
    if rows:
        log.info("step %d  %s", step, "  ".join(f"{k}={v:.4g}" for k, v in rows.items()))
        writer.write(step, rows)


def _stopped(state, host_metrics, ckpt, config, reached: int, done: int) -> NonFiniteLoss:
    del state, done
    return NonFiniteLoss(_step.stop_message(jax.device_get(host_metrics), ckpt, config, reached))


def _preempt(state, ckpt, stop, start: int) -> preemption.Preempted:
    """Save the current step (after the last dispatched step finished), wait for the commit, say so."""
    reached = int(jax.device_get(state.step))
    saved = False
    if reached > start:
        ckpt.save(state, force=True)
        ckpt.wait()
        saved = reached in ckpt.complete_steps()
    log.warning("%s at step %d: %s", _signal.Signals(stop.signum).name, reached,
                f"checkpoint {reached} committed in {ckpt.directory}" if saved else "nothing new to save")
    return preemption.Preempted(stop.signum, reached, saved)


def train(config, workdir, state, task, data, mesh, keys, ckpt, stop=None, resumed: bool = False) -> TrainState:
    """The training loop from ``state.step`` to ``config.training.num_steps``.

    ``stop`` (``genjax.train.preemption.StopSignal``) is checked between steps: on SIGTERM /
    SIGINT the current step is saved and ``Preempted`` raised. ``resumed``: metrics.jsonl and
    TensorBoard are cut back to the starting step (no duplicate steps).
    """
    cfg = config.training
    num_steps, start = int(cfg.num_steps), int(jax.device_get(state.step))
    step_fn = compiled_step(task, data, mesh, float(cfg.max_param_norm_ratio))
    sampler = _sampler(task, mesh)
    primary = distributed.is_primary()
    stop = stop or preemption.StopSignal()
    writer = _outputs.MetricWriter(workdir, enabled=primary, resume_step=start if resumed else None)
    progress = _outputs.Progress(start, num_steps, enabled=primary)
    prefetch = None
    if data.feeds is not None and start < num_steps:
        prefetch = Prefetcher(data.feeds(start), mesh)
    log.info("training %s from step %d to %d on %d devices (%d processes), %s pipeline, workdir %s",
             config.model.family, start, num_steps, mesh.size, jax.process_count(), data.pipeline, workdir)
    t0 = time.perf_counter()
    try:
        for step in range(start, num_steps):
            if stop.should_stop(step):  # between steps: never inside a step whose buffers are donated
                reached = int(jax.device_get(state.step))
                if reached != step:
                    raise _stopped(state, jax.device_get(metrics), ckpt, config, reached, step)
                raise _preempt(state, ckpt, stop, start)
            feed = None if prefetch is None else prefetch.get()
            state, metrics = step_fn(state, feed, keys["data"], keys["train"])
            done = step + 1
            boundary = (done % cfg.log_every == 0 or done % cfg.checkpoint_every == 0 or done == num_steps
                        or (cfg.sample_every and done % cfg.sample_every == 0))
            if not boundary:
                continue
            # A rejected step leaves the state (and its step counter) unchanged, and so does every
            # step after it (same step, same key, same batch), so one check of the counter at each
            # boundary catches every rejected step since the last one.
            host_metrics = jax.device_get(metrics)
            reached = int(jax.device_get(state.step))
            if reached != done:
                raise _stopped(state, host_metrics, ckpt, config, reached, done)
            if done % cfg.log_every == 0 or done == num_steps:
                rate = progress.update(done, host_metrics)
                writer.write(done, {**host_metrics, "steps_per_sec": rate, "time": time.perf_counter() - t0})
            ckpt.save(state)
            if cfg.sample_every and (done % cfg.sample_every == 0 or done == num_steps):
                x = _write_samples(sampler, state, keys, int(config.sampling.num_samples), workdir,
                                   f"step_{done:08d}")
                _periodic_eval(config, x, data, done, keys, mesh, writer)
        reached = int(jax.device_get(state.step))
        if reached != num_steps and num_steps > start:
            raise _stopped(state, jax.device_get(metrics), ckpt, config, reached, num_steps)
        ckpt.save(state, force=True)  # at exit (a no-op when this step is already saved)
    except KeyboardInterrupt:  # only when the handlers could not be installed (not the main thread)
        try:
            log.warning("interrupted at step %d; saving", int(jax.device_get(state.step)))
            ckpt.save(state, force=True)
        except RuntimeError as e:  # the interrupt landed inside a step that had consumed its inputs
            log.warning("interrupted inside a step; nothing saved (%s)", e)
        raise
    finally:
        if prefetch is not None:
            prefetch.close()
        try:
            ckpt.wait()
        finally:
            progress.close()
            writer.close()
    return state


def sample_or_eval(config, workdir, state, task, data, mesh, keys, mode) -> dict:
    """sample: samples_<step>.npz + figure; eval: eval_<step>.json with sample and model metrics."""
    step = int(jax.device_get(state.step))
    n = int(config.sampling.num_samples if mode == "sample" else config.eval.num_samples)
    if mode == "eval":  # chunks of eval.sample_batch (chunk i: fold_in(fold_in(eval_key, 3), i))
        x = _figure(_sample_metrics.draw(_sampler(task, mesh), state.ema_params, n, int(config.eval.sample_batch),
                                         jax.random.fold_in(keys["eval"], 3)), workdir, f"eval_{step:08d}", step)
    else:
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
    workdir = _outputs.check_workdir(workdir)
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
            state = train(config, workdir, state, task, data, mesh, keys, ckpt, stop, resumed=restored is not None)
        else:
            sample_or_eval(config, workdir, state, task, data, mesh, keys, mode)
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
    flags.DEFINE_bool("allow_config_change", False,
                      "resume although num_steps / learning rate / EMA values differ from the run's config.json "
                      "(recorded in config_changes.jsonl); structural changes are refused even then",
                      flag_values=fv)
    # A config file that cannot be loaded fails here, at flag parsing, before anything is created.
    flags.register_validator("config", _config_loaded, message="--config could not be loaded", flag_values=fv)
    return fv


def _config_loaded(value) -> bool:
    import ml_collections

    if value is None or isinstance(value, ml_collections.ConfigDict):
        return True
    error = vars(value).get("_error")  # ml_collections' placeholder for a config that failed to load
    from absl import flags
    raise flags.ValidationError(f"--config could not be loaded: {error}")


def run_from_flags(flag_values=None, stop: preemption.StopSignal | None = None) -> Result:
    """Start the distributed runtime if the flags ask for it, then ``run`` the parsed config."""
    from absl import flags

    fv = flags.FLAGS if flag_values is None else flag_values
    if fv.config is None or fv.workdir is None:
        raise ValueError("--config and --workdir are required")
    distributed.initialize(fv.coordinator_address, fv.num_processes, fv.process_id,
                           auto_detect=fv.multihost, num_cpu_devices=fv.num_cpu_devices)
    log.setLevel(logging.INFO)
    return run(fv.config, fv.workdir, fv.mode, allow_config_change=fv.allow_config_change, stop=stop)


def _exit(code: int, message: str | None = None) -> None:
    """Print ``message``, flush, and leave *now*: after a failed orbax write its worker threads can
    block interpreter shutdown forever, so ``os._exit`` skips the thread joins (logs are flushed)."""
    import sys

    if message:
        print(message, file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _no_orbax_tracebacks(record) -> bool:
    """Drop orbax's logged tracebacks of a failed write: the same error ends the run as one line."""
    return not (record.exc_info and "orbax" in record.pathname)


def main(argv) -> None:
    """absl entry point (``python -m experiments.train``): one line per error, exit 1; 143 / 130 on SIGTERM / SIGINT."""
    from absl import logging as absl_logging

    from genjax.train import checkpoint, lock

    del argv
    absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs every save at INFO
    logging.getLogger("absl").addFilter(_no_orbax_tracebacks)
    from absl import flags

    stop = preemption.StopSignal(pending=_EARLY_SIGNALS)
    if flags.FLAGS.mode != "train":  # nothing to save: Ctrl-C / SIGTERM act at once
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
        if _EARLY_SIGNALS:
            _exit(128 + _EARLY_SIGNALS[0], "stopped before the run started")
    try:
        run_from_flags(stop=stop)
    except preemption.Preempted as e:
        _exit(e.exit_code, f"stopped: {e}")
    except checkpoint.CheckpointError as e:
        _exit(1, f"error: {e}")
    except (NonFiniteLoss, lock.WorkdirLocked, ValueError) as e:
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    from absl import app

    define_flags()
    app.run(main)
