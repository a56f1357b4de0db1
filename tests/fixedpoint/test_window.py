"""Sliding-window sweeps (genjax/fixedpoint/window.py) against the sequential lax.scan."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import fixedpoint as fp

T, N = 30, 4


@pytest.fixture(scope="module")
def rnn():
    k1, k2 = jax.random.split(jax.random.key(3))
    W = 0.6 * jax.random.normal(k1, (N, N)) / np.sqrt(N)
    xs = jax.random.normal(k2, (T, N))

    def step(h, x, p):
        return jnp.tanh(p @ h + x)

    return step, jnp.zeros(N), xs, W


@pytest.mark.parametrize("method,window", [(fp.picard(), 4), (fp.newton(), 8), (fp.fallback(fp.jacobi()), 5)],
                         ids=["picard", "newton", "fallback_jacobi"])
def test_window_matches_scan(rnn, method, window):
    step, h0, xs, W = rnn
    ref = fp.sequential_scan(step, h0, xs, W)
    hs, info = jax.jit(lambda: fp.solve_window(step, h0, xs, W, method, window=window, tol=1e-6))()
    # every accepted state moved by <= 1e-6 per entry in its last sweep; the contractive RNN keeps
    # the accumulated error within a few times that (float32 round-off ~1e-7 per step on top)
    np.testing.assert_allclose(hs, ref, atol=2e-5)
    assert bool(info.converged) and 1 <= int(info.num_iters) <= T   # >= 1 state per sweep
    assert int(info.evals.sum()) >= T and int(info.evals.min()) >= 1


def test_window_gradient_matches_scan(rnn):
    step, h0, xs, W = rnn
    g = jax.jit(jax.grad(lambda p: jnp.sum(fp.solve_window(step, h0, xs, p, fp.picard(), window=6, tol=1e-6)[0] ** 2)))(W)
    g_ref = jax.grad(lambda p: jnp.sum(fp.sequential_scan(step, h0, xs, p) ** 2))(W)
    np.testing.assert_allclose(g, g_ref, atol=1e-4)      # implicit VJP at a 1e-6 solution


def test_newton_blocks_is_newton_on_independent_groups():
    """Two decoupled 2-d RNNs stacked: the block Jacobian is the exact one, so block Newton and
    dense Newton take the same sweeps and agree with the scan."""
    A = jnp.array([[0.5, -0.3], [0.2, 0.4]])
    xs = jax.random.normal(jax.random.key(0), (T, 4))

    def step(h, x, p):
        return jnp.tanh((h.reshape(2, 2) @ p.T).reshape(-1) + x)

    ref = fp.sequential_scan(step, jnp.zeros(4), xs, A)
    run = jax.jit(lambda: [fp.solve_window(step, jnp.zeros(4), xs, A, m)
                           for m in (fp.newton_blocks(2), fp.newton())])
    (hs_b, info_b), (hs_d, info_d) = run()
    np.testing.assert_allclose(hs_b, ref, atol=1e-5)
    np.testing.assert_allclose(hs_b, hs_d, atol=1e-5)
    assert int(info_b.num_iters) == int(info_d.num_iters) <= 8


def test_window_validation(rnn):
    step, h0, xs, W = rnn
    with pytest.raises(ValueError, match="window"):
        fp.solve_window(step, h0, xs, W, fp.picard(), window=0)
    with pytest.raises(ValueError, match="tol"):
        fp.solve_window(step, h0, xs, W, fp.picard(), tol=-1.0)
    with pytest.raises(ValueError, match="window"):
        fp.solve_window(step, h0, xs, W, fp.picard(), window=True)
    with pytest.raises(ValueError, match="rtol"):
        fp.solve_window(step, h0, xs, W, fp.picard(), rtol=-1.0)
    with pytest.raises(ValueError, match="sequential"):
        fp.solve_window(step, h0, xs, W, fp.sequential())
    with pytest.raises(ValueError, match="tol_scale"):
        fp.solve_window(step, h0, xs, W, fp.picard(), tol_scale=jnp.ones(T + 1))
