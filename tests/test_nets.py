"""Tests for genjax.nets: MLP shapes and conditioning, EDM preconditioning, denoiser_from (the image
networks: tests/test_nets_edm.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import nets, predictions, schedules
from genjax.data import mixture


# --- embeddings ---------------------------------------------------------------------------------------
def test_sinusoidal_closed_form():
    t = jnp.array([0.0, 0.3, 2.0])
    e = nets.sinusoidal(t, 8, max_period=100.0)
    w = 100.0 ** (-np.arange(4) / 4)
    ref = np.concatenate([np.cos(np.outer(t, w)), np.sin(np.outer(t, w))], -1)
    np.testing.assert_allclose(e, ref, rtol=1e-6, atol=1e-6)  # float32 cos/sin
    f = nets.fourier(t, 16)
    np.testing.assert_allclose(f, nets.fourier(t, 16), rtol=0)  # a constant, not a random draw
    np.testing.assert_allclose(jnp.sum(f**2, -1), 8.0, rtol=1e-5)  # cos^2 + sin^2 per frequency


# --- MLP ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlp_cond():
    net = nets.MLP(features=(32, 32), embed_dim=16, num_classes=3)
    x = jnp.ones((5, 2))
    return net, jax.jit(nets.apply_fn(net), static_argnames=("train",)), _init(net, x)


def test_mlp_shapes_time_broadcast_and_null_label(mlp_cond):
    net, apply, params = mlp_cond
    x = jax.random.normal(jax.random.key(2), (5, 2))
    out = apply(params, x, 0.3)
    assert out.shape == (5, 2)
    # atol 1e-6: separately compiled programs fuse float32 differently
    np.testing.assert_allclose(out, apply(params, x, jnp.full((5,), 0.3)), atol=1e-6)
    # label=None, NULL_LABEL and num_classes all select the same null row
    null = apply(params, x, 0.3, jnp.full((5,), nets.NULL_LABEL))
    np.testing.assert_allclose(out, null, atol=1e-6)
    np.testing.assert_allclose(out, apply(params, x, 0.3, jnp.full((5,), 3)), atol=1e-6)
    lab = apply(params, x, 0.3, jnp.array([0, 1, 2, 0, 1]))
    assert float(jnp.max(jnp.abs(lab - null))) > 1e-3
    assert float(jnp.max(jnp.abs(apply(params, x, 0.7) - out))) > 1e-3  # t matters


def test_mlp_flattens_images():
    net = nets.MLP(features=(16,), embed_dim=8, time_embedding="sinusoidal")
    x = jnp.ones((3, 8, 8, 1))
    shapes = jax.eval_shape(lambda: net.apply({"params": nets.init_params(net, x, jax.random.key(0))}, x, 0.1))
    assert shapes.shape == (3, 8, 8, 1)


# --- helpers -------------------------------------------------------------------------------------------
def _init(net, x, seed=0):
    """Random parameters without compiling flax's initialisers (XLA CPU compiles of many threefry
    calls dominate small tests): shapes by eval_shape, values from numpy; GroupNorm scales ~ 1."""
    shapes = jax.eval_shape(lambda: nets.init_params(net, x, jax.random.key(0)))
    rng = np.random.default_rng(seed)
    flat, tree = jax.tree_util.tree_flatten_with_path(shapes)
    vals = []
    for path, leaf in flat:
        scale = 1.0 if leaf.ndim < 2 else 1.0 / np.sqrt(np.prod(leaf.shape[:-1]))
        base = 1.0 if "scale" in jax.tree_util.keystr(path) else 0.0
        vals.append(jnp.asarray(base + scale * 0.5 * rng.normal(size=leaf.shape), jnp.float32))
    return jax.tree.unflatten(tree, vals)


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


def test_registry_and_errors():
    assert isinstance(nets.get("mlp", features=(8,)), nets.MLP)
    with pytest.raises(ValueError, match="unknown network"):
        nets.get("resnet")
    with pytest.raises(ValueError, match="predicts"):
        nets.denoiser_from(lambda *a, **k: a[1], None, schedules.edm(), "noise")
    net = nets.MLP(features=(8,), time_embedding="gaussian")
    with pytest.raises(ValueError, match="time_embedding"):
        nets.init_params(net, jnp.ones((2, 2)), jax.random.key(0))
    assert isinstance(nets.get("song_unet", img_resolution=8, in_channels=1, out_channels=1), nets.SongUNet)
    with pytest.raises(ValueError, match="x must be"):
        nets.init_params(nets.get("song_unet", img_resolution=8, in_channels=1, out_channels=1), jnp.ones((2, 8)),
                         jax.random.key(0))


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
