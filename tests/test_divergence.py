"""genjax.divergence against the closed form of linear and per-example non-linear fields."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.divergence import divergence_exact, divergence_hutchinson


def _field(W):
    """Per-example f(x) = tanh(x W^T) on x: [B, 2, 3] (flattened to d = 6 inside)."""
    return lambda x: jnp.tanh(x.reshape(x.shape[0], -1) @ W.T).reshape(x.shape)


def test_exact_divergence_is_the_jacobian_trace():
    W = jax.random.normal(jax.random.key(0), (6, 6))
    x = jax.random.normal(jax.random.key(1), (5, 2, 3))
    fn = _field(W)
    fx, div = divergence_exact(fn, x)
    # reference: trace of the per-example dense Jacobian from jax.jacfwd
    ref = jnp.stack([jnp.trace(jax.jacfwd(lambda v: fn(v[None])[0].ravel())(xi).reshape(6, 6)) for xi in x])
    np.testing.assert_allclose(fx, fn(x), rtol=1e-6)
    np.testing.assert_allclose(div, ref, rtol=1e-5, atol=1e-6)   # float32 sums of 6 terms


def test_hutchinson_is_exact_in_expectation_and_accepts_one_or_many_probes():
    W = jax.random.normal(jax.random.key(0), (6, 6))
    fn = lambda x: x.reshape(x.shape[0], -1) @ W.T            # linear: tr J = tr W for every example
    x = jax.random.normal(jax.random.key(1), (3, 2, 3))
    m = 20000
    eps = jax.random.rademacher(jax.random.key(2), (m,) + x.shape, jnp.float32)
    _, div = divergence_hutchinson(lambda z: fn(z).reshape(z.shape), x, eps)
    # Rademacher: Var(eps^T W eps) = sum_{i != j} (W_ij^2 + W_ij W_ji) <= 2 ||W||_F^2 ~ 72;
    # sd of the mean over 20000 probes <= 0.06; 0.3 is 5 sd.
    np.testing.assert_allclose(div, np.full(3, float(jnp.trace(W))), atol=0.3)
    # one probe per example, [B, ...], equals the M = 1 case
    one = divergence_hutchinson(lambda z: fn(z).reshape(z.shape), x, eps[0])[1]
    np.testing.assert_allclose(one, divergence_hutchinson(lambda z: fn(z).reshape(z.shape), x, eps[:1])[1],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="eps"):
        divergence_hutchinson(fn, x, eps[:, :2])
