"""Defaults shared by every config (not a config itself: it has no ``get_config``).

Every field the trainer or a task builder reads exists here, so dotted overrides
(``--config.optim.lr=1e-4``) work on any config and a misspelt key fails at the command line.
Family-specific sections (e.g. ``config.reflow``) are added by the configs that need them.
"""
from __future__ import annotations

import ml_collections

SAMPLE_METRICS = ("mmd2", "energy_distance", "sliced_wasserstein")


def base() -> ml_collections.ConfigDict:
    """All keys with defaults (a 2-D flow-matching run)."""
    c = ml_collections.ConfigDict()
    c.seed = 0

    c.model = ml_collections.ConfigDict()
    c.model.family = "diffusion"        # experiments/tasks/<family>.py
    c.model.net = "mlp"                 # genjax.nets.get(name, **net_kwargs)
    c.model.net_kwargs = ml_collections.ConfigDict()
    c.model.predicts = "velocity"       # eps | x0 | v | score | velocity | edm

    c.schedule = ml_collections.ConfigDict()
    c.schedule.name = "rectified"       # genjax.schedules.get(name, **kwargs)
    c.schedule.kwargs = ml_collections.ConfigDict()

    c.loss = ml_collections.ConfigDict()
    c.loss.name = "flow_matching"       # a genjax.losses factory
    c.loss.kwargs = ml_collections.ConfigDict()

    c.data = ml_collections.ConfigDict()
    c.data.source = "toy2d"             # toy2d | digits | tfds
    c.data.name = "checkerboard"        # toy set / tfds name
    c.data.split = "train"
    c.data.data_dir = ""                # tfds data_dir ("" = default)
    c.data.use_labels = False
    c.data.pipeline = "auto"            # auto | device | host

    c.training = ml_collections.ConfigDict()
    c.training.batch_size = 256         # global batch (all devices, all hosts)
    c.training.num_steps = 20_000
    c.training.log_every = 100
    c.training.checkpoint_every = 1000
    c.training.keep_checkpoints = 3
    c.training.sample_every = 5000      # figure of samples every N steps (0: never)

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adam"          # adam | adamw
    c.optim.lr = 1e-3
    c.optim.warmup_steps = 0
    c.optim.grad_clip = 1.0             # global-norm clip (0: none)
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.weight_decay = 0.0

    c.ema = ml_collections.ConfigDict()
    c.ema.rate = 0.999                  # constant EMA rate, used when half_life_images == 0
    c.ema.half_life_images = 0.0        # EDM: EMA half-life in training images (> 0 overrides rate)
    c.ema.rampup_ratio = 0.05           # EDM ramp-up of the half-life (0: none)

    c.sampling = ml_collections.ConfigDict()
    c.sampling.solver = "heun"          # a genjax.samplers factory
    c.sampling.solver_kwargs = ml_collections.ConfigDict()
    c.sampling.num_steps = 50
    c.sampling.grid = "uniform"         # uniform | karras | log_snr
    c.sampling.rho = 7.0
    c.sampling.to_zero = False          # end the grid at t = 0 (EDM)
    c.sampling.denoise_final = False
    c.sampling.num_samples = 1000

    c.eval = ml_collections.ConfigDict()
    c.eval.num_samples = 1000
    c.eval.sample_metrics = SAMPLE_METRICS
    c.eval.bits_per_dim = False         # probability-flow ODE likelihood of data (images)
    c.eval.straightness = False         # flows: path straightness S (genjax.reflow)
    c.eval.model_batch = 64             # data rows for model metrics (bits/dim, straightness)
    c.eval.likelihood_rtol = 1e-5
    c.eval.likelihood_atol = 1e-5
    return c


def runlocal(c: ml_collections.ConfigDict, num_steps: int = 200) -> ml_collections.ConfigDict:
    """Shrink the loop to seconds on one CPU (the caller shrinks the network)."""
    c.training.batch_size = 64
    c.training.num_steps = num_steps
    c.training.log_every = 20
    c.training.checkpoint_every = 100
    c.training.sample_every = 0
    c.optim.warmup_steps = min(c.optim.warmup_steps, 10)
    c.sampling.num_steps = min(c.sampling.num_steps, 16)
    c.sampling.num_samples = 256
    c.eval.num_samples = 256
    c.eval.model_batch = 8
    return c


def parse_arg(arg: str | None, allowed=("runlocal",)) -> str:
    """The config argument ('' when absent); ValueError for anything not in ``allowed``."""
    arg = (arg or "").strip()
    if arg and arg not in allowed:
        raise ValueError(f"unknown config argument {arg!r}; choose one of {allowed} or none")
    return arg
