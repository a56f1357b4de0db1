"""Flow matching (genjax/losses/flow.py) at the exact optimum: the irreducible error, and below perturbed
predictions."""
import jax
import numpy as np

from genjax import losses
from genjax.data import mixture
from tests.losses.oracles import S_RF, MU, S0, B, gaussian_denoiser, oracle_apply


def test_flow_matching_optimum_equals_irreducible_error(key):
    # Rectified path: velocity factor (alpha lambda')^2 = 1 / t^2, so the optimum is
    # s0^2 / ((1 - t)^2 s0^2 + t^2).
    t0 = 0.35
    loss_fn = losses.flow_matching(oracle_apply(S_RF, "velocity", gaussian_denoiser(S_RF)), S_RF,
                                   t_sampler=losses.time_sampler("fixed", t=t0))
    x = MU + S0 * jax.random.normal(key, (B, 2))
    loss, _ = jax.jit(loss_fn)(0.0, {"x": x}, jax.random.key(2))
    np.testing.assert_allclose(loss, S0**2 / ((1 - t0) ** 2 * S0**2 + t0**2), rtol=0.04)  # ~5 SE


def test_flow_matching_mixture_optimum_below_perturbations(key):
    gm = mixture.eight_gaussians_mixture()
    loss_fn = jax.jit(losses.flow_matching(oracle_apply(S_RF, "velocity", gm.denoiser(S_RF)), S_RF,
                                           t_sampler="logit_normal"))
    batch = {"x": gm.sample(8192, key)}
    best = loss_fn(0.0, batch, jax.random.key(6))[0]
    for p in (-0.05, 0.05):
        assert loss_fn(p, batch, jax.random.key(6))[0] > best
