"""Tests for genjax.predictions: round trips for every kind and schedule, and closed forms."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import predictions, schedules
from tests.schedules.cases import ALL as SCHEDULES


def _times(s, n=7):
    # Interior grid plus both ends (the ends are the worst-conditioned points).
    return jnp.linspace(s.t_min, s.t_max, n, dtype=jnp.float32)


def _draws(key, n, d=3):
    k1, k2 = jax.random.split(key)
    return jax.random.normal(k1, (n, d)), jax.random.normal(k2, (n, d))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_round_trip(name, key):
    s = SCHEDULES[name]
    t = _times(s)
    x0, eps = _draws(key, t.shape[0])
    x = s.alpha(t)[:, None] * x0 + s.sigma(t)[:, None] * eps

    @jax.jit
    def trips(x0, x, t):
        outs = {k: predictions.from_denoiser(k, s, x0, x, t) for k in predictions.KINDS}
        return outs, {k: predictions.to_denoiser(k, s, o, x, t) for k, o in outs.items()}

    outs, backs = trips(x0, x, t)
    # float32: each conversion divides by alpha or sigma, amplifying rounding of |x| by at most
    # max(|x|/alpha, |x|/sigma) ~ 1e4 at the ill-conditioned ends; relative 1e-5 of that bound is
    # loose there and tight (~1e-5 absolute) in the interior.
    a, sg = s.alpha(t)[:, None], s.sigma(t)[:, None]
    scale = np.asarray(1.0 + jnp.abs(x) * (1.0 / a + 1.0 / sg))
    for kind in predictions.KINDS:
        assert np.all(np.isfinite(np.asarray(outs[kind]))), kind
        assert np.all(np.abs(np.asarray(backs[kind] - x0)) <= 1e-5 * scale), kind


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_any_to_any_round_trip(name, key):
    s = SCHEDULES[name]
    t = jnp.linspace(s.t_min + 0.1 * (s.t_max - s.t_min), s.t_min + 0.9 * (s.t_max - s.t_min), 5)
    x0, eps = _draws(key, t.shape[0])
    x = s.alpha(t)[:, None] * x0 + s.sigma(t)[:, None] * eps

    @jax.jit
    def pairs(x0, x, t):
        refs = {k: predictions.from_denoiser(k, s, x0, x, t) for k in predictions.KINDS}
        return refs, {(a, b): predictions.convert(a, b, s, refs[a], x, t)
                      for a in predictions.KINDS for b in predictions.KINDS}

    refs, outs = pairs(x0, x, t)
    for (a, b), out_b in outs.items():
        ref = refs[b]
        # interior times, float32: relative 1e-4 of the output magnitude
        np.testing.assert_allclose(out_b, ref, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(ref))),
                                   err_msg=f"{a} -> {b}")


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_closed_forms(name, key):
    """With D = x0 (a one-point posterior): eps, score, v and velocity have closed forms."""
    s = SCHEDULES[name]
    t = jnp.linspace(s.t_min + 0.05 * (s.t_max - s.t_min), s.t_min + 0.95 * (s.t_max - s.t_min), 5)
    x0, eps = _draws(key, t.shape[0])

    @jax.jit
    def run(x0, eps, t):
        a, sg = s.alpha(t)[:, None], s.sigma(t)[:, None]
        x = a * x0 + sg * eps
        got = {k: predictions.from_denoiser(k, s, x0, x, t) for k in ("eps", "score", "v", "velocity")}
        # velocity: d/dt [alpha(t) x0 + sigma(t) eps] by forward-mode autodiff of the path
        path = lambda tt: s.alpha(tt)[:, None] * x0 + s.sigma(tt)[:, None] * eps
        want = {"eps": eps, "score": -eps / sg, "v": (a * eps - sg * x0) / jnp.sqrt(a**2 + sg**2),
                "velocity": jax.jvp(path, (t,), (jnp.ones_like(t),))[1]}
        return got, want, sg

    got, want, sg = run(x0, eps, t)
    tol = dict(rtol=2e-4, atol=2e-4)  # float32 arithmetic on O(1)-O(50) values
    np.testing.assert_allclose(got["eps"], want["eps"], **tol)
    np.testing.assert_allclose(got["score"] * sg, want["score"] * sg, **tol)  # compare sigma * score
    np.testing.assert_allclose(got["v"], want["v"], **tol)
    np.testing.assert_allclose(got["velocity"], want["velocity"], rtol=1e-4,
                               atol=1e-4 * float(jnp.max(jnp.abs(want["velocity"]))))


def test_v_is_salimans_ho_on_vp(key):
    s = schedules.vp_cosine()
    t = jnp.array([0.1, 0.5, 0.9])
    x0, eps = _draws(key, 3)

    @jax.jit
    def run(x0, eps, t):
        a, sg = s.alpha(t)[:, None], s.sigma(t)[:, None]
        return predictions.from_denoiser("v", s, x0, a * x0 + sg * eps, t), a * eps - sg * x0

    v, ref = run(x0, eps, t)
    np.testing.assert_allclose(v, ref, rtol=1e-5, atol=1e-5)  # n = 1 exactly on VP


def test_broadcast_scalar_and_batched_t_over_images(key):
    s = schedules.vp_linear()
    x = jax.random.normal(key, (4, 2, 3, 3))

    @jax.jit
    def run(x):
        d = 0.5 * x
        return (predictions.from_denoiser("eps", s, d, x, 0.3),
                predictions.from_denoiser("eps", s, d, x, jnp.full((4,), 0.3)),
                jax.vmap(lambda xi, ti: predictions.to_denoiser("v", s, xi[None], xi[None], ti)[0])(
                    x, jnp.linspace(0.1, 0.9, 4)))

    out_scalar, out_batched, out_vmap = run(x)
    np.testing.assert_allclose(out_scalar, out_batched, rtol=1e-6)
    assert out_scalar.shape == x.shape and out_vmap.shape == x.shape


_VP = schedules.vp_linear()
_Z = jnp.zeros((2, 2))


@pytest.mark.parametrize("call", [
    pytest.param(lambda: predictions.to_denoiser("noise", _VP, _Z, _Z, 0.5), id="to_denoiser"),
    pytest.param(lambda: predictions.from_denoiser("flow", _VP, _Z, _Z, 0.5), id="from_denoiser"),
    pytest.param(lambda: predictions.denoiser_from_prediction(lambda x, t: x, "eps0", _VP),
                 id="denoiser_from_prediction"),
])
def test_unknown_kind_raises(call):
    with pytest.raises(ValueError, match="prediction kind"):
        call()


def test_edm_precond_closed_forms():
    sd = 0.5
    sigma = jnp.array([0.002, 0.1, 0.5, 2.0, 80.0])
    c_skip, c_out, c_in, c_noise = predictions.edm_precond(sigma, sd)
    # Gaussian data N(0, sd^2), alpha = 1: exact D = sd^2 / (sigma^2 + sd^2) x = c_skip x, so an
    # ideal network outputs F = 0; c_in normalises Var(x_sigma) = sigma^2 + sd^2 to one.
    np.testing.assert_allclose(c_skip, sd**2 / (sigma**2 + sd**2), rtol=1e-6)
    np.testing.assert_allclose(c_in**2 * (sigma**2 + sd**2), 1.0, rtol=1e-5)
    # Var of the F-target (x0 - c_skip x) / c_out is one for every sigma (Karras et al. eq. 8).
    var_target = ((1 - c_skip) ** 2 * sd**2 + c_skip**2 * sigma**2) / c_out**2
    np.testing.assert_allclose(var_target, 1.0, rtol=1e-4)
    np.testing.assert_allclose(c_noise, 0.25 * np.log(np.asarray(sigma)), rtol=1e-6)
    np.testing.assert_allclose(predictions.edm_loss_weight(sigma, sd) * c_out**2, 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="sigma_data"):
        predictions.edm_precond(sigma, 0.0)


def test_edm_target_is_minus_v_for_unit_data(key):
    """With sd = 1 and alpha = 1, EDM's F-target (x0 - c_skip x)/c_out is -v (normalised v)."""
    s = schedules.edm(sigma_data=1.0)
    sigma = jnp.array([0.1, 1.0, 10.0])
    x0, eps = _draws(key, 3)
    x = x0 + sigma[:, None] * eps
    c_skip, c_out, _, _ = predictions.edm_precond(sigma, 1.0)
    target = (x0 - c_skip[:, None] * x) / c_out[:, None]
    v = predictions.from_denoiser("v", s, x0, x, sigma)
    np.testing.assert_allclose(target, -v, rtol=1e-4, atol=1e-5)
