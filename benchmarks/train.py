"""Trainer throughput: steps/s of the toy and digits configs and the input pipeline's overhead.

    python -m benchmarks.train [--quick] [--configs toy2d_flow_matching,digits_ddpm] [--steps 20]
                               [--repeats 15] [--runlocal]

For each config the train step is built exactly as ``experiments.train`` builds it (same data
source, task, mesh over all local devices, jit with donated state). Reported per config:

  steps_per_sec            full training steps with the input pipeline (what the trainer runs:
                           device-side toy sampling fused into the step, or host index feeds through
                           the prefetch thread and ``make_array_from_process_local_data``)
  fixed_batch_steps_per_sec  the same jitted train step on one device-resident batch
  pipeline_ratio           median over repeats of time(full block) / time(adjacent fixed-batch block)
                           (target <= 1.05)
  host_feed_seconds        host time to build one global feed (next(feeds) + make_array_from_process_local_data),
                           timed alone; the prefetch thread overlaps it with the step
  feed_fraction_of_step    host_feed_seconds / seconds per full step: a load-independent bound on
                           what the pipeline can cost (0 for toy sets, sampled on device)
  compile_seconds          compilation of the full step (separate from the timings)
  batch_size, devices, params

Timings are medians over --repeats blocks of --steps steps, after a warm-up block, each ending
with ``block_until_ready``; full and fixed-batch blocks are timed in adjacent pairs (alternating
order) so that load changes hit both. Checkpointing and logging are not included (they run every N steps
asynchronously in the trainer).
"""
from __future__ import annotations

import argparse
import importlib
import json
import statistics
import tempfile
import time

import jax
import numpy as np

from genjax.timing import machine


def _setup(name: str, runlocal: bool, workdir: str):
    from experiments import tasks, train
    from experiments.tasks import inputs
    from genjax.train import sharding

    config = importlib.import_module(f"experiments.configs.{name}").get_config("runlocal" if runlocal else None)
    mesh = sharding.data_mesh()
    keys = train.run_keys(int(config.seed))
    data = inputs.build(config, mesh, keys["data"])
    task = tasks.build(config, data, workdir)
    state = sharding.init_sharded(task.init, mesh, keys["init"])
    return config, mesh, keys, data, task, state


def _time_pairs(full, fixed, steps: int, repeats: int):
    """Seconds per step of each, and the median of the per-pair ratios full / fixed.

    After a warm-up of both, each repeat times one block of each back to back (alternating which
    goes first), so a change in machine load hits both members of a pair alike.
    """
    full(steps)
    fixed(steps)
    t_full, t_fixed, ratios = [], [], []
    for i in range(repeats):
        pair = {}
        for name, run in ((("full", full), ("fixed", fixed)) if i % 2 == 0 else (("fixed", fixed), ("full", full))):
            t0 = time.perf_counter()
            run(steps)
            pair[name] = time.perf_counter() - t0
        t_full.append(pair["full"] / steps)
        t_fixed.append(pair["fixed"] / steps)
        ratios.append(pair["full"] / pair["fixed"])
    return statistics.median(t_full), statistics.median(t_fixed), statistics.median(ratios)


def bench(name: str, steps: int, repeats: int, runlocal: bool) -> dict:
    from experiments import train
    from genjax.train import sharding

    with tempfile.TemporaryDirectory() as wd:
        config, mesh, keys, data, task, state = _setup(name, runlocal, wd)
        full = train.compiled_step(task, data, mesh)
        prefetch = train.Prefetcher(data.feeds(0), mesh) if data.feeds is not None else None
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

        t_full, t_fixed, ratio = _time_pairs(run_full, run_fixed, steps, repeats)
        feed_s = 0.0
        if prefetch:
            prefetch.close()
            it, n_feeds = data.feeds(0), 50
            t0 = time.perf_counter()
            for _ in range(n_feeds):
                jax.block_until_ready(sharding.host_to_global(next(it), mesh))
            feed_s = (time.perf_counter() - t0) / n_feeds
        params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(box["state"].params))
        return {"config": name + (":runlocal" if runlocal else ""), "batch_size": int(config.training.batch_size),
                "devices": mesh.size, "pipeline": data.pipeline, "params": params,
                "steps_per_sec": 1.0 / t_full, "fixed_batch_steps_per_sec": 1.0 / t_fixed,
                "pipeline_ratio": ratio, "host_feed_seconds": feed_s, "feed_fraction_of_step": feed_s / t_full,
                "compile_seconds": compile_s}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="toy2d_flow_matching,digits_ddpm")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--runlocal", action="store_true", help="the configs' :runlocal variants")
    p.add_argument("--quick", action="store_true", help="5 steps, 4 repeats, :runlocal")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.runlocal = 5, 4, True
    results = [bench(n, args.steps, args.repeats, args.runlocal) for n in args.configs.split(",")]
    out = {"benchmark": "train", "results": results, "steps": args.steps, "repeats": args.repeats,
           "machine": machine()}
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    import logging
    logging.getLogger("absl").setLevel(logging.WARNING)
    main()
