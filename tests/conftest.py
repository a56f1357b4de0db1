"""Shared test set-up: CPU with 8 host devices, a persistent compile cache, `key` / `x64` / `strict_dtypes`.

The tests mirror the package: ``genjax/<sub>/<mod>.py`` is tested in ``tests/<sub>/test_<mod>.py``,
``genjax/<mod>.py`` in ``tests/test_<mod>.py``, the trainer, configs and figure scripts in
``tests/experiments/``, the notebooks in ``tests/notebooks/``. Every folder is a package (an
``__init__.py``), so equal file names in two folders do not clash; helpers are imported by their
package path (``from tests.trainer_scoring import train_and_score``).

The compile cache lives outside the checkout (``$GENJAX_COMPILE_CACHE``, else
``$XDG_CACHE_HOME/genjax/jax-compile``, else ``~/.cache/genjax/jax-compile``), so a fresh clone on the
same machine (CI, a second worktree) reuses what an earlier run compiled. JAX keys each entry by the
HLO, the compile options, the devices and the jax/jaxlib versions, so a stale entry is never used: a
changed function simply misses. The location is exported as ``JAX_COMPILATION_CACHE_DIR`` so that
subprocess trainers and notebook kernels started by the tests share it.
"""
import os
import pathlib

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")


def compile_cache_dir() -> str:
    """Where the tests' persistent XLA compile cache lives (see the module docstring)."""
    if os.environ.get("GENJAX_COMPILE_CACHE"):
        return os.environ["GENJAX_COMPILE_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "genjax", "jax-compile")


CACHE_DIR = compile_cache_dir()
MIN_COMPILE_SECS = "0.2"   # cache anything that took longer to compile than a cache read costs
os.environ["JAX_COMPILATION_CACHE_DIR"] = CACHE_DIR
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = MIN_COMPILE_SECS
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

# XLA flags of the tests (and of their subprocess trainers and notebook kernels: exported before JAX
# starts). Default: none, i.e. fully optimised code. LLVM optimisation level 0 halves the compile of
# a U-Net train step but slows every program it runs; measured on four training-heavy files
# (test_configs_likelihood, test_gan, test_ebm, samplers/test_base; one process, idle):
# opt 0: 338 s with an empty compile cache, 214 s with a warm one; opt 3: 297 s and 139 s.
# GENJAX_TEST_XLA_FLAGS="--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
# trades run time for compile time when iterating on one compile-bound test.
TEST_XLA_FLAGS = os.environ.get("GENJAX_TEST_XLA_FLAGS", "")
os.environ["XLA_FLAGS"] = " ".join(f for f in (os.environ.get("XLA_FLAGS", ""), TEST_XLA_FLAGS) if f)

_USER_PJRT_NPROC = os.environ.get("PJRT_NPROC")

import jax  # noqa: E402

_ROOT = pathlib.Path(__file__).resolve().parents[1]


def trainer_env() -> dict:
    """The environment of a subprocess trainer started by a test: CPU, the checkout on the path, the
    suite's compile flags and nothing else (no forced device count: the trainer's --num_cpu_devices
    sets it); the compile cache settings come through ``os.environ``."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(_ROOT))
    env["XLA_FLAGS"] = TEST_XLA_FLAGS
    if not _USER_PJRT_NPROC:
        env.pop("PJRT_NPROC", None)   # sized for the suite's 8 devices: the trainer sizes its own
    return env


from genjax.train import distributed  # noqa: E402

distributed.cpu_devices(8)   # 8 host devices, and a thread pool with room for their blocking collectives
jax.config.update("jax_compilation_cache_dir", CACHE_DIR)
jax.config.update("jax_persistent_cache_min_compile_time_secs", float(MIN_COMPILE_SECS))
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

import pytest  # noqa: E402


@pytest.fixture
def key():
    """A fixed PRNG key; tests derive more with jax.random.split / fold_in."""
    return jax.random.key(0)


@pytest.fixture
def x64():
    """float64 on (``jax_enable_x64``) for one test; the previous setting is restored afterwards."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def strict_dtypes():
    """Strict dtype promotion for one test: an implicit float32/float64 (or int/float) mix raises."""
    with jax.numpy_dtype_promotion("strict"):
        yield




# pytest-xdist's --dist loadfile hands whole files to the workers in collection order. Starting the
# files that take longest (measured with --durations) first keeps both workers busy to the end
# instead of leaving one long file running alone (longest-processing-time-first scheduling).
# Paths are relative to tests/.
SLOW_FIRST = (
    "experiments/test_digits_figures.py",
    "experiments/test_figures.py",
    "experiments/test_configs_unet.py",
    "fixedpoint/test_solve.py",
    "experiments/test_trainer_resume.py",
    "nets/test_torch_import.py",
    "notebooks/test_samplers.py",
    "notebooks/test_deer.py",
    "notebooks/test_train_rectified_flow.py",
    "experiments/test_configs.py",
    "experiments/test_trainer_safety_signals.py",
    "experiments/test_configs_likelihood.py",
    "experiments/test_trainer_learns.py",
    "experiments/test_sample_metrics.py",
    "families/test_ebm.py",
    "families/test_gan.py",
)
_TESTS = pathlib.Path(__file__).resolve().parent


def _relative(path) -> str:
    try:
        return pathlib.Path(path).resolve().relative_to(_TESTS).as_posix()
    except ValueError:
        return str(path)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(_relative(item.path), len(rank)))   # stable: file order otherwise
