"""Bijectors (genjax/families/flows/bijectors.py, coupling.py, preprocessing.py): invertibility, log-determinants
against slogdet(jacfwd), actnorm's data-dependent init, identity at initialisation, clear errors on bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.families import flows
from genjax.nets.flow_nets import MLP, ConvNet, init_key
from tests.families.flows.checks import check_everything, sample_data


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


@pytest.mark.parametrize("name", sorted(CASES))
def test_bijector_inverse_and_logdet(name, key):
    bij, shape = CASES[name]
    x = sample_data(name, shape)
    init = lambda x, k: bij.init(x, init_key(k))[0]
    y, ld, xr, ld_inv, jac, _ = check_everything(init, bij.forward, bij.inverse, x, key, 0.3)
    # float32 round trip through a few exp/log and small convs: 1e-5 relative to O(1) data.
    np.testing.assert_allclose(xr, x, atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(ld_inv, -ld, atol=2e-5, rtol=1e-5)
    # logdet against slogdet of the full Jacobian (float32 Jacobian, float64 slogdet):
    # tolerance 1e-4 relative covers float32 rounding in a D <= 32 determinant.
    sign, logabs = np.linalg.slogdet(np.asarray(jac, np.float64))
    assert np.all(sign != 0)
    np.testing.assert_allclose(ld, logabs, atol=1e-4, rtol=1e-4)


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


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda k: flows.checkerboard_mask((5,)), "dim=5 is odd", id="checkerboard_odd"),
    pytest.param(lambda k: flows.squeeze().forward(None, jnp.zeros((1, 3, 4, 1))), "squeeze", id="squeeze"),
    pytest.param(lambda k: flows.channel_mask((4, 4, 3)), "last axis must be even", id="channel_mask_odd"),
    pytest.param(lambda k: flows.affine_coupling(flows.checkerboard_mask((4,)), MLP((4,), 8)).init(jnp.zeros((2, 6)), k),
                 "event shape", id="coupling_event_shape"),
])
def test_bijector_bad_input_raises(call, match, key):
    with pytest.raises(ValueError, match=match):
        call(key)
