"""Diffusion samplers on (schedule, denoiser): ``x0, info = sample(denoiser, s, solver, ts, x_init, key)``.

Solvers (each a ``Sampler`` strategy; ``info.nfe`` counts denoiser calls exactly):

- probability-flow ODE: ``euler()``, ``heun()`` (EDM Algorithm 1), ``rk4()``, and the adaptive
  ``sample_adaptive(denoiser, s, x_init, rtol, atol)`` (Dormand-Prince 5(4));
- exponential integrators: ``ddim(eta)``, ``dpm_solver_pp(order=2)`` (2M, data prediction);
- stochastic: ``euler_maruyama()`` (reverse SDE), ``ancestral(variances=None)`` (DDPM, optional
  Analytic-DPM variances), ``predictor_corrector(snr, n_corrector)`` (Langevin corrector),
  ``edm_stochastic(s_churn, s_tmin, s_tmax, s_noise)`` (EDM Algorithm 2).
"""
from genjax.samplers.base import Sampler, SampleInfo, as_traced, check_schedule_grid, sample
from genjax.samplers.exponential import ddim, dpm_solver_pp
from genjax.samplers.ode import euler, heun, rk4, sample_adaptive
from genjax.samplers.parallel import sample_parallel
from genjax.samplers.stochastic import ancestral, edm_stochastic, euler_maruyama, predictor_corrector

__all__ = ["Sampler", "SampleInfo", "ancestral", "as_traced", "check_schedule_grid", "ddim", "dpm_solver_pp",
           "edm_stochastic", "euler", "euler_maruyama", "heun", "predictor_corrector", "rk4", "sample", "sample_adaptive",
           "sample_parallel"]
