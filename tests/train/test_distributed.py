"""genjax.train.distributed: the single-process path and the CPU thread pool for several devices."""
import os
import subprocess
import sys

import pytest

from genjax.train import distributed
from tests.conftest import trainer_env

_PROBE = """
import os, jax, jax.numpy as jnp
from genjax.train import distributed
size = distributed.cpu_thread_pool(int(os.environ["DEVICES"]))
jax.config.update("jax_num_cpu_devices", int(os.environ["DEVICES"]))
jnp.ones(4).block_until_ready()     # the backend starts here and reads $PJRT_NPROC
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
print(size, sum(n == "tf_XLAEigen" for n in names), os.environ.get("PJRT_NPROC"))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
@pytest.mark.parametrize("devices, preset, want", [(2, None, os.cpu_count() + 4), (8, None, os.cpu_count() + 16),
                                                   (2, "3", 3)])
def test_cpu_thread_pool_sizes_the_backend_pool(devices, preset, want):
    # The XLA:CPU intra-op pool the backend actually starts (its threads counted by name): cores
    # + 2 per device with several devices; a $PJRT_NPROC set by the user wins.
    env = dict(trainer_env(), DEVICES=str(devices))
    env.pop("PJRT_NPROC", None)
    if preset is not None:
        env["PJRT_NPROC"] = preset
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [str(want), str(want), str(want)]


def test_one_device_keeps_xla_default(monkeypatch):
    monkeypatch.delenv("PJRT_NPROC", raising=False)
    monkeypatch.delenv("NPROC", raising=False)
    assert distributed.cpu_thread_pool(1) is None
    assert "PJRT_NPROC" not in os.environ


def test_single_process_starts_nothing_and_checks_arguments(monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.initialize() is False
    with pytest.raises(ValueError, match="num_cpu_devices must be >= 1"):
        distributed.initialize(num_cpu_devices=0)
    with pytest.raises(ValueError, match="needs num_processes and process_id"):
        distributed.initialize("127.0.0.1:1234")
