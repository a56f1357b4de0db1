"""Cold compile time of every public jitted entry point, as JSON.

    python -m benchmarks.compile [--quick] [--groups samplers_mlp,samplers_unet,fixedpoint,train]

Each entry is called once with the persistent compilation cache switched off, and the time JAX
spends making its executables is read from ``jax.monitoring``'s duration events: tracing to a
jaxpr, lowering to StableHLO, and the XLA backend compile (reported apart, since the backend is
what a faster machine or a different XLA flag changes). ``first_call_seconds`` is the wall time of
that first call, ``steady_seconds`` the wall time of a second call (so the first call's remainder is
compile + dispatch). Entries are compiled in one process in a fixed order; an entry that shares a
sub-computation with an earlier one (e.g. the same denoiser) may reuse JAX's in-memory trace
caches, as it would in a user's session.

Groups:
  samplers_mlp   every sampler in ``genjax.samplers`` on a 3x256 MLP denoiser, 2-D data, batch 512,
                 32 steps of the VP Karras grid (target <= 1 s each).
  samplers_unet  the same samplers on the digits SongUNet of ``experiments/configs/digits_edm.py``
                 (8x8x1, batch 64, 18 steps).
  fixedpoint     each ``genjax.fixedpoint`` method on a GRU, n = 16, T = 1000 (target <= 1 s each).
  train          the jitted train step (data pipeline fused, as the trainer runs it) of one config per
                 family, at the config's ``:runlocal`` sizes except the digits diffusion configs, which
                 use their full network (target <= 10 s for the digits U-Net).

Targets are the issue's; the JSON records each number and whether it meets its target.
"""
from __future__ import annotations

import argparse
import collections
import importlib
import json
import sys
import tempfile
import time

import jax

jax.config.update("jax_enable_compilation_cache", False)
import jax.numpy as jnp  # noqa: E402

from genjax.timing import machine  # noqa: E402

_EVENTS = {"/jax/core/compile/jaxpr_trace_duration": "trace",
           "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
           "/jax/core/compile/backend_compile_duration": "backend"}
_totals: collections.Counter = collections.Counter()


def _listener(event: str, duration: float, **kwargs) -> None:
    if event in _EVENTS:
        _totals[_EVENTS[event]] += duration


jax.monitoring.register_event_duration_secs_listener(_listener)


def measure(name: str, fn, target: float | None = None) -> dict:
    """Compile-time figures of the first call of ``fn()`` (which must return arrays)."""
    _totals.clear()
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    parts = dict(_totals)
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    steady = time.perf_counter() - t0
    compile_s = sum(parts.values())
    row = {"entry": name, "compile_seconds": round(compile_s, 3),
           "trace_seconds": round(parts.get("trace", 0.0), 3), "lower_seconds": round(parts.get("lower", 0.0), 3),
           "backend_seconds": round(parts.get("backend", 0.0), 3), "first_call_seconds": round(first, 3),
           "steady_seconds": round(steady, 4)}
    if target is not None:
        row["target_seconds"], row["meets_target"] = target, compile_s <= target
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def _solvers(quick: bool):
    from genjax import samplers
    table = {"euler": samplers.euler(), "heun": samplers.heun(), "rk4": samplers.rk4(), "ddim": samplers.ddim(0.0),
             "dpm_solver_pp_2m": samplers.dpm_solver_pp(), "euler_maruyama": samplers.euler_maruyama(),
             "ancestral": samplers.ancestral(), "predictor_corrector": samplers.predictor_corrector(),
             "edm_stochastic": samplers.edm_stochastic(s_churn=40.0)}
    return {k: table[k] for k in (("heun", "dpm_solver_pp_2m") if quick else table)}


def _sampler_rows(prefix: str, denoiser, s, ts, x_init, quick: bool, target):
    from genjax import samplers
    key = jax.random.key(1)
    rows = [measure(f"{prefix}/{name}", lambda solver=solver: samplers.sample(denoiser, s, solver, ts, x_init, key)[0],
                    target) for name, solver in _solvers(quick).items()]
    if not quick:
        rows.append(measure(f"{prefix}/adaptive_dopri5",
                            lambda: samplers.sample_adaptive(denoiser, s, x_init, rtol=1e-3, atol=1e-3)[0], target))
    return rows


