"""The bundled 2-D toy sets, 3000 samples each (the laws of the FFJORD / WGAN-GP generators).

    python -m experiments.papers.data.toy2d --workdir runs/data_toy2d [--quick]

Draws ``genjax.data.toy2d.sample(name, n, key)`` for every name in ``toy2d.NAMES`` and writes
``data_toy2d.png`` (one scatter panel per set, axes [-4.5, 4.5]^2) and ``data_toy2d.csv`` (per set:
the sample mean and standard deviation of each coordinate and the largest |x_i|, so a change of a
set's scale shows up in the CSV as well as in the picture).

References: Grathwohl et al. 2019, "FFJORD" (the 2-D sets); Gulrajani et al. 2017, "Improved
Training of Wasserstein GANs" (8 / 25 Gaussians).
"""
from __future__ import annotations

import argparse
import csv
import os

import jax
import numpy as np

from genjax import plotting
from genjax.data import toy2d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--quick", action="store_true", help="500 samples per set")
    ap.add_argument("--num", type=int, default=None, help="samples per set (default 3000; quick 500)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    num = args.num or (500 if args.quick else 3000)
    if num < 2:
        raise ValueError(f"--num must be >= 2, got {num}")
    os.makedirs(args.workdir, exist_ok=True)
    samples = {name: np.asarray(toy2d.sample(name, num, jax.random.fold_in(jax.random.key(args.seed), i)))
               for i, name in enumerate(toy2d.NAMES)}
    rows = [{"name": name, "num": num, "mean_x": x[:, 0].mean(), "mean_y": x[:, 1].mean(),
             "std_x": x[:, 0].std(), "std_y": x[:, 1].std(), "max_abs": np.abs(x).max()}
            for name, x in samples.items()]
    with open(os.path.join(args.workdir, "data_toy2d.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({k: (f"{v:.4f}" if isinstance(v, (float, np.floating)) else v) for k, v in r.items()}
                    for r in rows)
    png = os.path.join(args.workdir, "data_toy2d.png")
    plotting.scatter(samples, png, ncols=4, lim=4.5, size=2.4, dpi=100)
    print("wrote", png)


if __name__ == "__main__":
    main()
