"""Trainer throughput: steps/s of the toy and digits configs and the input pipeline's overhead.

    python -m benchmarks.train [--quick] [--configs toy2d_flow_matching,digits_ddpm] [--steps 200]
                               [--repeats 3] [--runlocal]

For each config the train step is built exactly as ``experiments.train`` builds it (same data
source, task, mesh over all local devices, jit with donated state). Reported per config:

  steps_per_sec            full training steps with the input pipeline (what the trainer runs:
                           device-side toy sampling fused into the step, or host index feeds through
                           the prefetch thread and ``make_array_from_process_local_data``)
  fixed_batch_steps_per_sec  the same jitted train step on one device-resident batch
  pipeline_ratio           time(full) / time(fixed batch), measured in the same run (target <= 1.05)
  compile_seconds          compilation of the full step (separate from the timings)
  batch_size, devices, params

Timings are medians over --repeats blocks of --steps steps, after a warm-up block, each ending
with ``block_until_ready``; full and fixed-batch blocks alternate so that load changes hit both. Checkpointing and logging are not included (they run every N steps
asynchronously in the trainer).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import jax
import numpy as np


def _setup(name: str, runlocal: bool, workdir: str):
    from experiments import tasks, train
    from experiments.tasks import inputs
    from genjax.train import sharding

    config = importlib.import_module(f"experiments.configs.{name}").get_config("runlocal" if runlocal else None)
    mesh = sharding.data_mesh()
    keys = train._keys(int(config.seed))
    data = inputs.build(config, mesh, keys["data"])
    task = tasks.build(config, data, workdir)
    state = sharding.init_sharded(task.init, mesh, keys["init"])
    return config, mesh, keys, data, task, state


def _time_interleaved(blocks: dict, steps: int, repeats: int) -> dict:
    """Median seconds per step of each block, the blocks alternating (A B A B ...) after a warm-up
    round, so a change in machine load hits both alike."""
    for run in blocks.values():
        run(steps)
    times = {k: [] for k in blocks}
    for _ in range(repeats):
        for k, run in blocks.items():
            t0 = time.perf_counter()
            run(steps)
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) / steps for k, v in times.items()}


def bench(name: str, steps: int, repeats: int, runlocal: bool) -> dict:
    from experiments import train
    from genjax.train import sharding

    with tempfile.TemporaryDirectory() as wd:
        config, mesh, keys, data, task, state = _setup(name, runlocal, wd)
        full = train._compiled_step(task, data, mesh)
        prefetch = train._Prefetcher(data.feeds(0), mesh) if data.feeds is not None else None
        feed0 = prefetch.get() if prefetch else None
        t0 = time.perf_counter()
        compiled = full.lower(state, feed0, keys["data"], keys["train"]).compile()
        compile_s = time.perf_counter() - t0
        fixed_batch = jax.jit(data.to_batch, out_shardings=sharding.batch_sharding(mesh))(
            state.step, keys["data"], feed0)
        rep, bsh = sharding.replicated(mesh), sharding.batch_sharding(mesh)
        fixed = jax.jit(task.train_step, in_shardings=(rep, bsh, rep), out_shardings=(rep, rep),
                        donate_argnums=0).lower(state, fixed_batch, keys["train"]).compile()
        box = {"state": state}

        def run_full(n):
            s = box["state"]
            for _ in range(n):
                feed = prefetch.get() if prefetch else None
                s, m = compiled(s, feed, keys["data"], keys["train"])
            jax.block_until_ready(s)
            box["state"] = s

        def run_fixed(n):
            s = box["state"]
            for _ in range(n):
                s, m = fixed(s, fixed_batch, keys["train"])
            jax.block_until_ready(s)
            box["state"] = s

        t = _time_interleaved({"full": run_full, "fixed": run_fixed}, steps, repeats)
        t_full, t_fixed = t["full"], t["fixed"]
        if prefetch:
            prefetch.close()
        params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(box["state"].params))
        return {"config": name + (":runlocal" if runlocal else ""), "batch_size": int(config.training.batch_size),
                "devices": mesh.size, "pipeline": data.pipeline, "params": params,
                "steps_per_sec": 1.0 / t_full, "fixed_batch_steps_per_sec": 1.0 / t_fixed,
                "pipeline_ratio": t_full / t_fixed, "compile_seconds": compile_s}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="toy2d_flow_matching,digits_ddpm")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--runlocal", action="store_true", help="the configs' :runlocal variants")
    p.add_argument("--quick", action="store_true", help="20 steps, 2 repeats, :runlocal")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.runlocal = 20, 2, True
    results = [bench(n, args.steps, args.repeats, args.runlocal) for n in args.configs.split(",")]
    out = {"benchmark": "train", "results": results, "steps": args.steps, "repeats": args.repeats,
           "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                       "devices": [str(d) for d in jax.devices()]},
           "versions": {"jax": jax.__version__, "python": sys.version.split()[0]}}
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    import logging
    logging.getLogger("absl").setLevel(logging.WARNING)
    main()
