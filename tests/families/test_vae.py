"""VAE / f-VAE bounds against the exact likelihood of a linear-Gaussian model.

With hidden=() the VAE is linear: p(z) = N(0, I), p(x|z) = N(z K + b, diag s^2), so
log p(x) = log N(x; b, K^T K + diag s^2) in closed form. Every bound must lie below it, the
importance-weighted bound must tighten with K, and with the exact posterior (diagonal here
because K has orthogonal rows and s is constant) the ELBO equals log p(x) for every sample.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from genjax.families import vae

DIM, LATENT = 3, 2
K = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float32)      # orthogonal rows
B = np.array([0.3, -0.2, 0.1], np.float32)
SIGMA_X = 0.5


def _exact_log_p(x):
    cov = K.T @ K + SIGMA_X**2 * np.eye(DIM)
    return scipy.stats.multivariate_normal(mean=B, cov=cov).logpdf(np.asarray(x, np.float64))


def _linear_params(params, exact_posterior):
    params = jax.tree_util.tree_map(lambda a: a, params)
    params["decoder"] = {"Dense_0": {"kernel": jnp.asarray(K), "bias": jnp.asarray(B)}}
    params["log_sigma_x"] = jnp.full((DIM,), math.log(SIGMA_X))
    if exact_posterior:
        # q = p(z|x): cov = (I + K K^T / s^2)^-1 (diagonal), mean = cov K (x - b) / s^2.
        post_var = 1.0 / (1.0 + np.diag(K @ K.T) / SIGMA_X**2)
        w_mu = (K.T / SIGMA_X**2) * post_var[None, :]
        kernel = np.concatenate([w_mu, np.zeros((DIM, LATENT), np.float32)], axis=1)
        bias = np.concatenate([-B @ w_mu, 0.5 * np.log(post_var)])
        params["encoder"] = {"Dense_0": {"kernel": jnp.asarray(kernel, jnp.float32),
                                         "bias": jnp.asarray(bias, jnp.float32)}}
    return params


@pytest.fixture(scope="module")
def data():
    return jax.random.normal(jax.random.key(1), (5, DIM)) * 1.5


def test_exact_posterior_makes_elbo_tight(data, key):
    v = vae.vae(DIM, LATENT, hidden=())
    params = _linear_params(v.init(data, key), exact_posterior=True)
    log_p = _exact_log_p(data)
    keys = jax.random.split(key, 2000)

    @jax.jit                                             # one compilation for the whole test
    def bounds(keys):
        return (v.iwae(params, data, 1, keys[0]), v.iwae(params, data, 7, keys[1]),
                jax.vmap(lambda k: v.elbo(params, data, k))(keys))

    iwae1, iwae7, elbos = map(np.asarray, bounds(keys))
    # Each importance weight p(x, z) / q(z|x) equals p(x) when q is the posterior, so IWAE_K
    # (K = 1: the sampled-KL ELBO) is log p(x) for every draw: float32 sums of O(10) terms, 1e-4.
    np.testing.assert_allclose(iwae1, log_p, atol=1e-4)
    np.testing.assert_allclose(iwae7, log_p, atol=1e-4)
    # The closed-form-KL ELBO still fluctuates through log p(x|z); its mean is log p(x) (4 SE).
    assert np.all(np.abs(elbos.mean(0) - log_p) < 4 * elbos.std(0) / math.sqrt(len(keys)))


@pytest.mark.parametrize("name", ["vae", "f_vae"])
def test_bounds_below_exact_and_iwae_tightens(name, data, key):
    model = vae.vae(DIM, LATENT, hidden=()) if name == "vae" else vae.f_vae(
        DIM, LATENT, hidden=(), num_flows=2, flow_hidden=(8,), context_dim=4)
    params = _linear_params(model.init(data, key), exact_posterior=False)
    if name == "f_vae":                                  # move the flow off the identity
        rng = np.random.default_rng(5)
        params["flow"] = jax.tree_util.tree_map(
            lambda a: a + 0.3 * jnp.asarray(rng.standard_normal(a.shape), a.dtype), params["flow"])
    log_p = _exact_log_p(data)
    n = 400
    keys = jax.random.split(jax.random.fold_in(key, 1), n)

    @jax.jit                                             # one compilation for the whole test
    def bounds(keys):
        per_key = lambda kk: ([model.iwae(params, data, k, kk) for k in (1, 10, 100)],
                              model.elbo(params, data, kk))
        return jax.vmap(per_key)(keys)

    iwaes, elbo = bounds(keys)
    elbo = np.asarray(elbo)
    means = {k: np.asarray(v).mean(0) for k, v in zip((1, 10, 100), iwaes)}
    ses = {k: np.asarray(v).std(0) / math.sqrt(n) for k, v in zip((1, 10, 100), iwaes)}
    # Every bound lies below log p(x) (Monte Carlo means, 4 standard errors of slack).
    for k in (1, 10, 100):
        assert np.all(means[k] <= log_p + 4 * ses[k] + 1e-4), (k, means[k], log_p)
    assert np.all(elbo.mean(0) <= log_p + 4 * elbo.std(0) / math.sqrt(n))
    # ELBO = IWAE_1 in expectation, and the bound tightens: IWAE_1 < IWAE_10 < IWAE_100 with a
    # gap of at least 4 combined standard errors at this random (mismatched) posterior.
    np.testing.assert_array_less(np.abs(elbo.mean(0) - means[1]), 4 * (ses[1] + elbo.std(0) / math.sqrt(n)))
    assert np.all(means[10] - means[1] > 4 * np.hypot(ses[10], ses[1]))
    assert np.all(means[100] - means[10] > 4 * np.hypot(ses[100], ses[10]))


def test_f_vae_with_affine_posterior_equals_vae_loss(key):
    """F_x(u) = sigma(x) u + mu(x) (no coupling layers): same params, same objective in expectation."""
    dim, latent = 6, 3
    x = jax.random.uniform(key, (4, dim))
    v = vae.vae(dim, latent, hidden=(8,))
    fv = vae.f_vae(dim, latent, hidden=(8,), num_flows=0)
    params = v.init(x, key)
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(fv.init(x, key))
    keys = jax.random.split(jax.random.fold_in(key, 3), 4000)
    diff = np.asarray(jax.jit(jax.vmap(lambda k: fv.elbo(params, x, k) - v.elbo(params, x, k)))(keys))
    # Same u for both with the same key: the reconstruction terms cancel exactly, and
    # E_u[log p(z) - log q(z|x)] = -KL (closed form in the VAE): mean difference 0 within 4 SE.
    assert np.all(np.abs(diff.mean(0)) < 4 * diff.std(0) / math.sqrt(len(keys)))
    assert np.all(diff.std(0) > 0)                    # f-VAE really uses the sampled estimator


def _small_vae(key):
    v = vae.vae(4, 2, hidden=(8,))
    return v, v.init(jnp.zeros((3, 4)), key)


def _elbo_of_wrong_shape(key):
    v, params = _small_vae(key)
    return v.elbo(params, jnp.zeros((3, 5)), key)


def _iwae_with_no_samples(key):
    v, params = _small_vae(key)
    return v.iwae(params, jnp.zeros((3, 4)), 0, key)


def test_vae_sample_shape(key):
    v, params = _small_vae(key)
    assert v.sample(params, 5, key).shape == (5, 4)


@pytest.mark.parametrize("call, match", [
    pytest.param(_elbo_of_wrong_shape, r"x must have shape \[B, 4\]", id="elbo_shape"),
    pytest.param(lambda k: vae.vae(4, 2, likelihood="poisson"), "likelihood", id="likelihood"),
    pytest.param(lambda k: vae.f_vae(4, 1, num_flows=2), "latent_dim >= 2", id="f_vae_latent_dim"),
    pytest.param(_iwae_with_no_samples, "num_samples", id="iwae_num_samples"),
])
def test_vae_bad_input(call, match, key):
    with pytest.raises(ValueError, match=match):
        call(key)
