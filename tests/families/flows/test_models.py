"""Flow models (genjax/families/flows/models.py): invertibility, log-determinants against
slogdet(jacfwd), log_prob, sampling, preprocessing log-densities, and clear errors on bad input."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.families import flows
from tests.families.flows.checks import check_everything, perturb, sample_data


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
    x = sample_data(name, shape)
    z, ld, xr, ld_inv, jac, logp = check_everything(f.init, f.forward, f.inverse, x, key, 0.1, f.log_prob)
    np.testing.assert_allclose(xr, x, atol=5e-5, rtol=1e-4)        # float32, many layers deep
    np.testing.assert_allclose(ld_inv, -ld, atol=5e-5, rtol=1e-4)
    np.testing.assert_allclose(ld, np.linalg.slogdet(np.asarray(jac, np.float64))[1], atol=2e-4, rtol=1e-4)
    # log p = log N(z) + logdet, by definition of the standard-normal base.
    expected = -0.5 * jnp.sum(z.reshape(3, -1) ** 2, -1) - 0.5 * z[0].size * math.log(2 * math.pi) + ld
    np.testing.assert_allclose(logp, expected, atol=1e-4, rtol=1e-5)


def test_sample_is_inverse_of_scaled_normal(key):
    f = flows.glow((2,), levels=1, steps_per_level=2, hidden=4)
    params = perturb(jax.jit(f.init)(sample_data("glow", (2,)), key), 2, 0.1)
    both = jax.jit(lambda p, k: (f.sample(p, 4, k, temperature=0.7),
                                 f.inverse(p, 0.7 * jax.random.normal(k, (4, 2)))[0]))
    xs, expected = both(params, key)
    np.testing.assert_allclose(xs, expected, rtol=1e-6)


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


def _realnvp_log_prob_wrong_shape(key):
    f = flows.realnvp(4, num_couplings=2, hidden=(4,))
    return f.log_prob(f.init(jnp.zeros((2, 4)), key), jnp.zeros((2, 6)))


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda k: flows.realnvp(3), "odd", id="realnvp_odd"),
    pytest.param(lambda k: flows.glow((6, 6, 1), levels=2), "divisible", id="glow_divisible"),
    pytest.param(_realnvp_log_prob_wrong_shape, r"x must have shape \[B, 4\]", id="log_prob_shape"),
    pytest.param(lambda k: flows.glow((2,), levels=2), "levels must be 1", id="glow_vector_levels"),
])
def test_model_bad_input_raises(call, match, key):
    with pytest.raises(ValueError, match=match):
        call(key)


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
