"""Diffusion losses (genjax/losses/diffusion.py: dsm, edm) at the exact optimum; shapes; argument errors.

Oracles: the exact Gaussian denoiser and posterior variance of tests/losses/oracles.py; every target's
irreducible error is the denoiser's times the exact factor exp(log_target_factor). Gaussian mixtures use
genjax.data.GaussianMixture's exact denoiser.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import losses, schedules
from genjax.data import mixture
from tests.losses.oracles import S_VP, S_EDM, SCHEDULES, MU, S0, B, gaussian_denoiser, oracle_apply, posterior_var


@pytest.mark.parametrize("name,target,t0", [("vp_linear", "eps", 0.3), ("vp_linear", "x0", 0.6),
                                            ("vp_cosine", "v", 0.5), ("ve", "score", 0.4),
                                            ("rectified", "velocity", 0.7)])
def test_dsm_optimum_equals_irreducible_error(name, target, t0, key):
    s = SCHEDULES[name]
    loss_fn = losses.dsm(oracle_apply(s, target, gaussian_denoiser(s)), s, target,
                         t_sampler=losses.time_sampler("fixed", t=t0))
    x = MU + S0 * jax.random.normal(key, (B, 2))
    loss, aux = jax.jit(loss_fn)(0.0, {"x": x}, jax.random.key(1))
    expect = posterior_var(s, t0) * jnp.exp(losses.log_target_factor(target, s, jnp.float32(t0)))
    # 4% = ~5 standard errors of the Monte Carlo mean (B = 40000)
    np.testing.assert_allclose(loss, expect, rtol=0.04)
    np.testing.assert_allclose(aux["mse"], loss, rtol=1e-6)  # weighting "none"


def test_edm_loss_at_optimum_is_one_when_sigma_data_matches(key):
    # lambda(sigma) Var(x0 | x_t) = (sigma^2 + sd^2)/(sigma sd)^2 * sd^2 sigma^2/(sd^2 + sigma^2) = 1
    # at every sigma when the data are N(mu, sd^2): EDM's unit-variance training target, exactly.
    sd = S0
    s = schedules.edm(sigma_data=sd)
    dstar = gaussian_denoiser(s, s0=sd)

    def apply(params, x_in, c_noise, label=None, train=False, key=None):
        sigma = jnp.exp(4.0 * c_noise)[:, None]
        x = x_in * jnp.sqrt(sigma**2 + sd**2)
        c_skip, c_out = sd**2 / (sigma**2 + sd**2), sigma * sd / jnp.sqrt(sigma**2 + sd**2)
        return (dstar(x, sigma[:, 0]) - c_skip * x) / c_out + params * jnp.tanh(x_in)

    loss_fn = jax.jit(losses.edm(apply, s))
    x = MU + sd * jax.random.normal(key, (B, 2))
    loss, _ = loss_fn(0.0, {"x": x}, jax.random.key(3))
    np.testing.assert_allclose(loss, 1.0, rtol=0.03)  # ~4 SE of a chi-square(2)/2 mean
    worse, _ = loss_fn(0.2, {"x": x}, jax.random.key(3))
    assert worse > loss + 1e-3


def test_edm_loss_general_schedule_matches_weighted_denoiser_error(key):
    # On VP the EDM loss (computed on F) equals lambda(sigma/alpha) ||D - x0||^2 for the D it implies.
    s = S_VP
    t0 = 0.4
    apply_d = lambda p, x, t, label=None, train=False, key=None: 0.9 * x + p  # an arbitrary D
    from genjax.nets import edm_coefficients

    def apply_f(params, x_in, c_noise, label=None, train=False, key=None):
        c_skip, c_out, c_in, _ = (c[:, None] for c in edm_coefficients(s, jnp.full(x_in.shape[:1], t0), 0.5))
        x = x_in / c_in
        return (apply_d(params, x, t0) - c_skip * x) / c_out

    fixed = losses.time_sampler("fixed", t=t0)
    x = jax.random.normal(key, (64, 3))
    got, _ = losses.edm(apply_f, s, t_sampler=fixed)(0.1, {"x": x}, jax.random.key(4))
    # the same draws: dsm's key split gives the same (t, eps) for the same key
    ref, _ = losses.dsm(lambda p, xt, t, *a, **k: apply_d(p, xt, t), s, "x0",
                        weighting=losses.weighting("edm", sigma_data=0.5), t_sampler=fixed)(0.1, {"x": x},
                                                                                           jax.random.key(4))
    np.testing.assert_allclose(got, ref, rtol=1e-4)  # float32 round trip through c_in, c_out


# --- losses at the optimum: mixtures (below perturbed predictions) -----------------------------------
@pytest.mark.parametrize("target,weighting,t_sampler", [("eps", "likelihood", "importance"),
                                                        ("v", "min_snr", "uniform"),
                                                        ("x0", "snr", "logit_normal")])
def test_dsm_mixture_optimum_below_perturbations(target, weighting, t_sampler, key):
    gm = mixture.eight_gaussians_mixture()
    s = S_VP
    loss_fn = jax.jit(losses.dsm(oracle_apply(s, target, gm.denoiser(s)), s, target, weighting, t_sampler))
    batch = {"x": gm.sample(8192, key)}
    k = jax.random.key(5)  # common random numbers: the same (t, eps) for every perturbation
    best = loss_fn(0.0, batch, k)[0]
    for p in (-0.05, 0.05):
        assert loss_fn(p, batch, k)[0] > best, (target, p)


# --- likelihood weighting and the ELBO ----------------------------------------------------------------
def test_likelihood_weighted_dsm_difference_is_kl_difference(key):
    # For forward diffusions of p0 = N(0, 1) and q0 = N(0, s1^2), the model with score grad log q_t
    # satisfies (Song et al. 2021, Thm 1 with equality; Lyu 2009):
    #   J_DSM(q) - J_DSM(p) = 1/2 int g^2 E_p ||grad log p_t - grad log q_t||^2 dt
    #                       = KL(p_{t_min} || q_{t_min}) - KL(p_{t_max} || q_{t_max}).
    # The likelihood-weighted loss is J_DSM / d, so d * (loss_q - loss_p) must equal the KL difference.
    s, d, s1 = S_VP, 2, 1.5
    p_apply = oracle_apply(s, "eps", gaussian_denoiser(s, mu=0.0, s0=1.0))
    q_apply = oracle_apply(s, "eps", gaussian_denoiser(s, mu=0.0, s0=s1))
    lp = losses.dsm(p_apply, s, "eps", "likelihood", "importance")
    lq = losses.dsm(q_apply, s, "eps", "likelihood", "importance")

    @jax.jit
    def diff(k):
        k_x, k_loss = jax.random.split(k)  # independent of the loss's own draws
        x = jax.random.normal(k_x, (4096, d))
        return d * (lq(0.0, {"x": x}, k_loss)[0] - lp(0.0, {"x": x}, k_loss)[0])

    vals = jax.vmap(diff)(jax.random.split(key, 32))
    est, se = float(jnp.mean(vals)), float(jnp.std(vals) / np.sqrt(vals.shape[0]))

    def kl(t):  # KL(N(0, vp) || N(0, vq)) per dimension times d; VP keeps p_t = N(0, 1)
        a2 = float(s.alpha(jnp.float32(t))) ** 2
        vp, vq = 1.0, a2 * s1**2 + (1 - a2)
        return d * 0.5 * (vp / vq - 1 - np.log(vp / vq))

    expect = kl(s.t_min) - kl(s.t_max)
    assert abs(est - expect) < 5 * se + 1e-3, (est, expect, se)  # 5 standard errors
    assert se < 0.1 * expect  # the check has teeth


def test_loss_shapes_and_labels_reach_the_network(key):
    seen = {}

    def apply(params, x, t, label=None, train=False, key=None):
        seen["shapes"] = (x.shape, t.shape, None if label is None else label.shape, train)
        return params * x

    batch = {"x": jnp.ones((4, 8, 8, 1)), "label": jnp.arange(4)}
    for fn in (losses.dsm(apply, S_VP, p_uncond=0.1), losses.flow_matching(apply, p_uncond=0.1),
               losses.edm(apply, S_EDM)):
        loss, aux = jax.jit(fn)(1.0, batch, key)
        assert loss.shape == () and set(aux) == {"loss", "mse"} and np.isfinite(float(loss))
        assert seen["shapes"] == ((4, 8, 8, 1), (4,), (4,), True)
    g = jax.jit(jax.grad(lambda p: losses.dsm(apply, S_VP)(p, batch, key)[0]))(1.0)
    assert np.isfinite(float(g))


def _identity_apply(p, x, t, *a, **k):
    return x


_A = _identity_apply
_BATCH = {"x": jnp.ones((2, 2))}


@pytest.mark.parametrize("error, call, match", [
    pytest.param(ValueError, lambda: losses.dsm(_A, S_VP, target="noise"), "target", id="target"),
    pytest.param(ValueError, lambda: losses.dsm(_A, S_VP, weighting="snr2"), "weighting", id="weighting"),
    pytest.param(ValueError, lambda: losses.dsm(_A, S_VP, t_sampler="beta"), "t_sampler", id="t_sampler"),
    pytest.param(ValueError, lambda: losses.weighting("snr", gamma=3.0), "gamma", id="gamma"),
    pytest.param(ValueError, lambda: losses.flow_matching(_A, p_uncond=1.0), "p_uncond", id="p_uncond"),
    pytest.param(ValueError, lambda: losses.get("score_matching"), "unknown loss", id="unknown_loss"),
    pytest.param(TypeError, lambda: losses.dsm(_A, "vp_linear"), "Schedule", id="schedule_type"),
    pytest.param(ValueError, lambda: losses.dsm(_A, S_VP, p_uncond=0.1)(1.0, _BATCH, jax.random.key(0)), "label",
                 id="label_missing"),
    pytest.param(ValueError, lambda: losses.reflow(_A)(1.0, _BATCH, jax.random.key(0)), "missing key",
                 id="reflow_batch"),
    pytest.param(ValueError, lambda: losses.distill(_A, num_steps=0), "num_steps", id="distill_num_steps"),
])
def test_errors_name_the_argument(error, call, match):
    with pytest.raises(error, match=match):
        call()
