"""genjax: pure, jit-compiled JAX functions for generative modelling and parallel-in-time solvers."""
__version__ = "0.1.0"
