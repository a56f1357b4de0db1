"""Parallel-in-time sampling (genjax/samplers/parallel.py): parallel == sequential on exact denoisers.

The oracle is the sequential sampler itself (``samplers.sample`` without ``parallel``), run on the
exact denoiser of a Gaussian mixture, with the same key: the parallel solve must reproduce it.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import fixedpoint, samplers, schedules
from genjax.data import mixture

S = schedules.vp_linear()
N, B = 24, 4
TOL = 1e-4
PICARD = fixedpoint.picard(window=8, tol=TOL)   # one object: compiled once per sampler
NEWTON = fixedpoint.newton()
SOLVERS = {"ddim": samplers.ddim(), "heun": samplers.heun(), "dpm_solver_pp2": samplers.dpm_solver_pp(2),
           "ancestral": samplers.ancestral()}


@pytest.fixture(scope="module")
def setup():
    den = jax.tree_util.Partial(mixture.eight_gaussians_mixture().denoiser(S))
    ts = schedules.time_grid(S, N)
    x_init = S.prior_sample((B, 2), jax.random.key(1))
    return den, ts, x_init, jax.random.key(0)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_parallel_equals_sequential(setup, name):
    den, ts, x_init, key = setup
    solver = SOLVERS[name]
    x_seq, info_seq = samplers.sample(den, S, solver, ts, x_init, key)
    x_par, info = samplers.sample(den, S, solver, ts, x_init, key, parallel=PICARD)
    # Every state accepted on tolerance moved by <= TOL x (its step's noise std, <= 0.7 here) rms
    # in its last sweep; those errors propagate through the (stable) remaining steps, so the final
    # error is a small multiple of TOL: measured 1e-5 .. 6e-5 for the four samplers at this
    # setting; 5 * TOL is the stated bound (it is not a theorem: expanding steps amplify more).
    np.testing.assert_allclose(x_par, x_seq, atol=5 * TOL)
    assert bool(info.converged)
    assert 1 <= int(info.num_iters) <= N                      # never more sweeps than steps
    assert int(info.num_iters) < N                            # and here a real reduction (10-17)
    assert int(info.nfe) >= int(info_seq.nfe)                 # parallel work >= sequential work
    # the sequential path reports its N steps as N iterations, converged
    assert int(info_seq.num_iters) == N and bool(info_seq.converged)


def test_newton_linear_denoiser_two_sweeps(setup):
    """Gaussian data: D(x, t) is affine in x, so every step is affine and Newton is exact after
    one sweep; the second sweep confirms it (update ~ 0) and accepts every state: 2 sweeps."""
    _, ts, x_init, key = setup
    den = jax.tree_util.Partial(mixture.gaussian(jnp.array([1.0, -1.0]), 0.5).denoiser(S))
    solver = SOLVERS["ddim"]
    x_seq, _ = samplers.sample(den, S, solver, ts, x_init, key)
    x_par, info = samplers.sample(den, S, solver, ts, x_init, key, parallel=NEWTON)
    assert int(info.num_iters) == 2 and bool(info.converged)
    np.testing.assert_allclose(x_par, x_seq, atol=1e-5)       # float32 round-off of the scan


def test_sharded_window_matches_one_device(setup):
    """The window's time axis split over 8 host devices: same sweeps, same answer as 1 device."""
    den, ts, x_init, key = setup
    assert jax.device_count() >= 8
    mesh = jax.make_mesh((8,), ("time",))
    solver = SOLVERS["ddim"]
    x1, info1 = samplers.sample(den, S, solver, ts, x_init, key, parallel=PICARD)
    x8, info8 = samplers.sample(den, S, solver, ts, x_init, key, parallel=PICARD, mesh=mesh)
    # Same iteration; only XLA's partitioned reduction order differs (measured: identical sweeps and
    # NFE, |x8 - x1| ~ 1e-7). A state whose update sits exactly at the threshold could flip its
    # acceptance, which moves the answer by at most ~TOL x noise std: hence 2 * TOL and +-1 sweep.
    assert abs(int(info8.num_iters) - int(info1.num_iters)) <= 1 and bool(info8.converged)
    np.testing.assert_allclose(x8, x1, atol=2 * TOL)


def test_sequential_method_is_the_plain_loop(setup):
    den, ts, x_init, key = setup
    x_seq, _ = samplers.sample(den, S, SOLVERS["ddim"], ts, x_init, key)
    x, info = samplers.sample(den, S, SOLVERS["ddim"], ts, x_init, key, parallel=fixedpoint.sequential())
    np.testing.assert_array_equal(x, x_seq)
    assert int(info.num_iters) == N and bool(info.converged)


def test_invalid_settings_raise(setup):
    den, ts, x_init, key = setup
    with pytest.raises(ValueError, match="window"):
        fixedpoint.picard(window=0)
    with pytest.raises(ValueError, match="tol"):
        fixedpoint.picard(window=8, tol=0.0)
    with pytest.raises(ValueError, match="tol"):
        fixedpoint.picard(tol=-1e-3)
    with pytest.raises(ValueError, match="window"):
        samplers.sample(den, S, SOLVERS["ddim"], ts, x_init, key, parallel=NEWTON._replace(window=0))
    with pytest.raises(ValueError, match="tol"):
        samplers.sample(den, S, SOLVERS["ddim"], ts, x_init, key, parallel=NEWTON._replace(tol=0.0))
    with pytest.raises(ValueError, match="no recurrence form"):
        samplers.sample(den, S, samplers.sample_adaptive, ts, x_init, key, parallel=PICARD)
    with pytest.raises(TypeError, match="fixedpoint"):
        samplers.sample(den, S, SOLVERS["ddim"], ts, x_init, key, parallel="picard")
    with pytest.raises(ValueError, match="sequential"):
        samplers.sample(den, S, SOLVERS["ddim"], ts, x_init, key, parallel=fixedpoint.sequential(),
                        mesh=jax.make_mesh((1,), ("time",)))
    with pytest.raises(ValueError, match="parallel="):
        samplers.sample(den, S, SOLVERS["ddim"], ts, x_init, key, mesh=jax.make_mesh((1,), ("time",)))
    big = jnp.zeros((2, 300))   # newton() forms [m, m] blocks: refused for m > 256
    with pytest.raises(ValueError, match="quasi_newton"):
        samplers.sample(lambda x, t: x, S, SOLVERS["ddim"], ts, big, key, parallel=NEWTON)
