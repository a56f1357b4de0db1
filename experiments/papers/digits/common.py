"""What the digits figure scripts share: loading a trained model's denoiser, timed sampling with its
NFE, the digits Frechet distance, the floor, CSV / JSON output and the compile cache.

    args = common.parser(__doc__).parse_args()          # --root --workdir --quick --num_samples --seed
    m = common.model("edm", args)                        # trained (or restored) once, shared by every figure
    x, nfe, sec = common.draw(m.denoiser(s), s, samplers.heun(), ts, x_init)
    common.fd(x), common.floor(len(x))                   # digits FD against the test split, and its floor

References: Karras et al. 2022 (the NFE accounting of Fig. 2); Heusel et al. 2017 (FID's recipe).
"""
from __future__ import annotations

import argparse
import functools
import os
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.papers.digits import models
from experiments.papers.outputs import write_csv, write_json  # noqa: F401  (common.write_csv is used by callers)
from genjax import metrics, nets, samplers
from genjax.data import digits
from genjax.metrics import digits as digits_metric

SHAPE = (8, 8, 1)


def parser(doc: str, num_samples: int = 1000) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--root", default=models.DEFAULT_ROOT, help="where the shared digits models are trained")
    p.add_argument("--workdir", default=None, help="output folder (default: runs/figures/<figure>)")
    p.add_argument("--quick", action="store_true", help="the :runlocal models, few samples: a smoke run")
    p.add_argument("--num_samples", type=int, default=num_samples)
    p.add_argument("--seed", type=int, default=0)
    return p


def outdir(args, name: str) -> str:
    d = args.workdir or os.path.join("runs", "figures_quick" if args.quick else "figures", name)
    os.makedirs(d, exist_ok=True)
    return d


def partial_csv(args, name: str) -> str:
    """Where a long figure run writes its rows as they come (``<name>.partial.csv``)."""
    return os.path.join(outdir(args, name), f"{name}.partial.csv")


def start(doc: str, argv, num_samples: int = 500, quick_samples: int = 128, extra=None):
    """Parse a figure script's flags (``--quick`` caps the samples; ``extra(parser)`` adds the script's
    own), switch the compile cache on: args."""
    p = parser(doc, num_samples)
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    if args.quick:
        args.num_samples = min(args.num_samples, quick_samples)
    models.enable_compile_cache()
    args.t0 = time.time()
    return args


def finish(args, name: str, rows: list, plot, with_floor: bool = True, **payload) -> None:
    """Write ``<name>.csv``, ``<name>.json`` (rows, floor, seconds, machine) and ``<name>.png`` by
    ``plot(png_path, floor)`` into the script's output folder."""
    out = outdir(args, name)
    fd_floor = floor(args.num_samples) if with_floor else None
    write_csv(os.path.join(out, f"{name}.csv"), rows)
    write_json(os.path.join(out, f"{name}.json"), dict(payload, num_samples=args.num_samples, floor=fd_floor,
                                                        seconds=time.time() - args.t0, rows=rows))
    plot(os.path.join(out, f"{name}.png"), fd_floor)
    print(f"wrote {out}/{name}.png ({time.time() - args.t0:.0f} s)")


class Trained(NamedTuple):
    name: str
    apply: object
    params: object          # EMA parameters
    schedule: object
    predicts: str
    net: object

    def denoiser(self, s=None, label=None):
        """D(x, t) on schedule ``s`` (default: the training schedule; an "edm" network runs on any)."""
        return nets.denoiser_from(self.apply, self.params, s or self.schedule, self.predicts, label,
                                  sigma_data=0.5 if self.predicts == "edm" else None)

    def untrained(self, key):
        """The same network at its initialisation (the reference an FD must beat)."""
        p = nets.init_params(self.net, jnp.zeros((1,) + SHAPE, jnp.float32), key)
        return self._replace(params=p)


def model(name: str, args) -> Trained:
    res = models.load(name, args.root, args.quick)
    ex = res.task.extras
    predicts = models.config(name, args.root, args.quick).model.predicts
    return Trained(name, ex["apply"], jax.device_get(res.state.ema_params), ex["schedule"], predicts, ex["net"])


def draw(denoiser, s, solver, ts, x_init, key=None, **kw):
    """(x [n, 8, 8, 1] as numpy, NFE, seconds) of one ``samplers.sample`` run (compile excluded
    when the same signature ran before)."""
    t0 = time.perf_counter()
    x, info = samplers.sample(denoiser, s, solver, ts, x_init, key, **kw)
    x = np.asarray(jax.block_until_ready(x))
    return x, int(info.nfe), time.perf_counter() - t0


@functools.lru_cache(maxsize=2)
def _split(name: str) -> np.ndarray:
    return digits_metric.to_model_space(digits.load(name)[0])


def fd(x) -> float:
    """digits FD of samples against the held-out *test* digits (359; ``genjax.metrics.digits_fd`` with
    ``ref``); inf when any sample is not finite. The test split is the reference so that real digits
    the model never saw can measure the floor at the same sample size (``floor``)."""
    x = np.asarray(x)
    return float(metrics.digits_fd(x, ref=_split("test"))) if np.all(np.isfinite(x)) else float("inf")


@functools.lru_cache(maxsize=8)
def floor(n: int, repeats: int = 3) -> float:
    """The FD a perfect model would score with n samples: n real training digits (distinct, drawn
    without replacement) against the test reference, averaged over ``repeats`` draws. FD is biased
    upwards at finite n, so every FD in these figures is compared with the floor at its own n."""
    train = _split("train")
    rng = np.random.default_rng(0)
    n = min(int(n), len(train))
    return float(np.mean([fd(train[rng.choice(len(train), n, replace=False)]) for _ in range(repeats)]))


def pyplot():
    """matplotlib.pyplot on the Agg backend (figure scripts never open windows)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def decorate(ax, xlabel: str, ylabel: str = "digits FD (lower is better)", xlog=None, ylog: bool = True,
             legend_size: int = 8, legend: bool = True) -> None:
    """Labels, log axes (``xlog``: None, or the base), a light grid and the legend of one panel."""
    if xlog:
        ax.set_xscale("log", base=xlog)
    if ylog:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    if legend:
        ax.legend(fontsize=legend_size)


def save(fig, path: str, title: str = "") -> None:
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
