"""The trainer's loop: ``train`` runs the compiled step from ``state.step`` to ``num_steps``.

Between steps it checks the stop signal (SIGTERM / SIGINT save the current step and raise
``Preempted``); at every log / checkpoint / sample boundary it reads the step counter back: a
refused step (non-finite loss or gradient, a parameter-norm blow-up) leaves the counter where it
was, so one comparison catches it and ``NonFiniteLoss`` is raised with the last good step and
checkpoint; nothing bad is ever saved. Metrics go to metrics.jsonl / TensorBoard, checkpoints every
``checkpoint_every`` steps and at exit, samples every ``sample_every`` steps.

Everything random is a pure function of (config.seed, step): the step uses ``fold_in(train_key,
step)``, the data ``fold_in(data_key, step)``, so a killed and restarted run ends with exactly the
parameters of an uninterrupted one.

References: DESIGN.md section 4 (resume: a run killed and resumed gives the same parameters).
"""
from __future__ import annotations

import logging
import signal
import time

import jax

from experiments.tasks import _evaluate as evaluate
from experiments.tasks import _outputs as outputs
from experiments.tasks import _step
from genjax.train import distributed, preemption
from genjax.train.state import TrainState

log = logging.getLogger("genjax.train")


class NonFiniteLoss(RuntimeError):
    """Training hit a non-finite loss, gradient or parameters, or a parameter-norm blow-up; nothing bad is saved."""


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
    log.warning("%s at step %d: %s", signal.Signals(stop.signum).name, reached,
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
    step_fn = _step.compiled_step(task, data, mesh, float(cfg.max_param_norm_ratio))
    sampler = evaluate.compiled_sampler(task, mesh)
    primary = distributed.is_primary()
    stop = stop or preemption.StopSignal()
    writer = outputs.MetricWriter(workdir, enabled=primary, resume_step=start if resumed else None)
    progress = outputs.Progress(start, num_steps, enabled=primary)
    prefetch = None
    if data.feeds is not None and start < num_steps:
        prefetch = _step.Prefetcher(data.feeds(start), mesh)
    log.info("training %s from step %d to %d on %d devices (%d processes), %s pipeline, workdir %s",
             config.model.family, start, num_steps, mesh.size, jax.process_count(), data.pipeline, workdir)
    t0 = time.perf_counter()
    metrics = None  # the last step's metrics (none before the first step)
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
                x = evaluate.write_samples(sampler, state, keys, int(config.sampling.num_samples), workdir,
                                           f"step_{done:08d}")
                evaluate.periodic_eval(config, x, data, done, keys, mesh, writer)
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
