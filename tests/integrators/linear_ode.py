"""The linear test problem dx/dt = A x of the integrator tests, with its exact solution expm(A t) x0."""
import jax
import jax.numpy as jnp
import numpy as np

A = jnp.array([[-0.5, 1.0], [-1.0, -0.3]], jnp.float32)
X0 = jnp.array([1.0, 0.5], jnp.float32)
T = 2.0


def linear(t, x):
    return A @ x


def exact(t):
    return np.asarray(jax.scipy.linalg.expm(np.asarray(A, np.float64) * t) @ np.asarray(X0, np.float64))
