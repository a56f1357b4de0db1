r"""Analytic-DPM Table 1 on the digits: digits FD at 10 / 25 / 50 steps for DDPM (both standard
variances), DDIM, Analytic-DDPM and Analytic-DDIM on one trained VP eps-prediction model.

The trained ``digits_ddpm`` network (VP-linear, eps prediction; shared with the other digits figures)
is sampled on K-step grids uniform in t from 1 to 1e-3 (DDPM's "even trajectory"), followed by
Tweedie's denoising at the last time, with the reverse variance of each step t -> s set to

    DDPM, beta-tilde   sigma_s^2 (1 - e^{-2h})             (posterior variance; "small")
    DDPM, beta         1 - alpha_t^2 / alpha_s^2            (forward variance of the skip; "large")
    DDIM               0 (eta = 0)
    Analytic-DDPM      v*_n of Bao et al. Theorem 1, eta = 1 (``genjax.analytic_dpm``)
    Analytic-DDIM      v*_n with eta = 0

Gamma_n = E ||eps_hat(x_n)||^2 / d is estimated on the 1438 training digits (one noise draw each),
clipped as in Theorem 2 for data in [-1, 1], with the last step's std capped at two pixel levels
(2 (2/17) sqrt(pi/2)). All runs share the prior draws and the noise key.

Writes ``analytic_dpm_digits_table.png`` (FD vs K, one curve per method) and
``analytic_dpm_digits_table.csv`` (method, steps, nfe, fd, seconds).

    python -m experiments.papers.analytic_dpm.digits_table [--quick] [--num_samples 500]

References: Bao et al. 2022, "Analytic-DPM: an Analytic Estimate of the Optimal Reverse Variance in
Diffusion Probabilistic Models" (Table 1, Theorems 1-2); Ho et al. 2020 (DDPM variances); Song et al.
2021 (DDIM).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from experiments.papers.digits import common
from genjax import analytic_dpm, samplers, schedules
from genjax.data import digits
from genjax.metrics import digits as digits_metric

STEPS = (10, 25, 50)
METHODS = ("DDPM, beta-tilde", "DDPM, beta", "DDIM", "Analytic-DDPM", "Analytic-DDIM")
MAX_LAST_STD = 2.0 * (2.0 / 17.0) * math.sqrt(math.pi / 2.0)


def beta_variances(s, ts):
    """DDPM's "large" variances 1 - alpha_t^2 / alpha_s^2 of the steps ts[i] -> ts[i+1]."""
    t, u = jnp.asarray(ts[:-1]), jnp.asarray(ts[1:])
    return -jnp.expm1(2.0 * (s.log_alpha(t) - s.log_alpha(u)))


def solver_for(method, den, s, ts, x_train, key):
    if method == "DDPM, beta-tilde":
        return samplers.ancestral()
    if method == "DDPM, beta":
        return samplers.ancestral(variances=np.asarray(beta_variances(s, ts)))
    if method == "DDIM":
        return samplers.ddim()
    eta = 1.0 if method == "Analytic-DDPM" else 0.0
    var = analytic_dpm.analytic_variances(den, s, ts, x_train, key, eta=eta, data_range=(-1.0, 1.0),
                                          max_last_std=MAX_LAST_STD)
    var = np.asarray(var)
    return samplers.ancestral(variances=var) if eta == 1.0 else samplers.ddim(0.0, variances=var)


def run(m, args, log=print):
    s = m.schedule
    den = m.denoiser()
    x_train = jnp.asarray(digits_metric.to_model_space(digits.load("train")[0]))
    x0 = np.asarray(s.prior_sample((args.num_samples,) + common.SHAPE, jax.random.key(args.seed)))
    key = jax.random.key(args.seed + 1)
    rows = []
    for k in ((10,) if args.quick else STEPS):
        ts = schedules.time_grid(s, k)
        for method in METHODS:
            solver = solver_for(method, den, s, ts, x_train, jax.random.key(args.seed + 2))
            x, nfe, sec = common.draw(den, s, solver, ts, x0, key, denoise_final=True)
            rows.append(dict(method=method, steps=k, nfe=nfe, fd=common.fd(x), seconds=round(sec, 2)))
            log(f"K {k:3d} {method:18s} fd {rows[-1]['fd']:8.3f}")
    return rows


def plot(rows, fd_floor, path):
    plt = common.pyplot()

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for method, st in zip(METHODS, ("o-", "o--", "s-", "^-", "D-")):
        r = [x for x in rows if x["method"] == method]
        ax.plot([x["steps"] for x in r], [x["fd"] for x in r], st, label=method)
    ax.axhline(fd_floor, color="k", lw=0.8, ls=":", label=f"floor: real digits, same n ({fd_floor:.2f})")
    common.decorate(ax, "sampling steps K", xlog=10)
    ax.set_xticks(sorted({x["steps"] for x in rows}), [str(k) for k in sorted({x["steps"] for x in rows})])
    ax.set_title("Reverse variances on the digits (Analytic-DPM Table 1 analogue)")
    common.save(fig, path)


def main(argv=None):
    args = common.start(__doc__, argv, num_samples=500, quick_samples=128)
    rows = run(common.model("ddpm", args), args)
    common.finish(args, "analytic_dpm_digits_table", rows, lambda png, fl: plot(rows, fl, png))


if __name__ == "__main__":
    main()
