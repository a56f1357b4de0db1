"""Tests for genjax/data/mixture_exact.py: the exact noised quantities of a Gaussian mixture.

Oracles: autodiff of the noised log-density (score), Tweedie's formula (denoiser), numerical
quadrature (normalisation), the closed forms at the clean and noise ends, and float64 versions
of the same quantities for float32 accuracy at both ends of every schedule.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import schedules as S
from genjax.data import mixture as M

SCHEDULES = {
    "vp_linear": S.vp_linear(), "vp_cosine": S.vp_cosine(), "sub_vp": S.sub_vp(), "ve": S.ve(),
    "edm": S.edm(), "rectified": S.rectified(),
}
FRACS = (0.0, 0.5, 1.0)  # t = t_min, the middle, t = t_max


def _times(s):
    return [s.t_min + f * (s.t_max - s.t_min) for f in FRACS]


@pytest.fixture(scope="module")
def problem():
    """A random 3-component diagonal mixture in 2-D, clean samples and noise (numpy, float32)."""
    gm = M.random_mixture(3, 2, jax.random.key(0))
    params = tuple(np.asarray(a) for a in (gm.means, gm.stds, gm.weights))
    x0 = np.asarray(gm.sample(48, jax.random.key(1)))
    eps = np.random.default_rng(2).normal(size=x0.shape).astype(np.float32)
    return params, x0, eps


def _evaluate(params, x0, eps, dtype):
    """{(schedule, t): (x_t, log p_t, score, D, autodiff score, alpha, sigma)} in `dtype`.

    The three times go in one batch (t as a [B] vector) and all schedules in one jitted call.
    """
    gm = M.GaussianMixture(*params)
    n = len(x0)
    inputs, coefs = {}, {}
    for name, s in SCHEDULES.items():
        tt = jnp.asarray(np.repeat(_times(s), n), dtype)
        a, sg = np.asarray(s.alpha(tt))[:, None], np.asarray(s.sigma(tt))[:, None]
        # the same float32 x_t in both precisions, so differences are pure arithmetic error
        xt = np.float32(a) * np.tile(x0, (3, 1)) + np.float32(sg) * np.tile(eps, (3, 1))
        inputs[name] = (jnp.asarray(xt.astype(np.float32), dtype), tt)
        coefs[name] = (a, sg)

    @jax.jit
    def all_schedules(inputs):
        res = {}
        for name, s in SCHEDULES.items():
            lp = gm.noised_log_prob(s)
            grad = jax.grad(lambda x, t: lp(x, t).sum())
            x, t = inputs[name]
            res[name] = (lp(x, t), gm.score(s)(x, t), gm.denoiser(s)(x, t), grad(x, t))
        return res

    res = all_schedules(inputs)
    out = {}
    for name, s in SCHEDULES.items():
        vals = [np.asarray(v, np.float64) for v in (inputs[name][0], *res[name], *coefs[name])]
        for i, t in enumerate(_times(s)):
            out[(name, t)] = tuple(v[i * n:(i + 1) * n] for v in vals)
    return out


@pytest.fixture(scope="module")
def results(problem):
    r32 = _evaluate(*problem, jnp.float32)
    with jax.enable_x64(True):
        r64 = _evaluate(*problem, jnp.float64)
    return r32, r64


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_score_is_gradient_and_denoiser_is_tweedie_float64(results, name):
    """In float64: score == grad_x log p_t (autodiff) and D == (x + sigma^2 score) / alpha.

    Tolerance 1e-9 relative to the largest entry: both sides are exact formulas, float64 round-off
    is ~1e-16 per op; dividing by alpha(t_max) ~ 6e-3 (VP) amplifies it by < 1e3.
    """
    _, r64 = results
    for t in _times(SCHEDULES[name]):
        x, _, sc, den, grad, a, sg = r64[(name, t)]
        np.testing.assert_allclose(sc, grad, rtol=0, atol=1e-9 * np.abs(grad).max())
        tweedie = (x + sg**2 * sc) / a
        np.testing.assert_allclose(den, tweedie, rtol=0, atol=1e-9 * np.abs(den).max())


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_float32_matches_float64_at_both_ends(results, name):
    """float32 log p_t, score, denoiser agree with float64 at t_min, middle and t_max, no NaN.

    Tolerance 2e-5 relative to the largest entry (~170 float32 ulps; measured errors are ~1e-6)
    and 2e-5 (1 + |log p|) for the log-density: a formula that cancelled catastrophically (e.g.
    score = (alpha D - x) / sigma^2 at sigma = 2e-3, or 1 - alpha^2 in float32) fails this.
    The float32 autodiff gradient must match the closed-form float32 score equally well.
    """
    r32, r64 = results
    for t in _times(SCHEDULES[name]):
        _, lp, sc, den, grad, _, _ = r32[(name, t)]
        _, lp6, sc6, den6, _, _, _ = r64[(name, t)]
        for v in (lp, sc, den, grad):
            assert np.all(np.isfinite(v))
        np.testing.assert_allclose(lp, lp6, rtol=0, atol=2e-5 * (1 + np.abs(lp6).max()))
        np.testing.assert_allclose(sc, sc6, rtol=0, atol=2e-5 * np.abs(sc6).max())
        np.testing.assert_allclose(den, den6, rtol=0, atol=2e-5 * np.abs(den6).max())
        np.testing.assert_allclose(grad, sc6, rtol=0, atol=2e-5 * np.abs(sc6).max())


def test_clean_end_t_zero_is_finite_and_exact():
    """At t = 0 (EDM / rectified grids with to_zero) sigma = 0: D(x) = x and log p_0 = log_prob.
    Rectified at t = 1 exactly: alpha = 0, x_t = eps ~ N(0, I) and D = E[x_0] (the mixture mean)."""
    gm = M.eight_gaussians_mixture()
    x = jnp.asarray(np.random.default_rng(3).normal(size=(16, 2)) * 2, jnp.float32)
    edm, rf = S.edm(), S.rectified(t_min=0.0, t_max=1.0)

    @jax.jit
    def ends(x):
        return {"edm": (gm.denoiser(edm)(x, 0.0), gm.noised_log_prob(edm)(x, 0.0)),
                "rf0": (gm.denoiser(rf)(x, 0.0), gm.noised_log_prob(rf)(x, 0.0)),
                "rf1": (gm.denoiser(rf)(x, 1.0), gm.noised_log_prob(rf)(x, 1.0)), "p0": gm.log_prob(x)}

    out = ends(x)
    for k in ("edm", "rf0"):
        np.testing.assert_allclose(out[k][0], x, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(out[k][1], out["p0"], rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(out["rf1"][0], np.broadcast_to(gm.mean(), x.shape), atol=1e-6)
    lp_normal = -0.5 * np.sum(np.asarray(x) ** 2, -1) - np.log(2 * np.pi)
    np.testing.assert_allclose(out["rf1"][1], lp_normal, rtol=1e-6, atol=1e-5)


def test_vector_t_matches_scalar_t(key):
    gm = M.random_mixture(4, 3, key)
    s = S.vp_linear()
    x = np.random.default_rng(5).normal(size=(6, 3)).astype(np.float32)
    ts = np.linspace(0.01, 0.99, 6, dtype=np.float32)
    vec = gm.score(s)(x, ts)
    row = np.stack([gm.score(s)(x[i:i + 1], ts[i])[0] for i in range(6)])
    np.testing.assert_allclose(vec, row, rtol=1e-6, atol=1e-6)


def test_log_prob_integrates_to_one_1d_and_2d():
    """Riemann sums: error < 1e-3 (steps <= 0.15 std; smooth integrands make the sum accurate
    far beyond that; mass outside the grids < 1e-8)."""
    gm1 = M.GaussianMixture(np.array([[-1.0], [2.0]]), np.array([0.3, 0.7]), np.array([0.25, 0.75]))
    x = jnp.linspace(-6.0, 8.0, 4001)[:, None]
    for lp in (gm1.log_prob, lambda x: gm1.noised_log_prob(S.vp_linear())(x, 0.5)):
        mass = float(jnp.sum(jnp.exp(lp(x))) * (x[1, 0] - x[0, 0]))
        assert abs(mass - 1.0) < 1e-3, mass
    gm2 = M.eight_gaussians_mixture()
    g = jnp.linspace(-5.0, 5.0, 201)
    xy = jnp.stack(jnp.meshgrid(g, g), -1).reshape(-1, 2)
    mass = float(jnp.sum(jnp.exp(gm2.log_prob(xy))) * (g[1] - g[0]) ** 2)
    assert abs(mass - 1.0) < 1e-3, mass
