"""Task builders: turn a ConfigDict into library objects for the one trainer (experiments/train.py).

The library (``genjax/``) never sees a ConfigDict; the builders here read the config and call the
library's factories. A model family plugs into the trainer by providing one module

    experiments/tasks/<family>.py     with     build(config, data, workdir) -> Task

selected by ``config.model.family == "<family>"`` (the registry is the set of modules in this
package; nothing else to edit). ``data`` is the ``experiments.tasks.inputs.Data`` built from
``config.data`` (example shape, labels, reference samples); ``workdir`` is the run's absolute
workdir (for families that keep extra artefacts, e.g. ReFlow's teacher). A ``Task`` gives the trainer:

- ``init(key) -> TrainState``: parameters, optimizer state and EMA at step 0. The trainer jits it
  with replicated ``out_shardings`` on the global mesh, so parameters are created in place.
- ``train_step(state, batch, key) -> (state, metrics)``: pure, jit-able; ``key`` is the run's
  base key (take per-step keys with ``fold_in(key, state.step)``); ``metrics`` must contain
  "loss" and "finite" (bool; a non-finite step must return the state unchanged).
  ``genjax.train.train_step(loss_fn, tx, ema)`` builds one from a loss; families with several
  networks or extra state (GAN generator / critic, an EBM's replay buffer) use the multi-player
  step ``genjax.train.players.train_step`` (the same TrainState, EMA and non-finite guard).
- ``sample(params, n, key) -> [n, *data.shape]``: draws from the model (the trainer passes the EMA
  parameters); jit-able.
- ``evaluate(params, batch, key) -> dict`` of scalars that need the model itself (bits/dim, ELBO,
  ...), or None. Sample metrics (MMD, energy distance, sliced Wasserstein) are computed by the
  trainer from ``sample``.
- ``extras``: family-specific objects for callers of ``experiments.train.run`` (for diffusion:
  ``extras["denoiser"](params) -> denoiser(x, t)`` and ``extras["schedule"]``).

A builder must raise ``ValueError`` naming the config key (``config.model.net``, ``config.loss.name``,
...) for unknown names *before* any tracing; ``config_error`` below wraps a library error with the
key. Modules whose names start with an underscore and ``inputs`` are helpers, not families.
"""
from __future__ import annotations

import contextlib
import importlib
import pkgutil
from typing import Any, Callable, Mapping, NamedTuple, Optional

HELPER_MODULES = ("inputs",)


class Task(NamedTuple):
    """What a model family gives the trainer (see the module docstring for each contract)."""

    init: Callable
    train_step: Callable
    sample: Callable
    evaluate: Optional[Callable] = None
    extras: Mapping[str, Any] = {}


def families() -> list[str]:
    """Registered family names: the non-helper modules of this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name not in HELPER_MODULES)


def get_builder(family: str) -> Callable:
    """The ``build(config, data, workdir) -> Task`` of ``experiments/tasks/<family>.py``."""
    known = families()
    if family not in known:
        raise ValueError(f"unknown model family {family!r} (config.model.family); choose one of {known}")
    module = importlib.import_module(f"{__name__}.{family}")
    if not callable(getattr(module, "build", None)):
        raise ValueError(f"experiments/tasks/{family}.py defines no build(config, data, workdir) -> Task")
    return module.build


def build(config, data, workdir: str) -> Task:
    """The Task of ``config.model.family``."""
    task = get_builder(config.model.family)(config, data, workdir)
    if not isinstance(task, Task):
        raise TypeError(f"the {config.model.family!r} builder returned {type(task).__name__}, not a Task")
    return task


@contextlib.contextmanager
def config_error(key: str):
    """Re-raise a ValueError/TypeError from the library with the config key in front of it."""
    try:
        yield
    except (ValueError, TypeError) as e:
        if str(e).startswith(key):
            raise
        raise type(e)(f"{key}: {e}") from e


def optimizer_from(config):
    """The optax optimizer of ``config.optim`` (shared by every family)."""
    from genjax.train import optimizer

    o = config.optim
    with config_error("config.optim"):
        return optimizer(float(o.lr), name=o.optimizer, warmup_steps=int(o.warmup_steps),
                         grad_clip=float(o.grad_clip) or None, b1=float(o.b1), b2=float(o.b2), eps=float(o.eps),
                         weight_decay=float(o.weight_decay))


def ema_from(config):
    """The EMA of ``config.ema``: EDM half-life when ``half_life_images > 0``, else the constant rate."""
    from genjax.train import ema_half_life, ema_rate

    e = config.ema
    with config_error("config.ema"):
        if e.half_life_images > 0:
            return ema_half_life(float(e.half_life_images), int(config.training.batch_size),
                                 float(e.rampup_ratio) or None)
        return ema_rate(float(e.rate))
