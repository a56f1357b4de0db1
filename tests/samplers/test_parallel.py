"""Parallel-in-time sampling (genjax/samplers/parallel.py): parallel == sequential on exact denoisers.

The oracle is the sequential sampler itself (``samplers.sample``), run on the exact denoiser of a
Gaussian mixture, with the same key: ``samplers.sample_parallel`` must reproduce it within its
documented bound max |x_parallel - x_sequential| <= tol (1 + max |x_sequential|).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import fixedpoint, samplers, schedules
from genjax.data import mixture

S = schedules.vp_linear()
N, B = 24, 4
TOL = 1e-4
PICARD = fixedpoint.picard()
NEWTON = fixedpoint.newton()
SCHEDULES = {"vp": (schedules.vp_linear(), "uniform", 50), "edm": (schedules.edm(), "karras", 100),
             "rectified": (schedules.rectified(), "uniform", 200)}
SOLVERS = {"ddim": samplers.ddim(), "heun": samplers.heun(), "dpm_solver_pp2": samplers.dpm_solver_pp(2),
           "ancestral": samplers.ancestral()}


@pytest.fixture(scope="module")
def setup():
    den = jax.tree_util.Partial(mixture.eight_gaussians_mixture().denoiser(S))
    ts = schedules.time_grid(S, N)
    x_init = S.prior_sample((B, 2), jax.random.key(1))
    return den, ts, x_init, jax.random.key(0)


# Every sampler and every schedule at least once (6 of the 12 pairs, to keep the suite fast; all
# 12 are measured by benchmarks.parallel_sampling's tolerance grid: Picard window 8 and Newton at
# 50 / 100 / 200 steps, 72 runs, error / bound 0.0003 .. 0.044, see docs/readme/parallel_sampling.md).
PAIRS = [("ddim", "vp"), ("ddim", "rectified"), ("heun", "edm"), ("dpm_solver_pp2", "rectified"),
         ("dpm_solver_pp2", "vp"), ("ancestral", "edm")]


@pytest.mark.parametrize("name,schedule", PAIRS)
def test_parallel_meets_its_tolerance_bound(name, schedule):
    """The stated bound on DDIM / Heun / DPM-Solver++ / ancestral at 50, 100 and 200 steps on VP,
    EDM (Karras grid) and rectified schedules, ParaDiGMS windows of 8. Measured error / bound:
    <= 0.044 (the bound assumes non-expansive steps and adds the N per-step residuals)."""
    s, kind, n_steps = SCHEDULES[schedule]
    tol = 1e-3
    den = jax.tree_util.Partial(mixture.eight_gaussians_mixture().denoiser(s))
    ts = schedules.time_grid(s, n_steps, kind)
    x_init = s.prior_sample((16, 2), jax.random.key(1))
    key = jax.random.key(0)
    solver = SOLVERS[name]
    x_seq, info_seq = samplers.sample(den, s, solver, ts, x_init, key)
    x_par, info = samplers.sample_parallel(den, s, solver, ts, x_init, key, method=PICARD, window=8, tol=tol)
    assert float(jnp.max(jnp.abs(x_par - x_seq))) <= tol * (1.0 + float(jnp.max(jnp.abs(x_seq))))
    assert bool(info.converged)
    assert 1 <= int(info.num_iters) < n_steps                 # never more sweeps than steps, here fewer
    assert int(info.nfe) >= int(info_seq.nfe)                 # parallel work >= sequential work
    assert int(info_seq.num_iters) == n_steps and bool(info_seq.converged)


def test_newton_linear_denoiser_two_sweeps(setup):
    """Gaussian data: D(x, t) is affine in x, so every step is affine and Newton is exact after
    one sweep; the second sweep confirms it (update ~ 0) and accepts every state: 2 sweeps."""
    _, ts, x_init, key = setup
    den = jax.tree_util.Partial(mixture.gaussian(jnp.array([1.0, -1.0]), 0.5).denoiser(S))
    solver = SOLVERS["ddim"]
    x_seq, _ = samplers.sample(den, S, solver, ts, x_init, key)
    x_par, info = samplers.sample_parallel(den, S, solver, ts, x_init, key, method=NEWTON, tol=TOL)
    assert int(info.num_iters) == 2 and bool(info.converged)
    np.testing.assert_allclose(x_par, x_seq, atol=1e-5)       # float32 round-off of the scan


def test_sharded_window_matches_one_device(setup):
    """The window's time axis split over 8 host devices: same sweeps, same answer as 1 device."""
    den, ts, x_init, key = setup
    assert jax.device_count() >= 8
    mesh = jax.make_mesh((8,), ("time",))
    solver = SOLVERS["ddim"]
    x1, info1 = samplers.sample_parallel(den, S, solver, ts, x_init, key, method=PICARD, window=8, tol=TOL)
    x8, info8 = samplers.sample_parallel(den, S, solver, ts, x_init, key, method=PICARD, window=8, tol=TOL,
                                         mesh=mesh)
    # Same iteration; only XLA's partitioned reduction order differs (measured: identical sweeps and
    # NFE, |x8 - x1| ~ 1e-7). A state whose update sits exactly at the threshold could flip its
    # acceptance, which moves the answer by at most ~TOL: hence 2 * TOL and +-1 sweep.
    assert abs(int(info8.num_iters) - int(info1.num_iters)) <= 1 and bool(info8.converged)
    np.testing.assert_allclose(x8, x1, atol=2 * TOL)


