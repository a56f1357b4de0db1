"""Tests for genjax/nets/embeddings.py: the sinusoidal embedding's closed form."""
import jax.numpy as jnp
import numpy as np

from genjax import nets


# --- embeddings ---------------------------------------------------------------------------------------
def test_sinusoidal_closed_form():
    t = jnp.array([0.0, 0.3, 2.0])
    e = nets.sinusoidal(t, 8, max_period=100.0)
    w = 100.0 ** (-np.arange(4) / 4)
    ref = np.concatenate([np.cos(np.outer(t, w)), np.sin(np.outer(t, w))], -1)
    np.testing.assert_allclose(e, ref, rtol=1e-6, atol=1e-6)  # float32 cos/sin
    f = nets.fourier(t, 16)
    np.testing.assert_allclose(f, nets.fourier(t, 16), rtol=0)  # a constant, not a random draw
    np.testing.assert_allclose(jnp.sum(f**2, -1), 8.0, rtol=1e-5)  # cos^2 + sin^2 per frequency
