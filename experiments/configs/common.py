"""Defaults shared by every config (not a config itself: it has no ``get_config``).

Every field the trainer or a task builder reads exists here, so dotted overrides
(``--config.optim.lr=1e-4``) work on any config and a misspelt key fails at the command line.
Family-specific sections (e.g. ``config.reflow``) are added by the configs that need them.
"""
from __future__ import annotations

import fnmatch
import math
import os

import ml_collections

SAMPLE_METRICS = ("mmd2", "energy_distance", "sliced_wasserstein")

# What a resume may change (genjax.train.identity.Policy; keys are dotted, without "config."):
# free keys alter neither the checkpoint nor the training; tunable ones need --allow_config_change;
# every other key (network, data, loss, schedule, optimizer transforms, batch size, seed, family
# sections) is fixed for the life of a workdir. grad_clip 0 <-> non-zero adds / removes a transform.
RESUME_POLICY = dict(
    free=("training.log_every", "training.sample_every", "training.checkpoint_every", "training.keep_checkpoints",
          "eval.*", "sampling.*", "*.eval_*"),
    tunable=("training.num_steps", "training.max_param_norm_ratio", "optim.lr", "optim.warmup_steps", "optim.b1",
             "optim.b2", "optim.eps", "optim.weight_decay", "optim.grad_clip", "ema.*"),
    zero_is_structural=("optim.grad_clip",),
)
# --mode eval / sample may differ from the run's config only in these keys (they do not define the model).
EVAL_IGNORED = ("training.*", "optim.*", "ema.*", "eval.*", "sampling.*", "*.eval_*", "seed")
# Keys holding layer sizes: every int in them must be >= 1.
LAYER_SIZE_KEYS = ("*features", "*hidden", "*channels", "*channel_mult", "*_dim", "*num_res_blocks")


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
    # range overrides from the command line (--config.schedule.kwargs.t_max=1.0); None: the factory's default
    c.schedule.kwargs.t_min = ml_collections.config_dict.placeholder(float)
    c.schedule.kwargs.t_max = ml_collections.config_dict.placeholder(float)

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
    c.data.random_flip = False          # mirror images left-right with probability 1/2

    c.training = ml_collections.ConfigDict()
    c.training.batch_size = 256         # global batch (all devices, all hosts)
    c.training.num_steps = 20_000
    c.training.log_every = 100
    c.training.checkpoint_every = 1000
    c.training.keep_checkpoints = 3
    c.training.sample_every = 5000      # figure of samples every N steps (0: never)
    c.training.max_param_norm_ratio = 10.0  # reject a step that grows ||params|| more than this (0: off)

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
    c.eval.sample_batch = 1000          # --mode eval draws its samples in chunks of this many
    c.eval.periodic = False             # training: sample metrics at every training.sample_every boundary
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


def _flat(c, prefix=""):
    for k, v in c.items():
        if isinstance(v, (ml_collections.ConfigDict, dict)):
            yield from _flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _ints(v):
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in _ints(item)]
    return [v] if isinstance(v, int) and not isinstance(v, bool) else []


def validate(c: ml_collections.ConfigDict) -> None:
    """ValueError naming the key (``config.a.b=value: why``) for values no run can use; no JAX work.

    Checked: training intervals and counts, eval.sample_batch, learning rate and optimizer constants (finite, in range),
    EMA rate, layer sizes (``LAYER_SIZE_KEYS``: ints >= 1; any negative int in ``model.net_kwargs``),
    and a tfds ``data.data_dir`` that does not exist. Family builders check their own names later,
    still before any compilation.
    """
    def need(ok, key, why):
        if not ok:
            value = dict(_flat(c)).get(key, "?")
            raise ValueError(f"config.{key}={value!r}: {why}")

    def num(key):
        v = dict(_flat(c))[key]
        need(isinstance(v, (int, float)) and not isinstance(v, bool), key, "must be a number")
        return v

    def finite(key):
        v = num(key)
        need(math.isfinite(v), key, "must be finite")
        return v

    t = c.training
    for key in ("log_every", "checkpoint_every", "keep_checkpoints", "batch_size"):
        need(isinstance(t[key], int) and t[key] >= 1, f"training.{key}", "must be an int >= 1")
    need(isinstance(t.num_steps, int) and t.num_steps >= 0, "training.num_steps", "must be an int >= 0")
    need(isinstance(t.sample_every, int) and t.sample_every >= 0, "training.sample_every",
         "must be an int >= 0 (0: never)")
    need(isinstance(c.eval.sample_batch, int) and not isinstance(c.eval.sample_batch, bool)
         and c.eval.sample_batch >= 1, "eval.sample_batch", "must be an int >= 1")
    ratio = finite("training.max_param_norm_ratio")
    need(ratio == 0 or ratio > 1, "training.max_param_norm_ratio", "must be 0 (off) or > 1")
    need(finite("optim.lr") > 0, "optim.lr", "must be finite and > 0")
    need(isinstance(c.optim.warmup_steps, int) and c.optim.warmup_steps >= 0, "optim.warmup_steps",
         "must be an int >= 0")
    need(finite("optim.grad_clip") >= 0, "optim.grad_clip", "must be finite and >= 0 (0: no clipping)")
    for key in ("b1", "b2"):
        need(0 <= finite(f"optim.{key}") < 1, f"optim.{key}", "must lie in [0, 1)")
    need(finite("optim.eps") > 0, "optim.eps", "must be finite and > 0")
    need(finite("optim.weight_decay") >= 0, "optim.weight_decay", "must be finite and >= 0")
    need(0 <= finite("ema.rate") < 1, "ema.rate", "must lie in [0, 1)")
    need(finite("ema.half_life_images") >= 0, "ema.half_life_images", "must be finite and >= 0 (0: use ema.rate)")
    for key, value in _flat(c):
        ints = _ints(value)
        if key.startswith("model.net_kwargs.") and any(i < 0 for i in ints):
            need(False, key, "holds a negative size")
        if any(fnmatch.fnmatchcase(key, p) for p in LAYER_SIZE_KEYS) and any(i < 1 for i in ints):
            need(False, key, "layer sizes must be >= 1")
    if c.data.source == "tfds" and c.data.data_dir:
        need(os.path.isdir(os.path.expanduser(c.data.data_dir)), "data.data_dir",
             "the directory does not exist (tfds reads prepared data from it; '' means the tfds default)")
