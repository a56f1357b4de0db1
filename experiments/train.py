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

This module is the command line (flags, exit codes, early signals) and re-exports the Python entry
points; the trainer's pieces live in ``experiments/tasks``: ``_run`` (run, run_config, Result,
run_keys), ``_loop`` (the training loop, NonFiniteLoss), ``_evaluate`` (samples, --mode sample /
eval), ``_step`` (compiled_step, Prefetcher), ``_workdir`` (lock, config identity), ``_outputs``.
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

from experiments.tasks._loop import NonFiniteLoss
from experiments.tasks._run import MODES, Result, run, run_config, run_keys
from experiments.tasks._step import Prefetcher, compiled_step  # benchmarks/ and the tests build the step with these
from genjax.train import distributed, preemption

__all__ = ["MODES", "NonFiniteLoss", "Prefetcher", "Result", "compiled_step", "define_flags", "main", "run",
           "run_config", "run_from_flags", "run_keys"]

log = logging.getLogger("genjax.train")


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
