"""One timing routine and one machine description for the benchmarks (``benchmarks/``) and the speed figures (``experiments/papers``).

It lives in the library, below both, so that figure scripts and benchmarks share it without
importing each other. Compile first (``lower(...).compile()``,
timed apart), one warm-up call, then ``repeats`` timed calls, each ended by ``block_until_ready``;
the median is reported. ``machine()`` is the description every benchmark's JSON carries.
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from typing import Any, NamedTuple, Optional


class Timing(NamedTuple):
    out: Any                 # the output of the warm-up call
    compile_seconds: float
    seconds: Optional[float]  # median over the timed calls (None for repeats = 0)
    compiled: Any            # the executable (``compiled.memory_analysis()``)


def timed(fn, args, repeats: int) -> Timing:
    """Time the jitted ``fn`` on ``args``: compile apart, warm up, median of ``repeats`` calls.

    ``repeats=0`` compiles and runs once (the output and compile time; ``seconds`` None).
    """
    import jax

    if repeats < 0:
        raise ValueError(f"timed: repeats must be >= 0, got {repeats}")
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - start
    out = jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return Timing(out, compile_s, statistics.median(times) if times else None, compiled)


def machine() -> dict:
    """Where a measurement ran: host, processor, CPU count and 1-minute load average (timings on
    a loaded machine are upper bounds), JAX backend and devices, Python / JAX / NumPy versions."""
    import jax
    import numpy as np

    devices = jax.devices()
    return {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
            "backend": jax.default_backend(), "devices": len(devices), "device_kind": devices[0].device_kind,
            "python": sys.version.split()[0], "jax": jax.__version__, "numpy": np.__version__}
