"""The trainer's samples and evaluations: the jitted sampler, sample figures, ``--mode sample / eval``.

- ``compiled_sampler(task, mesh)``: ``task.sample`` jitted with replicated parameters and output.
- ``write_samples``: n samples from the EMA parameters (key ``fold_in(sample_key, step)``) and
  their figure ``samples/<name>.png``; the training loop calls it every ``sample_every`` steps,
  and ``periodic_eval`` logs their sample metrics when ``config.eval.periodic``.
- ``sample_or_eval``: ``--mode sample`` writes ``samples_<step>.npz`` and a figure; ``--mode
  eval`` draws ``eval.num_samples`` samples in chunks of ``eval.sample_batch`` and writes
  ``eval_<step>.json``: the sample metrics against the data (``config.eval.sample_metrics``) and
  the family's own metrics (``task.evaluate``: bits/dim, ...). Only process 0 writes files.

References: DESIGN.md section 2 (one trainer: --mode train | sample | eval).
"""
from __future__ import annotations

import logging
import os

import jax
import numpy as np

from experiments.tasks import _outputs as outputs
from experiments.tasks._sample_metrics import draw, log_eval, periodic_metrics, sample_metrics
from genjax.train import distributed, sharding

log = logging.getLogger("genjax.train")


def compiled_sampler(task, mesh):
    """``task.sample(params, n, key)`` jitted with replicated parameters and output (n static)."""
    rep = sharding.replicated(mesh)
    return jax.jit(task.sample, static_argnums=1, in_shardings=(rep, rep), out_shardings=rep)


def write_samples(sampler, state, keys, n, workdir, name):
    """Samples from the EMA parameters (key: fold_in(sample_key, step)) and their figure."""
    x = np.asarray(jax.device_get(sampler(state.ema_params, n, jax.random.fold_in(keys["sample"], state.step))))
    return figure(x, workdir, name, int(jax.device_get(state.step)))


def figure(x, workdir, name, step):
    """Process 0 saves samples x as ``samples/<name>.png`` (titled with the step); returns x."""
    if distributed.is_primary():
        os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
        outputs.save_figure(x, os.path.join(workdir, "samples", f"{name}.png"), title=f"step {step}")
    return x


def periodic_eval(config, x, data, step, keys, mesh, writer) -> None:
    """config.eval.periodic: the sample metrics of the loop's samples x -> metrics.jsonl / TensorBoard."""
    rows = periodic_metrics(config, x, data, step, keys["eval"], mesh)
    if rows:
        log.info("step %d  %s", step, "  ".join(f"{k}={v:.4g}" for k, v in rows.items()))
        writer.write(step, rows)


def sample_or_eval(config, workdir, state, task, data, mesh, keys, mode) -> dict:
    """sample: samples_<step>.npz + figure; eval: eval_<step>.json with sample and model metrics."""
    step = int(jax.device_get(state.step))
    n = int(config.sampling.num_samples if mode == "sample" else config.eval.num_samples)
    if mode == "eval":  # chunks of eval.sample_batch (chunk i: fold_in(fold_in(eval_key, 3), i))
        x = figure(draw(compiled_sampler(task, mesh), state.ema_params, n, int(config.eval.sample_batch),
                        jax.random.fold_in(keys["eval"], 3)), workdir, f"eval_{step:08d}", step)
    else:
        x = write_samples(compiled_sampler(task, mesh), state, keys, n, workdir, f"{mode}_{step:08d}")
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
        outputs.write_json(out, os.path.join(workdir, f"eval_{step:08d}.json"))
        log_eval(workdir, step, out)
    return out
