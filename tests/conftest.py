"""Shared test set-up: CPU with 8 host devices, persistent compile cache, a `key` fixture."""
import os
import pathlib

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402

_ROOT = pathlib.Path(__file__).resolve().parents[1]
jax.config.update("jax_num_cpu_devices", 8)
jax.config.update("jax_compilation_cache_dir", str(_ROOT / ".cache" / "jax"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

import pytest  # noqa: E402


@pytest.fixture
def key():
    """A fixed PRNG key; tests derive more with jax.random.split / fold_in."""
    return jax.random.key(0)
