"""Training a GRU classifier with DEER gradients gives the sequential loss curve (Lim et al. 2024).

    python -m experiments.papers.deer.training --workdir runs/deer_training [--quick]

Synthetic long-memory task: x_t = 0.5 * noise_t for t = 1..T, plus the class sign s = +-1 on the
first 4 steps; the label s must be read from the GRU state h_T after T steps of distractors.
Model: GRU (n = 16, update-gate bias initialised to -4 so that memory survives T steps, the
"chrono" initialisation) + linear read-out of h_T, softmax cross-entropy, Adam with gradient
clipping (optax). Two runs
from the same initialisation and the same batches:

  * DEER: ``fixedpoint.solve(..., newton())`` forward, implicit-differentiation backward
    (one reverse linear scan);
  * sequential: ``lax.scan`` forward, backprop through the scan.

Both compute the same function and the same gradient, so the loss curves must coincide up to
float32 rounding (the solver's tol 1e-5 and summation order); training itself can amplify such
differences when the loss spikes, which the plotted gap shows. Outputs under --workdir: deer_training.png, deer_training.csv (step,
loss_deer, loss_sequential, deer_sweeps) and deer_training.json (accuracies, max loss gap,
timings).

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR), section 4.3 (training GRUs with DEER gives the same results as sequential);
Tallec & Ollivier 2018, "Can Recurrent Neural Networks Warp Time?" (chrono initialisation).
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
import optax

from genjax import fixedpoint
from genjax.fixedpoint import cells

CUE_STEPS = 4


def batch(key, size: int, T: int):
    """(xs [B, T, 1], labels [B]) of the sign-memory task."""
    k_s, k_n = jax.random.split(key)
    labels = jax.random.bernoulli(k_s, 0.5, (size,)).astype(jnp.int32)
    sign = 2.0 * labels - 1.0
    xs = 0.5 * jax.random.normal(k_n, (size, T, 1))
    xs = xs.at[:, :CUE_STEPS, 0].add(sign[:, None])
    return xs, labels


def init(n: int, gate_bias: float, key):
    """GRU + read-out; the update-gate bias starts at -gate_bias so that z ~ sigmoid(-gate_bias)
    and the state is retained over ~exp(gate_bias) steps (chrono initialisation)."""
    k_c, k_o = jax.random.split(key)
    gru = cells.gru.init(1, n, k_c)
    gru["bz"] = gru["bz"] - gate_bias
    return {"gru": gru,
            "out": {"W": jax.random.normal(k_o, (2, n)) / jnp.sqrt(n), "b": jnp.zeros(2)}}


def make_loss(method):
    def logits_of(params, xs):
        n = params["out"]["W"].shape[1]

        def final_state(x):
            hs, info = fixedpoint.solve(cells.gru.step, jnp.zeros(n), x, params["gru"], method)
            return hs[-1], info.num_iters

        h_T, sweeps = jax.vmap(final_state)(xs)
        return h_T @ params["out"]["W"].T + params["out"]["b"], sweeps

    def loss(params, xs, labels):
        logits, sweeps = logits_of(params, xs)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        acc = jnp.mean(jnp.argmax(logits, -1) == labels)
        return ce, (acc, jnp.mean(sweeps))

    return loss


def train(method, params, args, data_key):
    tx = optax.chain(optax.clip_by_global_norm(args.clip), optax.adam(args.lr))
    loss = make_loss(method)

    @jax.jit
    def step(params, opt_state, k):
        xs, labels = batch(jax.random.fold_in(data_key, k), args.batch, args.T)
        (value, (acc, sweeps)), grads = jax.value_and_grad(loss, has_aux=True)(params, xs, labels)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value, sweeps

    opt_state = tx.init(params)
    losses, sweeps = [], []
    start = time.time()
    for k in range(args.steps):
        params, opt_state, value, s = step(params, opt_state, k)
        losses.append(float(value))
        sweeps.append(float(s))
        if k % max(1, args.steps // 10) == 0:
            print(f"  {method.name:10s} step {k:4d} loss {losses[-1]:.4f} sweeps {sweeps[-1]:.1f}"
                  f"  [{time.time() - start:.0f}s]", flush=True)
    xs, labels = batch(jax.random.fold_in(data_key, 10**6), 512, args.T)
    _, (acc, _) = jax.jit(loss)(params, xs, labels)
    return params, losses, sweeps, float(acc), time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--quick", action="store_true", help="T = 32, 20 steps")
    parser.add_argument("--T", type=int, default=256)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=0.5, help="global gradient-norm clip")
    parser.add_argument("--gate_bias", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.T, args.steps, args.batch = 32, 20, 8
    os.makedirs(args.workdir, exist_ok=True)
    k_init, k_data = jax.random.split(jax.random.key(args.seed))
    params0 = init(args.n, args.gate_bias, k_init)
    results = {}
    for name, method in (("deer", fixedpoint.newton()), ("sequential", fixedpoint.sequential())):
        print(f"training with {name} gradients", flush=True)
        results[name] = train(method, params0, args, k_data)

    _, loss_d, sweeps_d, acc_d, sec_d = results["deer"]
    _, loss_s, _, acc_s, sec_s = results["sequential"]
    gap = np.abs(np.array(loss_d) - np.array(loss_s))
    with open(os.path.join(args.workdir, "deer_training.csv"), "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["step", "loss_deer", "loss_sequential", "deer_sweeps"])
        writer.writerows(zip(range(args.steps), loss_d, loss_s, sweeps_d))
    summary = {"settings": vars(args), "test_accuracy_deer": acc_d,
               "test_accuracy_sequential": acc_s, "max_abs_loss_gap": float(gap.max()),
               "final_loss_deer": loss_d[-1], "final_loss_sequential": loss_s[-1],
               "mean_deer_sweeps": float(np.mean(sweeps_d)), "seconds_deer": sec_d,
               "seconds_sequential": sec_s, "backend": jax.default_backend(),
               "jax": jax.__version__}
    with open(os.path.join(args.workdir, "deer_training.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    print(json.dumps({k: v for k, v in summary.items() if k != "settings"}, indent=1))
    plot(loss_d, loss_s, gap, sweeps_d, args, os.path.join(args.workdir, "deer_training.png"))
    print(f"wrote {args.workdir}/deer_training.{{png,csv,json}}")


def plot(loss_d, loss_s, gap, sweeps, args, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(len(loss_d))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].plot(steps, loss_s, lw=2.5, alpha=0.5, label="sequential (lax.scan + backprop)")
    axes[0].plot(steps, loss_d, lw=1.0, ls="--", label="DEER (Newton + implicit grad)")
    axes[0].set(xlabel="Adam step", ylabel="cross-entropy",
                title=f"GRU n={args.n}, sign memory over T={args.T}")
    axes[0].legend(fontsize=8)
    axes[1].semilogy(steps, np.maximum(gap, 1e-9))
    axes[1].set(xlabel="Adam step", ylabel="|loss_DEER - loss_seq|", title="loss gap")
    axes[2].plot(steps, sweeps)
    axes[2].set(xlabel="Adam step", ylabel="mean Newton sweeps", title="DEER sweeps per solve")
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)


if __name__ == "__main__":
    main()
