"""The shared fixtures of tests/conftest.py: ``x64`` switches float64 on for one test only, and
``strict_dtypes`` refuses implicit promotion between distinct dtypes (Python scalars stay weak)."""
import jax
import jax.numpy as jnp
import pytest


def test_x64_gives_float64(x64):
    assert jnp.asarray(1.0, jnp.float64).dtype == jnp.float64
    assert jnp.linspace(0.0, 1.0, 3).dtype == jnp.float64   # the default float follows the flag


def test_x64_is_off_outside_the_fixture():
    # the suite runs in float32; a test that asked for x64 before this one must not leak it
    assert not jax.config.jax_enable_x64
    assert jnp.linspace(0.0, 1.0, 3).dtype == jnp.float32


def test_strict_dtypes_refuses_implicit_promotion(strict_dtypes):
    assert (jnp.ones(2, jnp.float32) + 1.0).dtype == jnp.float32        # weak Python scalar: allowed
    with pytest.raises(jax.dtypes.TypePromotionError):
        jnp.ones(2, jnp.float32) + jnp.ones(2, jnp.float16)


def test_standard_promotion_outside_the_fixture():
    assert (jnp.ones(2, jnp.float32) + jnp.ones(2, jnp.float16)).dtype == jnp.float32
