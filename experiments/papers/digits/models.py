r"""The trained digits models every digits figure shares, trained once into one workdir per model.

    python -m experiments.papers.digits.models [--root runs/figures/digits] [--only edm,ddpm] [--quick]

trains (or resumes, or just restores when finished) each model with ``experiments.train`` from its
config in ``experiments/configs/``; the figure scripts call ``load(name, root, quick)`` and so reuse
the same runs. ``--quick`` uses each config's ``:runlocal`` variant under ``<root>/quick``.

    name       config                      what it is
    edm        digits_edm (3000 steps)     EDM-preconditioned SongUNet, unconditional
    edm_cond   digits_edm:cond             the same, class-conditional, labels dropped w.p. 0.1 (CFG)
    ddpm       digits_ddpm                 VP-linear eps prediction (DDPM, DDIM, Analytic-DPM)
    rf         digits_rf                   1-rectified flow (velocity)
    2rf        digits_rf:reflow            2-rectified flow on 5k couplings of rf
    distill    digits_rf:distill           one-step distillation of 2rf

References: the configs' docstrings.
"""
from __future__ import annotations

import argparse
import importlib
import os
import time

MODELS = {"edm": ("digits_edm", ""), "edm_cond": ("digits_edm", "cond"), "ddpm": ("digits_ddpm", ""),
          "rf": ("digits_rf", ""), "2rf": ("digits_rf", "reflow"), "distill": ("digits_rf", "distill")}
TEACHERS = {"2rf": "rf", "distill": "2rf"}
# Step budgets that differ from the config's default (the unconditional EDM model of the figures trained longer)
# (ddpm and rf first ran 1500 steps with a constant EMA rate, then 500 more with the ramped half-life)
STEPS = {"edm": 3000, "ddpm": 2000, "rf": 2000}
DEFAULT_ROOT = os.path.join("runs", "figures", "digits")
# --quick: the :runlocal budget (200 steps), except the guided model, which must have learned its labels
# for guidance to raise the classifier accuracy (after 200 steps w = 2 already overshoots)
QUICK_COND_STEPS = 600


def enable_compile_cache() -> None:
    """The persistent XLA cache the test suite uses (``$GENJAX_COMPILE_CACHE``): re-runs skip compiling."""
    import jax

    path = os.environ.get("GENJAX_COMPILE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "genjax",
                                                                  "jax-compile")
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def config(name: str, root: str = DEFAULT_ROOT, quick: bool = False):
    """The ml_collections config of model ``name`` (teachers pointed at their shared workdirs)."""
    if name not in MODELS:
        raise ValueError(f"unknown digits model {name!r}; choose one of {sorted(MODELS)}")
    module, arg = MODELS[name]
    arg = ",".join(p for p in (arg, "runlocal" if quick else "") if p)
    c = importlib.import_module(f"experiments.configs.{module}").get_config(arg or None)
    if quick and name == "edm_cond":
        c.training.num_steps = QUICK_COND_STEPS
    elif not quick and name in STEPS:
        c.training.num_steps = STEPS[name]
    if name in TEACHERS:   # the teacher exactly as trained (steps, its own teacher): the shared run
        c.reflow.teacher = config(TEACHERS[name], root, quick)
        c.reflow.teacher_workdir = workdir(TEACHERS[name], root, quick)
    return c


def workdir(name: str, root: str = DEFAULT_ROOT, quick: bool = False) -> str:
    return os.path.abspath(os.path.join(root, "quick" if quick else "", name))


def load(name: str, root: str = DEFAULT_ROOT, quick: bool = False, wait_s: float = 7200.0):
    """``experiments.train.Result`` of model ``name``: trained first if its workdir has no finished run
    (when another process holds the model's workdir, e.g. two figure scripts started together, wait
    for it up to ``wait_s`` seconds, then restore what it trained)."""
    from experiments import train
    from genjax.train.lock import WorkdirLocked

    deadline = time.time() + wait_s
    while True:
        try:
            # a changed step budget or learning rate resumes (recorded in config_changes.jsonl); structure never
            return train.run(config(name, root, quick), workdir(name, root, quick), mode="train",
                             allow_config_change=True)
        except WorkdirLocked:       # another figure script is training (or restoring) the same model
            if time.time() > deadline:
                raise
            time.sleep(10)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=DEFAULT_ROOT)
    p.add_argument("--only", default=",".join(MODELS), help="comma-separated model names")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    enable_compile_cache()
    for name in a.only.split(","):
        t0 = time.time()
        load(name, a.root, a.quick)
        print(f"{name}: ready in {workdir(name, a.root, a.quick)} ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
