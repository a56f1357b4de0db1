"""Tests for genjax.losses: weightings against closed forms, losses at the exact optimum.

Oracles: for Gaussian data N(mu, s0^2 I) the denoiser is D*(x, t) = mu + a s0^2 (x - a mu) / (a^2 s0^2
+ sigma^2) and the irreducible denoiser error per dimension is Var(x0 | x_t) = s0^2 sigma^2 /
(a^2 s0^2 + sigma^2); every other target's irreducible error is that times the exact factor
exp(log_target_factor). Gaussian mixtures use genjax.data.GaussianMixture's exact denoiser.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import losses, predictions, schedules
from genjax.data import mixture
from genjax.losses import strategies as wt

S_VP = schedules.vp_linear()
S_RF = schedules.rectified()
S_EDM = schedules.edm()
SCHEDULES = {"vp_linear": S_VP, "vp_cosine": schedules.vp_cosine(), "ve": schedules.ve(), "edm": S_EDM,
             "rectified": S_RF}
MU, S0 = 0.7, 0.5


def gaussian_denoiser(s, mu=MU, s0=S0):
    def d(x, t):
        t = wt.bcast(jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1]), x)
        a, sg = s.alpha(t), s.sigma(t)
        return mu + a * s0**2 * (x - a * mu) / (a**2 * s0**2 + sg**2)
    return d


def oracle_apply(s, kind, denoiser, shift=0.0):
    """apply(params, x, t, ...) returning the exact prediction of ``kind`` (+ params * tanh(x) + shift)."""
    def apply(params, x, t, label=None, train=False, key=None):
        out = predictions.from_denoiser(kind, s, denoiser(x, t), x, t)
        return out + params * jnp.tanh(x) + shift
    return apply


def posterior_var(s, t, s0=S0):
    a, sg = s.alpha(jnp.float32(t)), s.sigma(jnp.float32(t))
    return s0**2 * sg**2 / (a**2 * s0**2 + sg**2)


# --- weightings and targets: closed forms -----------------------------------------------------------
def test_likelihood_weight_vp_closed_form():
    # VP linear: g^2 = beta(t), sigma^2 = 1 - exp(-int beta); eps-form weight (T/2) g^2 / sigma^2.
    t = jnp.array([0.01, 0.1, 0.5, 0.9, 1.0])
    beta = 0.1 + t * (20.0 - 0.1)
    sigma2 = 1.0 - jnp.exp(-(0.1 * t + 0.5 * t**2 * (20.0 - 0.1)))
    expect = 0.5 * (1.0 - 1e-3) * beta / sigma2
    got = losses.weighting("likelihood")(S_VP, t, "eps")
    # rtol 1e-5: float32 autodiff of log-SNR vs the closed form
    np.testing.assert_allclose(got, expect, rtol=1e-5)


@pytest.mark.parametrize("target", ["eps", "x0", "v"])
def test_min_snr_weights(target):
    t = jnp.linspace(0.01, 0.99, 9)
    snr = S_VP.alpha(t) ** 2 / S_VP.sigma(t) ** 2
    base = jnp.minimum(snr, 5.0)
    expect = {"eps": base / snr, "x0": base, "v": base / (snr + 1.0)}[target]  # Hang et al. 2023, Sec. 3.4
    np.testing.assert_allclose(losses.weighting("min_snr", gamma=5.0)(S_VP, t, target), expect, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("target", losses.TARGETS)
def test_target_factor_and_conditional_target(name, target, key):
    # (1) the exact ratio ||target(D) - target(x0)||^2 / ||D - x0||^2 from predictions.from_denoiser
    #     at fixed (x_t, t) equals exp(log_target_factor): conversions are affine in D.
    # (2) conditional_target(x0, eps) equals the prediction implied by the clean x0 itself.
    s = SCHEDULES[name]
    t = jnp.linspace(s.t_min + 0.05 * (s.t_max - s.t_min), s.t_max - 0.05 * (s.t_max - s.t_min), 6)
    k1, k2, k3 = jax.random.split(key, 3)
    x0, eps, dx = (jax.random.normal(k, (6, 3)) for k in (k1, k2, k3))
    xt = wt.bcast(s.alpha(t), x0) * x0 + wt.bcast(s.sigma(t), x0) * eps
    d = x0 + 0.1 * dx
    diff = predictions.from_denoiser(target, s, d, xt, t) - predictions.from_denoiser(target, s, x0, xt, t)
    ratio = jnp.sum(diff**2, -1) / jnp.sum((d - x0) ** 2, -1)
    # rtol 1e-3: float32 conversions divide by sigma (EDM sigma up to 80, VE down to 1e-2)
    np.testing.assert_allclose(ratio, jnp.exp(losses.log_target_factor(target, s, t)), rtol=1e-3)
    tgt = losses.conditional_target(target, s, x0, eps, t)
    ref = predictions.from_denoiser(target, s, x0, xt, t)
    scale = 1.0 + jnp.abs(ref)
    assert np.all(np.abs(np.asarray(tgt - ref)) <= 1e-3 * np.asarray(scale)), target


# --- losses at the optimum: closed forms -------------------------------------------------------------
B = 40_000  # Monte Carlo: per-example errors have relative std <= ~1.5, so relative SE <= 0.75%


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


def test_flow_matching_optimum_equals_irreducible_error(key):
    # Rectified path: velocity factor (alpha lambda')^2 = 1 / t^2, so the optimum is
    # s0^2 / ((1 - t)^2 s0^2 + t^2).
    t0 = 0.35
    loss_fn = losses.flow_matching(oracle_apply(S_RF, "velocity", gaussian_denoiser(S_RF)), S_RF,
                                   t_sampler=losses.time_sampler("fixed", t=t0))
    x = MU + S0 * jax.random.normal(key, (B, 2))
    loss, _ = jax.jit(loss_fn)(0.0, {"x": x}, jax.random.key(2))
    np.testing.assert_allclose(loss, S0**2 / ((1 - t0) ** 2 * S0**2 + t0**2), rtol=0.04)  # ~5 SE


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


def test_flow_matching_mixture_optimum_below_perturbations(key):
    gm = mixture.eight_gaussians_mixture()
    loss_fn = jax.jit(losses.flow_matching(oracle_apply(S_RF, "velocity", gm.denoiser(S_RF)), S_RF,
                                           t_sampler="logit_normal"))
    batch = {"x": gm.sample(8192, key)}
    best = loss_fn(0.0, batch, jax.random.key(6))[0]
    for p in (-0.05, 0.05):
        assert loss_fn(p, batch, jax.random.key(6))[0] > best


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


def test_importance_and_uniform_sampling_agree_in_expectation():
    # E_{t~U}[w l] = E_{t~p}[iw w l]: integrate a smooth l(t) = t^2 both ways by quadrature of
    # the sampler itself (inverse CDF on a fine uniform grid of the lambda variable).
    s = S_VP
    w = losses.weighting("likelihood")
    sampler = losses.time_sampler("importance")

    @jax.jit
    def run():
        t, iw = sampler(s, (100_000,), jax.random.key(7))
        tt = jnp.linspace(s.t_min, s.t_max, 100_001)
        return jnp.mean(iw * w(s, t, "eps") * t**2), jnp.mean(w(s, tt, "eps") * tt**2), iw * w(s, t, "eps")

    est, ref, const = run()
    # importance weighting makes iw * w constant (= Delta lambda), so the estimate has the variance
    # of mean(t^2) under p: ~0.5% here; 3% is ~6 standard errors.
    np.testing.assert_allclose(est, ref, rtol=0.03)
    dlam = s.log_snr(jnp.float32(s.t_min)) - s.log_snr(jnp.float32(s.t_max))
    np.testing.assert_allclose(const, jnp.full_like(const, dlam), rtol=1e-3)


# --- labels, shapes, errors ----------------------------------------------------------------------------
def test_label_dropout_rate_and_null_label(key):
    label = jnp.arange(20_000) % 10
    out = wt.labels({"x": None, "label": label}, 0.2, key)
    dropped = np.asarray(out == -1)
    # binomial SE = sqrt(0.2 * 0.8 / 20000) = 0.0028; 0.015 is ~5 SE
    assert abs(dropped.mean() - 0.2) < 0.015
    np.testing.assert_array_equal(np.asarray(out)[~dropped], np.asarray(label)[~dropped])


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


def test_errors_name_the_argument():
    apply = lambda p, x, t, *a, **k: x
    with pytest.raises(ValueError, match="target"):
        losses.dsm(apply, S_VP, target="noise")
    with pytest.raises(ValueError, match="weighting"):
        losses.dsm(apply, S_VP, weighting="snr2")
    with pytest.raises(ValueError, match="t_sampler"):
        losses.dsm(apply, S_VP, t_sampler="beta")
    with pytest.raises(ValueError, match="gamma"):
        losses.weighting("snr", gamma=3.0)
    with pytest.raises(ValueError, match="p_uncond"):
        losses.flow_matching(apply, p_uncond=1.0)
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("score_matching")
    with pytest.raises(TypeError, match="Schedule"):
        losses.dsm(apply, "vp_linear")
    with pytest.raises(ValueError, match="label"):
        losses.dsm(apply, S_VP, p_uncond=0.1)(1.0, {"x": jnp.ones((2, 2))}, jax.random.key(0))
    with pytest.raises(ValueError, match="missing key"):
        losses.reflow(apply)(1.0, {"x": jnp.ones((2, 2))}, jax.random.key(0))
    with pytest.raises(ValueError, match="num_steps"):
        losses.distill(apply, num_steps=0)
