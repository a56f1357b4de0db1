"""Generic ODE / SDE integrators on pytree states: fixed-grid steppers run by ``integrate`` over
``lax.scan`` and an adaptive Dormand-Prince 5(4) solve (``dopri5``) with PI step-size control.

    x1, info = integrate(field, heun(), ts, x0)          # field(t, x) -> dx/dt, info.nfe
    x1, info = dopri5(field, t0, t1, x0, rtol=1e-5, atol=1e-5)   # info.converged, info.nfe
    x1, info = adaptive(1e-5, 1e-5).solve(field, t0, t1, x0)      # the step-size controller as a strategy
"""
from genjax.integrators.adaptive import AdaptiveInfo, dopri5
from genjax.integrators.base import IntegrateInfo, Solver, integrate
from genjax.integrators.ode import euler, heun, midpoint, rk4
from genjax.integrators.sde import SDE, euler_maruyama
from genjax.integrators.stepping import StepInfo, Stepping, adaptive, fixed

__all__ = ["AdaptiveInfo", "IntegrateInfo", "SDE", "Solver", "StepInfo", "Stepping", "adaptive", "dopri5", "euler",
           "euler_maruyama", "fixed", "heun", "integrate", "midpoint", "rk4"]
