"""Tests for genjax.nets: shapes, conditioning, dropout, remat, EDM preconditioning, denoiser_from."""
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


# --- U-Net --------------------------------------------------------------------------------------------
UNET = dict(ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), num_groups=4, dropout=0.2)


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


@pytest.fixture(scope="module")
def unet():
    net = nets.UNet(**UNET, num_classes=10)
    return net, _init(net, jnp.ones((2, 8, 8, 1)))


def test_unet_digits_forward_label_and_dropout(unet):
    net, params = unet
    apply = nets.apply_fn(net)
    x = jnp.tile(jax.random.normal(jax.random.key(3), (1, 8, 8, 1)), (4, 1, 1, 1))
    lab = jnp.array([1, 2, -1, -1])

    @jax.jit
    def run(params, x):
        return apply(params, x, 0.4, lab), apply(params, x, 0.4, lab, True, jax.random.key(4))

    ev, dr = run(params, x)
    assert ev.shape == (4, 8, 8, 1) and np.all(np.isfinite(np.asarray(ev)))
    assert float(jnp.max(jnp.abs(ev[0] - ev[1]))) > 1e-4   # the label conditions the output
    np.testing.assert_allclose(ev[2], ev[3], atol=1e-6)     # same input, same (null) label
    assert float(jnp.max(jnp.abs(dr[2] - dr[3]))) > 1e-4   # dropout masks differ per example
    assert float(jnp.max(jnp.abs(dr - ev))) > 1e-4


def test_unet_remat_gives_identical_outputs_and_gradients():
    # one resolution level keeps the compile small; remat wraps every residual / attention block
    cfg = dict(UNET, ch_mult=(1,), attn_resolutions=(8,), num_classes=10)
    net, net_r = nets.UNet(**cfg), nets.UNet(**cfg, remat=True)
    params = _init(net, jnp.ones((2, 8, 8, 1)))
    assert jax.tree.structure(params) == jax.tree.structure(jax.eval_shape(
        lambda: nets.init_params(net_r, jnp.ones((2, 8, 8, 1)), jax.random.key(0))))
    x = jax.random.normal(jax.random.key(6), (2, 8, 8, 1))
    lab = jnp.array([3, 4])

    def loss(apply, p):
        return jnp.sum(apply(p, x, jnp.array([0.2, 0.9]), lab, True, jax.random.key(7)) ** 2)

    f = jax.jit(lambda p: jax.value_and_grad(lambda q: loss(nets.apply_fn(net), q))(p))
    g = jax.jit(lambda p: jax.value_and_grad(lambda q: loss(nets.apply_fn(net_r), q))(p))
    (v1, g1), (v2, g2) = f(params), g(params)
    np.testing.assert_allclose(v1, v2, rtol=1e-5)  # same parameters pytree, same arithmetic
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)  # float32 recomputation order


@pytest.mark.parametrize("shape,mult,attn", [((2, 28, 28, 1), (1, 2, 2), (14,)), ((2, 32, 32, 3), (1, 2, 2, 2), (16,))])
def test_unet_odd_and_cifar_shapes(shape, mult, attn):
    # 28 -> 14 -> 7 -> 14 -> 28: upsampling resizes to the skip's shape (shape inference only)
    net = nets.get("unet", ch=8, ch_mult=mult, num_res_blocks=1, attn_resolutions=attn, num_groups=4,
                   time_embedding="fourier")
    x = jnp.ones(shape)

    def fwd():
        p = nets.init_params(net, x, jax.random.key(0))
        return nets.apply_fn(net)(p, x, 0.5)

    assert jax.eval_shape(fwd).shape == shape


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
    with pytest.raises(ValueError, match="UNet"):
        nets.init_params(nets.UNet(ch=8, num_groups=4), jnp.ones((2, 8)), jax.random.key(0))


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
