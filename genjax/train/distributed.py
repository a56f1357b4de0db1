"""Multi-host start: ``jax.distributed.initialize`` from explicit settings or the environment.

JAX's multi-controller model runs the same program in every process; after
``jax.distributed.initialize`` ``jax.devices()`` lists the devices of all processes and one
``Mesh`` spans them (``genjax.train.sharding``). On TPU pods, SLURM and other detected clusters
the call needs no arguments; elsewhere it needs the coordinator address, the number of processes
and this process's id, given as arguments or through the environment variables
``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``.

CPU processes exchange collectives through gloo (``jax_cpu_collectives_implementation``); the
number of CPU devices per process is ``jax_num_cpu_devices``. Both must be set before the
backend starts, i.e. before the first JAX computation: call ``initialize`` first.

Several CPU devices in one process share XLA:CPU's intra-op thread pool (as many threads as cores),
and a collective (all-reduce, all-gather) can run on a pool thread and block it until every
device has arrived. When the blocked collectives fill the pool, the devices that have not arrived
cannot run: XLA aborts after 40 s ("Termination timeout ... Expected 2 threads to join the
rendezvous"), seen on 2 cores with 2 and 8 devices under load. ``cpu_devices`` / ``cpu_thread_pool`` give the pool
2 threads per device on top of the cores (``$PJRT_NPROC``, read when the backend starts).

References: JAX documentation, "Multi-process environments" (jax.distributed.initialize).
"""
from __future__ import annotations

import os

import jax

_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, auto_detect: bool = False,
               num_cpu_devices: int | None = None, cpu_collectives: str = "gloo") -> bool:
    """Start JAX's distributed runtime when asked to; return whether it is running.

    Args:
      coordinator_address: "host:port" of process 0 (default: $JAX_COORDINATOR_ADDRESS).
      num_processes: total number of processes (default: $JAX_NUM_PROCESSES).
      process_id: this process's index (default: $JAX_PROCESS_ID).
      auto_detect: call ``jax.distributed.initialize()`` with no address (TPU pods, SLURM, ...).
      num_cpu_devices: if given, ``jax_num_cpu_devices`` (host CPU devices per process).
      cpu_collectives: the CPU collectives implementation ("gloo"; "mpi" needs an MPI build).

    Without an address (argument or environment) and without ``auto_detect`` nothing starts
    (a single process) and False is returned.
    """
    address = coordinator_address or os.environ.get(_ENV[0]) or None
    if num_processes is None and os.environ.get(_ENV[1]):
        num_processes = int(os.environ[_ENV[1]])
    if process_id is None and os.environ.get(_ENV[2]):
        process_id = int(os.environ[_ENV[2]])
    if num_cpu_devices is not None:
        cpu_devices(num_cpu_devices)
    if address is None and not auto_detect:
        return False
    if address is not None and (num_processes is None or process_id is None):
        raise ValueError(f"coordinator_address={address!r} needs num_processes and process_id "
                         f"(arguments or ${_ENV[1]} / ${_ENV[2]})")
    if num_processes is not None and process_id is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"process_id={process_id} must lie in [0, num_processes={num_processes})")
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    if address is None:
        jax.distributed.initialize()
    else:
        jax.distributed.initialize(coordinator_address=address, num_processes=num_processes,
                                   process_id=process_id)
    return True


def cpu_devices(num_cpu_devices: int) -> None:
    """``num_cpu_devices`` host CPU devices in this process (``jax_num_cpu_devices``) and a thread
    pool sized for them (``cpu_thread_pool``); before the backend starts."""
    if num_cpu_devices < 1:
        raise ValueError(f"num_cpu_devices must be >= 1, got {num_cpu_devices}")
    jax.config.update("jax_num_cpu_devices", int(num_cpu_devices))
    cpu_thread_pool(int(num_cpu_devices))


def cpu_thread_pool(num_cpu_devices: int) -> int | None:
    """Size XLA:CPU's intra-op pool for ``num_cpu_devices`` devices: cores + 2 per device.

    Sets ``$PJRT_NPROC`` (unless it or ``$NPROC`` is already set: the user's choice wins) when
    there is more than one device. Returns the pool size that the environment now asks for, or
    None where XLA keeps its default (one device, nothing set). It takes effect only if the
    backend has not started yet.
    """
    if num_cpu_devices > 1 and not (os.environ.get("PJRT_NPROC") or os.environ.get("NPROC")):
        os.environ["PJRT_NPROC"] = str((os.cpu_count() or 1) + 2 * num_cpu_devices)
    size = os.environ.get("PJRT_NPROC") or os.environ.get("NPROC")
    return int(size) if size else None


def is_primary() -> bool:
    """True in process 0 (the one that writes logs, figures and JSON)."""
    return jax.process_index() == 0
