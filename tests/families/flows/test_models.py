"""Bijectors and flow models: invertibility, log-determinants against slogdet(jacfwd), actnorm's
data-dependent init, preprocessing log-densities, and clear errors on bad input."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.families import flows
from genjax.nets.flow_nets import MLP, ConvNet, init_key


def _perturb(params, seed, scale):
    """Move params off their (identity) initialisation so couplings are non-trivial maps.
    numpy noise: drawing it with jax.random would cost a compilation per test."""
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(
        lambda a: a + scale * jnp.asarray(rng.standard_normal(a.shape), a.dtype), params)


def _bijector_cases():
    img = (4, 4, 2)
    return {
        "additive_checkerboard": (flows.additive_coupling(flows.checkerboard_mask((4,), 0), MLP((8,), 4)), (4,)),
        "affine_checkerboard_vec": (flows.affine_coupling(flows.checkerboard_mask((4,), 1), MLP((8,), 8)), (4,)),
        "affine_checkerboard_img": (flows.affine_coupling(flows.checkerboard_mask(img, 0), ConvNet(4, 4)), img),
        "affine_channel_img": (flows.affine_coupling(flows.channel_mask(img, 1), ConvNet(4, 4)), img),
        "scaling": (flows.scaling(), (3,)),
        "actnorm_img": (flows.actnorm(), img),
        "invertible_linear_img": (flows.invertible_linear(2, seed=3), img),
        "invertible_linear_vec": (flows.invertible_linear(5, seed=1), (5,)),
        "squeeze": (flows.squeeze(), img),
        "factor_out": (flows.chain([flows.squeeze(), flows.factor_out(
            flows.affine_coupling(flows.channel_mask((2, 2, 4), 0), ConvNet(4, 8))),
            flows.invert(flows.squeeze())]), img),
        "logit": (flows.logit_transform(0.05), (3,)),
        "image_preprocessing": (flows.image_preprocessing(17, 0.05), (2, 2, 1)),
    }


CASES = _bijector_cases()


def _data(name, shape, seed=0):
    rng = np.random.default_rng(seed)
    if name == "logit":
        return jnp.asarray(rng.uniform(0.05, 0.95, (3,) + shape), jnp.float32)
    if name == "image_preprocessing":
        return jnp.asarray(rng.uniform(0.5, 16.5, (3,) + shape), jnp.float32)
    return jnp.asarray(rng.standard_normal((3,) + shape), jnp.float32)


def _check_everything(init, forward, inverse, x, key, scale, log_prob=None):
    """Init from x, perturb the params off the identity, then one compiled call: forward,
    inverse, the per-example Jacobian [B, D, D] and optionally log_prob."""
    shape = x.shape[1:]
    params = _perturb(jax.jit(init)(x, key), 1, scale)

    @jax.jit
    def run(params, x):
        y, ld = forward(params, x)
        xr, ld_inv = inverse(params, y)
        flat = lambda xi: forward(params, xi.reshape((1,) + shape))[0].reshape(-1)
        jac = jax.vmap(jax.jacfwd(flat))(x.reshape(x.shape[0], -1))
        logp = None if log_prob is None else log_prob(params, x)
        return y, ld, xr, ld_inv, jac, logp

    return run(params, x)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bijector_inverse_and_logdet(name, key):
    bij, shape = CASES[name]
    x = _data(name, shape)
    init = lambda x, k: bij.init(x, init_key(k))[0]
    y, ld, xr, ld_inv, jac, _ = _check_everything(init, bij.forward, bij.inverse, x, key, 0.3)
    # float32 round trip through a few exp/log and small convs: 1e-5 relative to O(1) data.
    np.testing.assert_allclose(xr, x, atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(ld_inv, -ld, atol=2e-5, rtol=1e-5)
    # logdet against slogdet of the full Jacobian (float32 Jacobian, float64 slogdet):
    # tolerance 1e-4 relative covers float32 rounding in a D <= 32 determinant.
    sign, logabs = np.linalg.slogdet(np.asarray(jac, np.float64))
    assert np.all(sign != 0)
    np.testing.assert_allclose(ld, logabs, atol=1e-4, rtol=1e-4)


MODEL_CASES = {
    "nice": (lambda: flows.nice(4, num_couplings=4, hidden=(8, 8)), (4,)),
    "realnvp": (lambda: flows.realnvp(4, num_couplings=4, hidden=(8,)), (4,)),
    "realnvp_image": (lambda: flows.realnvp_image((4, 4, 1), levels=2, hidden=4), (4, 4, 1)),
    "glow_vec": (lambda: flows.glow((2,), levels=1, steps_per_level=3, hidden=8), (2,)),
    "glow_image": (lambda: flows.glow((4, 4, 1), levels=2, steps_per_level=1, hidden=4), (4, 4, 1)),
}


@pytest.mark.parametrize("name", sorted(MODEL_CASES))
def test_flow_model_roundtrip_logdet_and_log_prob(name, key):
    make, shape = MODEL_CASES[name]
    f = make()
    x = _data(name, shape)
    z, ld, xr, ld_inv, jac, logp = _check_everything(f.init, f.forward, f.inverse, x, key, 0.1, f.log_prob)
    np.testing.assert_allclose(xr, x, atol=5e-5, rtol=1e-4)        # float32, many layers deep
    np.testing.assert_allclose(ld_inv, -ld, atol=5e-5, rtol=1e-4)
    np.testing.assert_allclose(ld, np.linalg.slogdet(np.asarray(jac, np.float64))[1], atol=2e-4, rtol=1e-4)
    # log p = log N(z) + logdet, by definition of the standard-normal base.
    expected = -0.5 * jnp.sum(z.reshape(3, -1) ** 2, -1) - 0.5 * z[0].size * math.log(2 * math.pi) + ld
    np.testing.assert_allclose(logp, expected, atol=1e-4, rtol=1e-5)


def test_sample_is_inverse_of_scaled_normal(key):
    f = flows.glow((2,), levels=1, steps_per_level=2, hidden=4)
    params = _perturb(jax.jit(f.init)(_data("glow", (2,)), key), 2, 0.1)
    both = jax.jit(lambda p, k: (f.sample(p, 4, k, temperature=0.7),
                                 f.inverse(p, 0.7 * jax.random.normal(k, (4, 2)))[0]))
    xs, expected = both(params, key)
    np.testing.assert_allclose(xs, expected, rtol=1e-6)


def test_actnorm_data_dependent_init(key):
    x = 3.0 + 2.5 * jax.random.normal(key, (64, 4, 4, 3)) * jnp.array([1.0, 0.1, 7.0])
    _, y = flows.actnorm().init(x, key)
    # Exact by construction up to float32 rounding of mean / std over 1024 values.
    np.testing.assert_allclose(jnp.mean(y, axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(jnp.std(y, axis=(0, 1, 2)), 1.0, atol=1e-4)


def test_glow_and_couplings_start_as_identity_up_to_actnorm(key):
    # Zero-initialised last layers: every coupling is the identity at init.
    bij = flows.affine_coupling(flows.channel_mask((4, 4, 2), 0), ConvNet(4, 4))
    x = jax.random.normal(key, (2, 4, 4, 2))
    params, y = bij.init(x, key)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(bij.forward(params, x)[1], 0.0)


def test_logit_preprocessing_density_matches_uniform(key):
    # A flow that is only the preprocessing maps v ~ U[0, K]^D to y with density such that
    # log p_v(v) = log N(y) + logdet; check the known form against a direct computation.
    k, alpha = 17, 0.05
    f = flows.from_bijector(flows.chain([]), (3,), flows.image_preprocessing(k, alpha))
    v = np.random.default_rng(0).uniform(0.0, float(k), (4, 3))          # float64 reference
    p = alpha + (1 - 2 * alpha) * v / k
    y = np.log(p / (1 - p))
    ld = np.sum(-math.log(k) + math.log(1 - 2 * alpha) - np.log(p) - np.log(1 - p), -1)
    expected = -0.5 * np.sum(y**2, -1) - 1.5 * math.log(2 * math.pi) + ld
    v32 = jnp.asarray(v, jnp.float32)
    # float32 logit of p in (0.05, 0.95): relative error ~1e-6 per term.
    np.testing.assert_allclose(jax.jit(f.log_prob)(f.init(v32, key), v32), expected, rtol=1e-5)
    # bits/dim of a log-density in nats.
    np.testing.assert_allclose(flows.bits_per_dim(np.float32(-3 * math.log(2.0) * 2), 3), 2.0, rtol=1e-6)


def test_bad_input_raises_clear_errors(key):
    with pytest.raises(ValueError, match="dim=5 is odd"):
        flows.checkerboard_mask((5,))
    with pytest.raises(ValueError, match="odd"):
        flows.realnvp(3)
    with pytest.raises(ValueError, match="divisible"):
        flows.glow((6, 6, 1), levels=2)
    with pytest.raises(ValueError, match="squeeze"):
        flows.squeeze().forward(None, jnp.zeros((1, 3, 4, 1)))
    with pytest.raises(ValueError, match="last axis must be even"):
        flows.channel_mask((4, 4, 3))
    f = flows.realnvp(4, num_couplings=2, hidden=(4,))
    params = f.init(jnp.zeros((2, 4)), key)
    with pytest.raises(ValueError, match=r"x must have shape \[B, 4\]"):
        f.log_prob(params, jnp.zeros((2, 6)))
    with pytest.raises(ValueError, match="event shape"):
        flows.affine_coupling(flows.checkerboard_mask((4,)), MLP((4,), 8)).init(jnp.zeros((2, 6)), key)
    with pytest.raises(ValueError, match="levels must be 1"):
        flows.glow((2,), levels=2)


def test_sample_count_must_be_a_positive_int(key):
    f = flows.realnvp(4, num_couplings=2, hidden=(4,))
    params = f.init(jnp.zeros((2, 4)), key)
    for n in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match=r"n \(the number of samples\) must be an int >= 1"):
            f.sample(params, n, key)
    assert f.sample(params, np.int64(3), key).shape == (3, 4)  # numpy ints are accepted
    cnf = flows.cnf(2, hidden=(4,), num_steps=2)
    with pytest.raises(ValueError, match=r"n \(the number of samples\)"):
        cnf.sample(cnf.init(jnp.zeros((2, 2)), key), 0, key)
