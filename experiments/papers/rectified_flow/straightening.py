"""Rectified flow straightens paths: the 2-D picture and few-step sample quality (Liu et al. 2023).

    python -m experiments.papers.rectified_flow.straightening --workdir runs/rf_straightening [--quick]

Two Gaussian mixtures in 2-D, transported by rectified flows:

  (a) the independent coupling's linear interpolation paths cross;
  (b) the 1-rectified flow (flow matching on that coupling) has non-crossing but curved paths;
  (c) the 2-rectified flow (ReFlow: retrained on the pairs (z, ODE_1(z))) is nearly straight;
  (d) sample quality against the number of Euler steps (1, 2, 4, ..., 64) for both flows, plus
      the one-step distillation of the 2-rectified flow, with the straightness S of each flow.

Time convention (DESIGN.md): data at t = 0, source at t = 1, x_t = (1 - t) x0 + t z, sampling from
t = 1 down to 0. The paper's pi_0 -> pi_1 is our (source at t = 1) -> (data at t = 0), so the
source mixture plays the role of "noise": batches are {"x": data, "z": independent source
samples} for the 1-rectified flow and {"x": ODE endpoint, "z": its start} for ReFlow.

Outputs under --workdir: rectified_flow_straightening.png, rectified_flow_straightening.csv (model, euler_steps, nfe,
energy_distance, mmd2, straightness) and rectified_flow_straightening.json (the same plus settings and timings).

References: Liu, Gong & Liu 2023, "Flow Straight and Fast: Learning to Generate and Transfer Data
with Rectified Flow" (Figures 1-2 and 4; Definition 3.6 of straightness; Sec. 2.3 distillation).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from genjax import losses, metrics, nets, reflow, samplers, schedules, train
from genjax.data import GaussianMixture

S = schedules.rectified()
STEPS = (1, 2, 4, 8, 16, 32, 64)


def mixtures():
    """(data at t = 0, source at t = 1): two-component mixtures on either side of the origin."""
    data = GaussianMixture(np.array([[4.0, 3.0], [4.0, -3.0]], np.float32), np.array([0.5, 0.5], np.float32),
                           np.array([0.5, 0.5], np.float32))
    source = GaussianMixture(np.array([[-4.0, 3.0], [-4.0, -3.0]], np.float32), np.array([0.5, 0.5], np.float32),
                             np.array([0.5, 0.5], np.float32))
    return data, source


def fit(loss_fn, params, batch_fn, steps, lr, key, label, log_every=1000):
    """Adam + EMA on batches batch_fn(step, data_key); returns the EMA parameters."""
    tx = train.optimizer(lr, warmup_steps=min(200, steps // 10), grad_clip=1.0)
    step = train.with_batches(train.train_step(loss_fn, tx, train.ema_rate(0.999)), batch_fn)
    state = train.init_state(params, tx)
    data_key, step_key = jax.random.split(key)

    @jax.jit
    def chunk(state):
        def body(state, _):
            state, m = step(state, data_key, step_key)
            return state, m["loss"]
        return jax.lax.scan(body, state, None, length=log_every)

    done, t0 = 0, time.time()
    while done < steps:
        state, loss = chunk(state)
        done += log_every
        print(f"  [{label}] step {done:6d}  loss {float(jnp.mean(loss)):.4f}  ({time.time() - t0:.1f}s)", flush=True)
    return state.ema_params


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--quick", action="store_true", help="tiny run (seconds) for smoke tests")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    quick = args.quick
    train_steps = 60 if quick else 6000
    reflow_steps = 60 if quick else 6000
    distill_steps = 60 if quick else 3000
    num_pairs = 500 if quick else 20000
    num_eval = 300 if quick else 4000
    batch = 256 if quick else 1024
    log_every = 250 if quick else 1000
    width = 64 if quick else 128
    key = jax.random.key(args.seed)
    k_init, k_rf1, k_pairs, k_rf2, k_dist, k_eval = jax.random.split(key, 6)
    data, source = mixtures()
    t_start = time.time()

    net = nets.MLP(features=(width,) * 3, embed_dim=64, time_embedding="fourier", fourier_scale=4.0)
    apply = nets.apply_fn(net)
    params0 = nets.init_params(net, jnp.zeros((2, 2)), k_init)

    # 1-rectified flow on the independent coupling.
    def independent(step, k):
        k = jax.random.fold_in(k, step)
        k1, k2 = jax.random.split(k)
        return {"x": data.sample(batch, k1), "z": source.sample(batch, k2)}

    print("1-rectified flow (independent coupling)", flush=True)
    rf1 = fit(losses.flow_matching(apply, S), params0, independent, train_steps, 2e-3, k_rf1, "1-RF", log_every)

    # ReFlow: couplings (z, ODE_1(z)) with RK4, then the 2-rectified flow initialised from the 1-RF.
    fine = schedules.time_grid(S, 100)
    z_pairs = source.sample(num_pairs, k_pairs)
    pairs = reflow.couplings(nets.denoiser_from(apply, rf1, S, "velocity"), S, samplers.rk4(), fine, z_pairs)
    pairs = jax.device_get(pairs)

    def coupled(step, k):
        idx = jax.random.randint(jax.random.fold_in(k, step), (batch,), 0, num_pairs)
        return {"x": jnp.asarray(pairs["x"])[idx], "z": jnp.asarray(pairs["z"])[idx]}

    print("2-rectified flow (ReFlow on the 1-RF couplings)", flush=True)
    rf2 = fit(losses.reflow(apply, S), rf1, coupled, reflow_steps, 1e-3, k_rf2, "2-RF", log_every)
    print("one-step distillation of the 2-RF (on the same couplings)", flush=True)
    dist = fit(losses.distill(apply, S, num_steps=1), rf2, coupled, distill_steps, 5e-4, k_dist, "distill", log_every)

    # Evaluation: Euler with N steps from fresh source samples; straightness with RK4 on 100 steps.
    k_z, k_ref, k_ref2, k_int = jax.random.split(k_eval, 4)
    z = source.sample(num_eval, k_z)
    ref = data.sample(num_eval, k_ref)
    rows = []
    floor = {"energy_distance": float(metrics.energy_distance(data.sample(num_eval, k_ref2), ref)),
             "mmd2": float(metrics.mmd2(data.sample(num_eval, k_ref2), ref, bandwidth=1.0))}
    rows.append(dict(model="data_vs_data", euler_steps=0, nfe=0, straightness=0.0, **floor))
    paths, one_step = {}, {}
    for name, params in (("1-RF", rf1), ("2-RF", rf2), ("2-RF+distill", dist)):
        d = nets.denoiser_from(apply, params, S, "velocity")
        if name == "2-RF+distill":  # trained at t = t_max only: its ODE paths mean nothing, S = n/a
            s_val, steps = None, (1,)
        else:
            st = reflow.straightness(d, S, samplers.rk4(), fine, z)
            paths[name], s_val, steps = np.asarray(st.trajectory[:, :60]), float(st.value), STEPS
            print(f"  {name}: straightness S = {s_val:.3g}", flush=True)
        for n in steps:
            x, info = samplers.sample(d, S, samplers.euler(), schedules.time_grid(S, n), z)
            if n == 1:
                one_step[name] = np.asarray(x)
            rows.append(dict(model=name, euler_steps=n, nfe=int(info.nfe),
                             energy_distance=float(metrics.energy_distance(x, ref)),
                             mmd2=float(metrics.mmd2(x, ref, bandwidth=1.0)), straightness=s_val))
    seconds = time.time() - t_start

    fields = ["model", "euler_steps", "nfe", "energy_distance", "mmd2", "straightness"]
    with open(os.path.join(args.workdir, "rectified_flow_straightening.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    with open(os.path.join(args.workdir, "rectified_flow_straightening.json"), "w") as f:
        json.dump({"rows": rows, "quick": quick, "train_steps": [train_steps, reflow_steps, distill_steps],
                   "num_pairs": num_pairs,
                   "num_eval": num_eval, "seconds": seconds, "jax": jax.__version__,
                   "device": str(jax.devices()[0])}, f, indent=1)

    pairs_lin = (np.asarray(data.sample(60, k_int)), np.asarray(z[:60]))
    plot(os.path.join(args.workdir, "rectified_flow_straightening.png"), data, source, pairs_lin, paths, one_step, rows,
         num_eval)
    for r in rows:
        s_txt = "n/a" if r["straightness"] is None else f"{r['straightness']:.3g}"
        print(f"{r['model']:>13s} steps {r['euler_steps']:3d}  energy {r['energy_distance']:.4f}  "
              f"mmd2 {r['mmd2']:.5f}  S {s_txt}")
    print(f"wrote {args.workdir}/rectified_flow_straightening.{{png,csv,json}} in {seconds:.0f}s")


def plot(path, data, source, pairs_lin, paths, one_step, rows, n):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = np.asarray(data.sample(n, jax.random.key(99)))
    src = np.asarray(source.sample(n, jax.random.key(98)))
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.2))

    def backdrop(ax, title):
        ax.scatter(src[:800, 0], src[:800, 1], s=2, c="tab:blue", alpha=0.3, label="source (t = 1)")
        ax.scatter(ref[:800, 0], ref[:800, 1], s=2, c="tab:orange", alpha=0.3, label="data (t = 0)")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(-7, 7)
        ax.set_ylim(-6, 6)
        ax.set_aspect("equal")

    x0, z = pairs_lin
    ax = axes[0, 0]
    backdrop(ax, "(a) linear interpolation, independent coupling")
    for a, b in zip(x0, z):
        ax.plot([b[0], a[0]], [b[1], a[1]], c="k", lw=0.5, alpha=0.6)
    ax.legend(loc="lower center", fontsize=7, markerscale=4)
    for ax, name, tag in ((axes[0, 1], "1-RF", "(b)"), (axes[0, 2], "2-RF", "(c)")):
        s_val = next(r["straightness"] for r in rows if r["model"] == name)
        backdrop(ax, f"{tag} {name} ODE paths (S = {s_val:.1e})")
        traj = paths[name]
        for i in range(traj.shape[1]):
            ax.plot(traj[:, i, 0], traj[:, i, 1], c="k", lw=0.5, alpha=0.6)
    for ax, name, tag in ((axes[1, 0], "1-RF", "(d)"), (axes[1, 1], "2-RF", "(e)")):
        ax.scatter(ref[:1500, 0], ref[:1500, 1], s=2, c="tab:orange", alpha=0.3)
        x = one_step[name]
        ax.scatter(x[:1500, 0], x[:1500, 1], s=2, c="k", alpha=0.5)
        ax.set_title(f"{tag} {name}: samples with ONE Euler step", fontsize=10)
        ax.set_xlim(-7, 7)
        ax.set_ylim(-6, 6)
        ax.set_aspect("equal")
    ax = axes[1, 2]
    for name, marker in (("1-RF", "o-"), ("2-RF", "s-")):
        rs = [r for r in rows if r["model"] == name]
        ax.plot([r["euler_steps"] for r in rs], [max(r["energy_distance"], 1e-5) for r in rs], marker,
                label=f"{name} (S = {rs[0]['straightness']:.1e})")
    dr = [r for r in rows if r["model"] == "2-RF+distill"][0]
    ax.plot([1], [max(dr["energy_distance"], 1e-5)], "*", ms=12, label="2-RF + 1-step distillation")
    floor = rows[0]["energy_distance"]
    ax.axhline(max(floor, 1e-5), c="gray", ls="--", lw=1, label="data vs data (sampling noise)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("Euler steps (NFE)")
    ax.set_ylabel("energy distance to the data")
    ax.set_title("(f) sample quality vs Euler steps", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main()
