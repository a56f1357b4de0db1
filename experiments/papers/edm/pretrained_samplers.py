"""Sample an imported EDM network with every genjax sampler (for users who have the weights; not run in CI).

    # on a machine with torch: EDM's .pkl -> .npz (prints the network's hyper-parameters)
    python experiments/tools/export_edm_weights.py --pkl edm-cifar10-32x32-uncond-vp.pkl --edm edm/ --out edm-cifar10.npz
    # here (no torch): one image grid and timing per sampler
    python -m experiments.papers.edm.pretrained_samplers --weights edm-cifar10.npz --net SongUNet \
        --kwargs '{"img_resolution": 32, "in_channels": 3, "out_channels": 3, "augment_dim": 9,
                   "model_channels": 128, "channel_mult": [2, 2, 2], "num_blocks": 4, "attn_resolutions": [16]}' \
        --workdir runs/edm_pretrained [--steps 18] [--num 64] [--label 3]

The network is wrapped in EDM's preconditioning for the EDM schedule (sigma in [0.002, 80],
sigma_data 0.5; ``genjax.nets.denoise`` with predicts="edm", c_noise = ln(sigma) / 4), which is
how EDM trained its ``edm-*.pkl`` networks (the ``baseline-*`` VP / VE networks use other
preconditionings and are not handled here). For every sampler in ``genjax.samplers`` the script
draws ``--num`` images on the Karras grid (rho 7, ending at sigma = 0) from the same prior draws
and writes <workdir>/<sampler>.png and pretrained_samplers.csv (sampler, steps, seconds, mean,
std of the images). With EDM's CIFAR-10 network, Heun with 18 steps reproduces EDM's samples
(FID 1.97 over 50k images with ``genjax.metrics`` FID).

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Table 1 preconditioning, Algorithms 1-2, the published checkpoints).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments.tasks import _outputs
from genjax import nets, samplers, schedules
from experiments.papers.outputs import write_csv

NOT_SOLVERS = ("sample", "sample_adaptive", "check_schedule_grid", "Sampler", "SampleInfo")
ADAPTERS = {"SongUNet": nets.SongUNetAdapter, "DhariwalUNet": nets.DhariwalUNetAdapter}


def build(net_name: str, kwargs: dict, weights: str):
    """(apply, variables) of an imported network in the project's calling convention."""
    if net_name not in ADAPTERS:
        raise ValueError(f"--net must be one of {sorted(ADAPTERS)}, got {net_name!r}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    net = ADAPTERS[net_name](**kwargs)
    variables = nets.from_torch_state_dict(net, nets.load_arrays(weights))

    def apply(variables, x, t, label=None, train=False, key=None):
        del key
        return net.apply(variables, x, t, label, train)  # variables carry "params" and "buffers"

    return net, apply, variables


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True, help=".npz or .safetensors from export_edm_weights.py")
    p.add_argument("--net", default="SongUNet", help="SongUNet or DhariwalUNet")
    p.add_argument("--kwargs", required=True, help="the network's hyper-parameters as JSON (printed by the export)")
    p.add_argument("--workdir", required=True)
    p.add_argument("--steps", type=int, default=18)
    p.add_argument("--num", type=int, default=64)
    p.add_argument("--label", type=int, default=None, help="class label for a conditional network")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    net, apply, variables = build(a.net, json.loads(a.kwargs), a.weights)
    s = schedules.edm(sigma_min=0.002, sigma_max=80.0, sigma_data=0.5)
    ts = schedules.time_grid(s, a.steps, "karras", 7.0, to_zero=True)
    label = None if a.label is None else jnp.full((a.num,), a.label, jnp.int32)
    denoiser = nets.denoiser_from(apply, variables, s, "edm", label)
    shape = (a.num, net.img_resolution, net.img_resolution, net.in_channels)
    x_init = s.prior_sample(shape, jax.random.key(a.seed))
    rows = []
    for name in [n for n in samplers.__all__ if n not in NOT_SOLVERS]:
        run = jax.jit(lambda d, x, k, solver=getattr(samplers, name)(): samplers.sample(d, s, solver, ts, x, k)[0])
        try:
            x = run(denoiser, x_init, jax.random.key(a.seed + 1)).block_until_ready()  # compile + run
            t0 = time.time()
            x = np.asarray(run(denoiser, x_init, jax.random.key(a.seed + 1)).block_until_ready())
            secs = time.time() - t0
        except ValueError as e:  # a sampler that rejects this grid says why
            print(f"{name}: skipped ({e})")
            continue
        _outputs.save_figure(np.clip(x, -1, 1), os.path.join(a.workdir, f"{name}.png"), title=f"{name}, {a.steps} steps")
        rows.append(dict(sampler=name, steps=a.steps, seconds=round(secs, 3), mean=float(x.mean()), std=float(x.std())))
        print(rows[-1])
    write_csv(os.path.join(a.workdir, "pretrained_samplers.csv"), rows, list(rows[0]) if rows else ["sampler"])


if __name__ == "__main__":
    main()
