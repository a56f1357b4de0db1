"""genjax.timing: compile apart, the output of the warm-up call, repeats 0 without timing."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.timing import machine, timed


def test_timed_returns_the_output_and_times_apart():
    fn = jax.jit(lambda x: 2.0 * x)
    t = timed(fn, (jnp.arange(3.0),), 2)
    np.testing.assert_array_equal(t.out, [0.0, 2.0, 4.0])
    assert t.compile_seconds > 0 and t.seconds > 0
    t0 = timed(fn, (jnp.arange(3.0),), 0)       # correctness-only: compiled, run once, not timed
    np.testing.assert_array_equal(t0.out, [0.0, 2.0, 4.0])
    assert t0.seconds is None and t0.compile_seconds > 0
    with pytest.raises(ValueError, match="repeats must be >= 0"):
        timed(fn, (jnp.arange(3.0),), -1)


def test_machine_names_backend_and_versions():
    m = machine()
    assert m["backend"] == jax.default_backend() and m["jax"] == jax.__version__ and m["devices"] >= 1
