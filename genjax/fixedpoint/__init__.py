"""Parallel-in-time fixed-point solvers: non-linear RNNs and ODEs over the sequence length.

    from genjax import fixedpoint
    hs, info = fixedpoint.solve(step_fn, h0, xs, params, method=fixedpoint.newton())
    hs_new, f = fixedpoint.newton_sweep(step_fn, hs, h0, xs, params)      # one DEER sweep
    hs, info = fixedpoint.solve_window(step_fn, h0, xs, params, fixedpoint.picard(), window=8)

References: Lim et al. 2024, "Parallelizing Non-Linear Sequential Models over the Sequence
Length" (ICLR); Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of
Nonlinear RNNs" (NeurIPS).
"""
from genjax.fixedpoint import cells
from genjax.fixedpoint.elk import damped, elk_step
from genjax.fixedpoint.linear_scan import (linear_scan, linear_scan_associative,
                                           linear_scan_sequential)
from genjax.fixedpoint.methods import fallback, jacobi, newton, picard, sequential
from genjax.fixedpoint.ode import solve_ode
from genjax.fixedpoint.quasi import quasi_newton
from genjax.fixedpoint.solve import sequential_scan, solve
from genjax.fixedpoint.strategy import Info, Method
from genjax.fixedpoint.sweep import newton_sweep
from genjax.fixedpoint.window import WindowInfo, newton_blocks, solve_window

__all__ = [
    "Info", "Method", "cells", "damped", "elk_step", "fallback", "jacobi", "linear_scan",
    "linear_scan_associative", "linear_scan_sequential", "newton", "newton_sweep", "picard",
    "quasi_newton", "sequential", "sequential_scan", "solve", "solve_ode",
    "WindowInfo", "newton_blocks", "solve_window",
]