def test_sequential_method_is_the_plain_loop(setup):
    den, ts, x_init, key = setup
    x_seq, _ = samplers.sample(den, S, SOLVERS["ddim"], ts, x_init, key)
    x, info = samplers.sample_parallel(den, S, SOLVERS["ddim"], ts, x_init, key, method=fixedpoint.sequential())
    np.testing.assert_array_equal(x, x_seq)
    assert int(info.num_iters) == N and bool(info.converged)


# (error, call(run, den, ts, x_init, key), match); run = sample_parallel with DDIM on S
BAD_SETTINGS = [
    (ValueError, lambda run, den, ts, x, key: run(method=NEWTON, window=0), "window"),
    (ValueError, lambda run, den, ts, x, key: run(window=True), "window"),
    (ValueError, lambda run, den, ts, x, key: run(tol=0.0), "tol"),
    (ValueError, lambda run, den, ts, x, key: run(tol=float("nan")), "tol"),
    (ValueError, lambda run, den, ts, x, key: samplers.sample_parallel(den, S, samplers.sample_adaptive, ts, x, key,
                                                                       method=PICARD), "no recurrence form"),
    (TypeError, lambda run, den, ts, x, key: run(method="picard"), "fixedpoint"),
    (ValueError, lambda run, den, ts, x, key: run(method=fixedpoint.sequential(), mesh=jax.make_mesh((1,), ("time",))),
     "sequential"),
    # sample() is the sequential loop only
    (TypeError, lambda run, den, ts, x, key: samplers.sample(den, S, SOLVERS["ddim"], ts, x, key, parallel=PICARD),
     "parallel"),
    # newton() forms [m, m] blocks: refused for m > 256
    (ValueError, lambda run, den, ts, x, key: samplers.sample_parallel(lambda x, t: x, S, SOLVERS["ddim"], ts,
                                                                       jnp.zeros((2, 300)), key, method=NEWTON),
     "quasi_newton"),
]


@pytest.mark.parametrize("error, call, match", BAD_SETTINGS,
                         ids=[f"{i}-{m}" for i, (_, _, m) in enumerate(BAD_SETTINGS)])
def test_invalid_settings_raise(setup, error, call, match):
    den, ts, x_init, key = setup
    run = functools.partial(samplers.sample_parallel, den, S, SOLVERS["ddim"], ts, x_init, key)
    with pytest.raises(error, match=match):
        call(run, den, ts, x_init, key)