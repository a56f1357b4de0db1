"""ELK: the Kalman filter / smoother scans equal direct solves of the trust-region problem."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import fixedpoint
from genjax.fixedpoint.elk import elk_step


def _problem(diagonal, T=7, n=3):
    k = jax.random.split(jax.random.key(0), 4)
    A = (jax.random.normal(k[0], (T, n)) if diagonal
         else 0.9 * jax.random.normal(k[0], (T, n, n)) / np.sqrt(n))
    return (A, jax.random.normal(k[1], (T, n)), jax.random.normal(k[2], (n,)),
            jax.random.normal(k[3], (T, n)))


def _argmin(A, b, h0, y, lam, upto):
    """Minimiser of sum_{t<=upto} |s_t - A_t s_{t-1} - b_t|^2 + lam |s_t - y_t|^2 (dense solve)."""
    T, n = b.shape
    Ad = np.asarray(jax.vmap(jnp.diag)(A) if A.ndim == 2 else A)[:upto]
    b, y = np.asarray(b)[:upto], np.asarray(y)[:upto]
    # Residuals are linear in s: r = M s - c (dynamics rows, then sqrt(lam) observation rows).
    M = np.zeros((2 * upto * n, upto * n))
    c = np.zeros(2 * upto * n)
    for t in range(upto):
        M[t * n:(t + 1) * n, t * n:(t + 1) * n] = np.eye(n)
        if t > 0:
            M[t * n:(t + 1) * n, (t - 1) * n:t * n] = -Ad[t]
        c[t * n:(t + 1) * n] = b[t] + (Ad[0] @ np.asarray(h0) if t == 0 else 0.0)
        rows = slice((upto + t) * n, (upto + t + 1) * n)
        M[rows, t * n:(t + 1) * n] = np.sqrt(lam) * np.eye(n)
        c[rows] = np.sqrt(lam) * y[t]
    return np.linalg.lstsq(M, c, rcond=None)[0].reshape(upto, n)


@pytest.mark.parametrize("diagonal", [False, True])
def test_smoother_is_the_levenberg_marquardt_step(diagonal):
    with jax.enable_x64(True):
        A, b, h0, y = _problem(diagonal)
        got = jax.jit(lambda *a: elk_step(*a, 0.37, smooth=True))(A, b, h0, y)
        # Exact in float64 up to the conditioning of the 7-step problem: 1e-10.
        np.testing.assert_allclose(np.asarray(got), _argmin(A, b, h0, y, 0.37, 7), atol=1e-10)


@pytest.mark.parametrize("diagonal", [False, True])
def test_filter_row_t_solves_the_problem_truncated_at_t(diagonal):
    with jax.enable_x64(True):
        A, b, h0, y = _problem(diagonal)
        got = np.asarray(jax.jit(lambda *a: elk_step(*a, 0.37, smooth=False))(A, b, h0, y))
        for t in range(1, 8):
            np.testing.assert_allclose(got[t - 1], _argmin(A, b, h0, y, 0.37, t)[-1],
                                       atol=1e-10)


def test_zero_strength_limit_is_the_undamped_linear_scan():
    with jax.enable_x64(True):
        A, b, h0, y = _problem(False)
        want = fixedpoint.linear_scan(A, b, h0)
        for smooth in (False, True):
            got = jax.jit(lambda *a: elk_step(*a, 1e-12, smooth=smooth))(A, b, h0, y)
            # lambda = 1e-12 perturbs the solution by O(lambda * |y - s| * cond) < 1e-9.
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-9)
        assert fixedpoint.damped(0.0, fixedpoint.jacobi()).name == "jacobi"
