"""linear_scan (associative scan) against a plain Python loop, dense and diagonal."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import fixedpoint


def _loop(A, b, h0, reverse=False):
    """h_t = A_t h_{t-1} + b_t by a Python loop in float64 numpy (the oracle)."""
    A, b, h = np.asarray(A, np.float64), np.asarray(b, np.float64), np.asarray(h0, np.float64)
    out = np.zeros_like(b)
    order = range(len(b) - 1, -1, -1) if reverse else range(len(b))
    for t in order:
        h = (A[t] * h if A.ndim == 2 else A[t] @ h) + b[t]
        out[t] = h
    return out


def _problem(key, T, n, diagonal, dtype=jnp.float32):
    ka, kb, kh = jax.random.split(key, 3)
    shape = (T, n) if diagonal else (T, n, n)
    # Spectral radius ~0.95: products neither blow up nor vanish over T steps.
    scale = 0.95 if diagonal else 0.95 / np.sqrt(n)
    A = scale * jax.random.normal(ka, shape, dtype) / (1.0 if diagonal else 1.0)
    if diagonal:
        A = jnp.clip(A, -0.99, 0.99)
    return A, jax.random.normal(kb, (T, n), dtype), jax.random.normal(kh, (n,), dtype)


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("T,n", [(1, 3), (37, 4), (256, 2)])
def test_linear_scan_equals_python_loop(key, diagonal, T, n):
    A, b, h0 = _problem(key, T, n, diagonal)
    got = np.asarray(fixedpoint.linear_scan(A, b, h0))
    want = _loop(A, b, h0)
    # float32 associative scan vs float64 loop: a different summation order, |h| = O(1);
    # 1e-5 is ~100 ulp, far below any indexing / transposition mistake (O(1) errors).
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("diagonal", [False, True])
def test_linear_scan_reverse_equals_python_loop(key, diagonal):
    A, b, h0 = _problem(key, 29, 3, diagonal)
    got = np.asarray(fixedpoint.linear_scan(A, b, h0, reverse=True))
    np.testing.assert_allclose(got, _loop(A, b, h0, reverse=True), atol=1e-5, rtol=1e-5)


def test_linear_scan_float64_is_exact_to_roundoff(key):
    with jax.enable_x64(True):
        A, b, h0 = _problem(key, 100, 5, False, jnp.float64)
        got = np.asarray(fixedpoint.linear_scan(A, b, h0))
        assert got.dtype == np.float64
        # float64 rounding only: 1e-12 is ~1e4 ulp.
        np.testing.assert_allclose(got, _loop(A, b, h0), atol=1e-12, rtol=1e-12)


def test_linear_scan_sequential_reference_agrees(key):
    A, b, h0 = _problem(key, 50, 3, False)
    np.testing.assert_allclose(np.asarray(fixedpoint.linear_scan_sequential(A, b, h0)),
                               _loop(A, b, h0), atol=1e-5, rtol=1e-5)


def test_linear_scan_is_jittable_and_vmappable(key):
    A, b, h0 = _problem(key, 16, 3, True)
    batched = jax.jit(jax.vmap(fixedpoint.linear_scan, in_axes=(None, 0, None)))(
        A, jnp.stack([b, 2 * b]), h0)
    np.testing.assert_allclose(np.asarray(batched[1]), _loop(A, 2 * b, h0), atol=1e-5, rtol=1e-5)


def test_linear_scan_rejects_bad_shapes():
    with pytest.raises(ValueError, match="A must have shape"):
        fixedpoint.linear_scan(jnp.ones((4, 3, 2)), jnp.ones((4, 3)), jnp.ones(3))
    with pytest.raises(ValueError, match="h0 must have shape"):
        fixedpoint.linear_scan(jnp.ones((4, 3)), jnp.ones((4, 3)), jnp.ones(2))
    with pytest.raises(ValueError, match="T = 0"):
        fixedpoint.linear_scan(jnp.ones((0, 3)), jnp.ones((0, 3)), jnp.ones(3))
