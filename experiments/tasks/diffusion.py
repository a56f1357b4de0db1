"""The "diffusion" family: score / flow models on any schedule (``config.model.family = "diffusion"``).

Reads ``config.model`` (net, net_kwargs, predicts), ``config.schedule``, ``config.loss``,
``config.sampling`` and ``config.eval``:

    net       = genjax.nets.get(config.model.net, **config.model.net_kwargs)
    s         = genjax.schedules.get(config.schedule.name, **config.schedule.kwargs)
    loss_fn   = genjax.losses.get(config.loss.name, apply, s, **config.loss.kwargs)
    denoiser  = genjax.nets.denoiser_from(apply, params, s, config.model.predicts)
    sample    = genjax.samplers.sample(denoiser, s, solver, time_grid(s, ...), prior draw, key)
    evaluate  = bits/dim by the probability-flow ODE (genjax.likelihood) if config.eval.bits_per_dim,
                path straightness (genjax.reflow) if config.eval.straightness

The losses and what the network must predict: "dsm" (any of eps / x0 / v / velocity / score,
passed as the loss's target), "edm" (predicts="edm"), "flow_matching", "reflow" and "distill"
(predicts="velocity"). "reflow" / "distill" train on couplings of a teacher flow
(``experiments.tasks._reflow``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments.tasks import Task, config_error, ema_from, optimizer_from
from genjax import integrators, likelihood, losses, metrics, nets, samplers, schedules
from genjax.train import init_state, learning_rate, train_step

_NOT_SOLVERS = ("sample", "sample_adaptive", "check_schedule_grid", "Sampler", "SampleInfo")
SOLVERS = tuple(n for n in samplers.__all__ if n not in _NOT_SOLVERS)
_NEEDS = {"edm": ("edm",), "flow_matching": ("velocity",), "reflow": ("velocity",), "distill": ("velocity",)}


def network(config, data):
    """The flax module of ``config.model.net`` (conditional when the data carry labels)."""
    kwargs = config.model.net_kwargs.to_dict()
    if data.num_classes is not None:
        kwargs.setdefault("num_classes", data.num_classes)
    with config_error("config.model.net"):
        return nets.get(config.model.net, **kwargs)


def schedule(config):
    """The schedule of config.schedule (kwargs left at None take the factory's default)."""
    kwargs = {k: v for k, v in config.schedule.kwargs.to_dict().items() if v is not None}
    known = config.schedule.name in schedules.BY_NAME
    with config_error("config.schedule.kwargs" if known else "config.schedule.name"):
        return schedules.get(config.schedule.name, **kwargs)


def loss(config, s, apply):
    """``loss_fn(params, batch, key)`` of ``config.loss`` (checked against config.model.predicts)."""
    name, predicts = config.loss.name, config.model.predicts
    if name not in losses.BY_NAME:
        raise ValueError(f"unknown loss {name!r} (config.loss.name); choose one of {sorted(losses.BY_NAME)}")
    if name in _NEEDS and predicts not in _NEEDS[name]:
        raise ValueError(f"config.loss.name={name!r} needs config.model.predicts in {_NEEDS[name]}, got {predicts!r}")
    kwargs = config.loss.kwargs.to_dict()
    if name == "dsm":
        kwargs.setdefault("target", predicts)
    with config_error("config.loss.kwargs"):
        return losses.get(name, apply, s, **kwargs)


def solver(config):
    name = config.sampling.solver
    if name not in SOLVERS:
        raise ValueError(f"unknown sampler {name!r} (config.sampling.solver); choose one of {sorted(SOLVERS)}")
    with config_error("config.sampling.solver_kwargs"):
        return getattr(samplers, name)(**config.sampling.solver_kwargs.to_dict())


def time_grid(config, s) -> np.ndarray:
    cfg = config.sampling
    with config_error("config.sampling"):
        return np.asarray(schedules.time_grid(s, int(cfg.num_steps), cfg.grid, float(cfg.rho), to_zero=bool(cfg.to_zero)))


def sampler_fn(config, s, apply, shape):
    """``sample(params, n, key) -> [n, *shape]`` from ``config.sampling``."""
    solve, ts = solver(config), time_grid(config, s)
    predicts, denoise_final = config.model.predicts, bool(config.sampling.denoise_final)
    if denoise_final and float(s.sigma(np.float32(ts[-1]))) == 0.0:
        raise ValueError("config.sampling.denoise_final needs sigma(t_N) > 0; the grid already ends at a clean time")

    def sample(params, n, key):
        k_init, k_run = jax.random.split(key)
        x_init = s.prior_sample((n,) + tuple(shape), k_init)
        denoiser = nets.denoiser_from(apply, params, s, predicts)  # a Partial: params are traced leaves
        # denoise_final: Tweedie's D(x, t_N) removes the residual noise sigma(t_N)
        x, _ = samplers.sample(denoiser, s, solve, ts, x_init, k_run, denoise_final=denoise_final)
        return x

    return sample


def evaluate_fn(config, s, apply, data):
    """Model metrics: bits/dim (nats/dim for continuous data) and, for flows, path straightness."""
    want_bpd, want_straight = bool(config.eval.bits_per_dim), bool(config.eval.straightness)
    if not (want_bpd or want_straight):
        return None
    predicts, d = config.model.predicts, int(np.prod(data.shape))
    solve, ts = solver(config), time_grid(config, s)

    def evaluate(params, batch, key):
        denoiser = nets.denoiser_from(apply, params, s, predicts)  # a Partial: params are traced leaves
        k_deq, k_hutch, k_z = jax.random.split(key, 3)
        out = {}
        if want_bpd:
            opts = dict(divergence="exact" if d <= 16 else "hutchinson",
                        stepping=integrators.adaptive(float(config.eval.likelihood_rtol),
                                                      float(config.eval.likelihood_atol)))
            if data.num_levels is not None:
                bpd, logp = likelihood.dequantized_bits_per_dim(denoiser, s, data.levels(batch["x"]), k_deq,
                                                                num_levels=data.num_levels, **opts)
            else:
                logp = likelihood.log_prob(denoiser, s, batch["x"], k_hutch, **opts)
                bpd = metrics.bits_per_dim(-logp, d)
            out["bits_per_dim"] = jnp.mean(bpd)
            out["nll_per_dim"] = -jnp.mean(logp) / d
        if want_straight:
            from genjax import reflow
            z = s.prior_sample(batch["x"].shape, k_z)
            out["straightness"] = reflow.straightness(denoiser, s, solve, ts, z).value
        return out

    return evaluate


def build(config, data, workdir) -> Task:
    """The diffusion Task of ``config`` (unknown names raise ValueError naming the config key)."""
    s = schedule(config)
    net = network(config, data)
    with config_error("config.model.predicts"):
        nets.precond.check_predicts(config.model.predicts)
    apply = nets.apply_fn(net)
    loss_fn = loss(config, s, apply)
    tx, ema = optimizer_from(config), ema_from(config)
    sample = sampler_fn(config, s, apply, data.shape)
    evaluate = evaluate_fn(config, s, apply, data)
    example = jnp.zeros((1,) + tuple(data.shape), jnp.float32)
    lr = learning_rate(float(config.optim.lr), int(config.optim.warmup_steps))
    step = train_step(loss_fn, tx, ema, lr_schedule=lr)
    init_params = None

    if config.loss.name in ("reflow", "distill"):
        from experiments.tasks import _reflow
        pairs, teacher_params = _reflow.couplings(config, data, workdir)
        step = _reflow.on_pairs(step, pairs, int(config.training.batch_size))
        if config.reflow.init_from_teacher:
            init_params = teacher_params

    def init(key):
        params = nets.init_params(net, example, key) if init_params is None else init_params
        return init_state(params, tx)

    predicts = config.model.predicts
    extras = {"schedule": s, "net": net, "apply": apply,
              "denoiser": lambda params: nets.denoiser_from(apply, params, s, predicts)}
    return Task(init=init, train_step=step, sample=sample, evaluate=evaluate, extras=extras)
