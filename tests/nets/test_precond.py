"""Tests for genjax/nets/precond.py: EDM preconditioning, denoiser_from / velocity_from, the registry (the image
networks: tests/nets/test_torch_import.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import nets, predictions, schedules
from genjax.data import mixture


# --- EDM preconditioning and predictions ----------------------------------------------------------------
@pytest.mark.parametrize("s", [schedules.edm(), schedules.vp_linear(), schedules.rectified()], ids=lambda s: s.name)
def test_edm_coefficients_are_edm_on_the_rescaled_state(s):
    # D(x_t) = c_skip x_t + c_out F(c_in x_t) must equal EDM's formula on y = x_t / alpha at
    # s~ = sigma / alpha (predictions.edm_precond, Karras et al. Table 1).
    t = jnp.linspace(s.t_min + 0.01 * (s.t_max - s.t_min), s.t_max - 0.01 * (s.t_max - s.t_min), 7)
    a, sg = s.alpha(t), s.sigma(t)
    c_skip, c_out, c_in, c_noise = nets.edm_coefficients(s, t, 0.5)
    r_skip, r_out, r_in, r_noise = predictions.edm_precond(sg / a, 0.5)
    np.testing.assert_allclose(c_skip, r_skip / a, rtol=1e-4)   # float32; both sides exact formulas
    np.testing.assert_allclose(c_in, r_in / a, rtol=1e-4)
    np.testing.assert_allclose(c_out, r_out, rtol=1e-4)
    np.testing.assert_allclose(c_noise, r_noise, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(nets.edm_weight(s, t, 0.5), predictions.edm_loss_weight(sg / a, 0.5), rtol=1e-4)


@pytest.mark.parametrize("predicts", nets.PREDICTS)
def test_denoiser_from_recovers_the_exact_denoiser(predicts):
    # An "oracle network" that outputs the exact prediction of each kind must give back the
    # mixture's exact denoiser through nets.denoiser_from (and velocity_from the exact velocity).
    s = schedules.vp_cosine()
    gm = mixture.eight_gaussians_mixture()
    dstar = gm.denoiser(s)
    sd = 0.5

    def apply(params, x, t, label=None, train=False, key=None):
        if predicts != "edm":
            return predictions.from_denoiser(predicts, s, dstar(x, t), x, t)
        tt = s.t_from_log_snr(-4.0 * t)  # c_noise = -lambda / 4
        c_skip, c_out, c_in, _ = (c[:, None] for c in nets.edm_coefficients(s, tt, sd))
        xt = x / c_in
        return (dstar(xt, tt) - c_skip * xt) / c_out

    x = gm.sample(16, jax.random.key(0)) * 0.8 + 0.3
    t = jnp.linspace(0.05, 0.9, 16)
    d = jax.jit(nets.denoiser_from(apply, None, s, predicts, sigma_data=sd))(x, t)
    # float32 round trips (EDM: c_noise -> t by bisection) around an O(1) answer
    np.testing.assert_allclose(d, dstar(x, t), rtol=2e-3, atol=2e-3)
    u = jax.jit(nets.velocity_from(apply, None, s, predicts, sigma_data=sd))(x, t)
    np.testing.assert_allclose(u, predictions.from_denoiser("velocity", s, dstar(x, t), x, t), rtol=5e-3, atol=5e-3)


def test_registry():
    assert isinstance(nets.get("mlp", features=(8,)), nets.MLP)
    assert isinstance(nets.get("song_unet", img_resolution=8, in_channels=1, out_channels=1), nets.SongUNet)


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda: nets.get("resnet"), "unknown network", id="unknown_network"),
    pytest.param(lambda: nets.denoiser_from(lambda *a, **k: a[1], None, schedules.edm(), "noise"), "predicts",
                 id="predicts"),
    pytest.param(lambda: nets.init_params(nets.MLP(features=(8,), time_embedding="gaussian"), jnp.ones((2, 2)),
                                          jax.random.key(0)), "time_embedding", id="time_embedding"),
    pytest.param(lambda: nets.init_params(nets.get("song_unet", img_resolution=8, in_channels=1, out_channels=1),
                                          jnp.ones((2, 8)), jax.random.key(0)), "x must be", id="unet_x_rank"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_denoiser_from_carries_params_as_leaves():
    # The sampler traces params (new params reuse the compiled sampler): same apply -> same treedef.
    apply = lambda p, x, t, label=None, train=False, key=None: p * x
    s = schedules.rectified()
    d1 = nets.denoiser_from(apply, jnp.float32(1.0), s, "velocity")
    d2 = nets.denoiser_from(apply, jnp.float32(2.0), s, "velocity")
    assert jax.tree.structure(d1) == jax.tree.structure(d2)
    assert [float(v) for v in jax.tree.leaves(d2)] == [2.0]
    x = jnp.ones((3, 2))
    # rectified velocity u = 2x <-> D = x - t u = (1 - 2t) x
    np.testing.assert_allclose(jax.jit(lambda d, x: d(x, 0.25))(d2, x), 0.5 * x, rtol=1e-5)