def samplers_mlp(quick: bool) -> list:
    from benchmarks.samplers import apply_mlp, init_mlp
    from genjax import schedules
    s = schedules.vp_linear()
    params = init_mlp(jax.random.key(0))
    denoiser = jax.tree_util.Partial(apply_mlp, params)
    ts = schedules.time_grid(s, 32, "karras")
    x_init = s.prior_sample((512, 2), jax.random.key(2))
    return _sampler_rows("sampler_mlp", denoiser, s, ts, x_init, quick, target=1.0)


def samplers_unet(quick: bool) -> list:
    from experiments.configs import digits_edm
    from genjax import nets, schedules
    c = digits_edm.get_config(None)
    net = nets.get(c.model.net, **c.model.net_kwargs.to_dict())
    s = schedules.get(c.schedule.name, **{k: v for k, v in c.schedule.kwargs.to_dict().items() if v is not None})
    x = jnp.zeros((64, 8, 8, 1))
    params = nets.init_params(net, x, jax.random.key(0))
    denoiser = nets.denoiser_from(nets.apply_fn(net), params, s, c.model.predicts)
    ts = schedules.time_grid(s, 18, "karras", to_zero=True)
    x_init = s.prior_sample(x.shape, jax.random.key(2))
    return _sampler_rows("sampler_digits_unet", denoiser, s, ts, x_init, quick, target=None)


def fixedpoint_rows(quick: bool) -> list:
    from genjax import fixedpoint
    n, t_len = 16, 1000
    cell = fixedpoint.cells.gru
    params = cell.init(n, n, jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (t_len, n))
    h0 = jnp.zeros((n,))
    methods = {"sequential": fixedpoint.sequential(), "newton": fixedpoint.newton(),
               "quasi_newton": fixedpoint.quasi_newton(), "damped_elk": fixedpoint.damped(1e-8),
               "picard": fixedpoint.picard(), "jacobi": fixedpoint.jacobi()}
    if quick:
        methods = {k: methods[k] for k in ("sequential", "newton")}
    return [measure(f"fixedpoint/{name}/gru_n{n}_T{t_len}",
                    lambda m=m: fixedpoint.solve(cell.step, h0, xs, params, method=m)[0], 1.0)
            for name, m in methods.items()]


TRAIN_CONFIGS = ("toy2d_flow_matching", "toy2d_edm", "digits_edm", "digits_ddpm", "toy2d_realnvp", "toy2d_glow",
                 "toy2d_cnf", "digits_vae", "digits_made", "toy2d_wgan_gp", "toy2d_monoflow", "toy2d_ebm",
                 "toy2d_pfgm")


def train_rows(quick: bool) -> list:
    from experiments import train
    from experiments.tasks import inputs
    from experiments import tasks
    from genjax.train import sharding
    rows = []
    names = ("toy2d_flow_matching", "digits_edm") if quick else TRAIN_CONFIGS
    for name in names:
        mod = importlib.import_module(f"experiments.configs.{name}")
        config = mod.get_config(None if name.startswith("digits_") and name[7:] in ("edm", "ddpm") else "runlocal")
        if name.startswith("digits_") and name[7:] in ("edm", "ddpm"):
            config.training.batch_size = 128
        with tempfile.TemporaryDirectory() as wd:
            mesh = sharding.data_mesh()
            keys = train.run_keys(int(config.seed))
            data = inputs.build(config, mesh, keys["data"])
            task = tasks.build(config, data, wd)
            state = sharding.init_sharded(task.init, mesh, keys["init"])
            step = train.compiled_step(task, data, mesh)
            feeds = data.feeds(0) if data.feeds is not None else None
            feed = sharding.host_to_global(next(feeds), mesh) if feeds is not None else None
            box = {"state": state}

            def one(step=step, box=box, feed=feed, keys=keys):
                box["state"], m = step(box["state"], feed, keys["data"], keys["train"])
                return m

            target = 10.0 if name == "digits_edm" else None
            rows.append(measure(f"train_step/{name}", one, target))
    return rows


GROUPS = {"samplers_mlp": samplers_mlp, "samplers_unet": samplers_unet, "fixedpoint": fixedpoint_rows,
          "train": train_rows}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--groups", default=",".join(GROUPS))
    p.add_argument("--quick", action="store_true", help="two entries per group")
    args = p.parse_args(argv)
    rows = []
    for g in args.groups.split(","):
        if g not in GROUPS:
            raise SystemExit(f"unknown group {g!r}; choose from {sorted(GROUPS)}")
        rows += GROUPS[g](args.quick)
    out = {"benchmark": "compile", "rows": rows, "quick": args.quick,
           "machine": machine()}
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    import logging
    logging.getLogger("absl").setLevel(logging.WARNING)
    main()
