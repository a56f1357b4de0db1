"""Tests for genjax.guidance on labelled Gaussian mixtures (exact conditional denoisers)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import guidance, samplers, schedules
from genjax.data import mixture

SCHEDULES = [schedules.vp_linear(), schedules.ve(), schedules.edm(), schedules.rectified()]


def _mixture_2d():
    return mixture.GaussianMixture(np.array([[-2.0, 0.0], [1.5, 1.0], [0.0, -2.0]], np.float32),
                                   np.array([[0.5, 0.8], [0.7, 0.4], [0.6, 0.6]], np.float32),
                                   np.array([0.5, 0.3, 0.2], np.float32))


def _points(s, key, n=12):
    t = jnp.exp(jnp.linspace(jnp.log(s.t_min), jnp.log(s.t_max), n))
    t = jnp.clip(t, s.t_min, s.t_max)
    x0 = _mixture_2d().sample(n, key)
    eps = jax.random.normal(jax.random.fold_in(key, 1), x0.shape)
    return s.alpha(t)[:, None] * x0 + s.sigma(t)[:, None] * eps, t


@pytest.mark.parametrize("s", SCHEDULES, ids=lambda s: s.name)
def test_cfg_w0_is_conditional_and_w_minus1_unconditional(s, key):
    mix = _mixture_2d()
    x, t = _points(s, key)
    cond, uncond = mix.component(1).denoiser(s), mix.denoiser(s)

    @jax.jit
    def run(x, t):
        return [guidance.cfg(cond, uncond, w)(x, t) for w in (0.0, -1.0, 2.5)], cond(x, t), uncond(x, t)

    (d0, dm1, d25), dc, du = run(x, t)
    np.testing.assert_allclose(d0, dc, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dm1, du, rtol=1e-6, atol=1e-6)
    # linear in w: D_w = D_c + w (D_c - D_u)
    np.testing.assert_allclose(d25, dc + 2.5 * (dc - du), rtol=1e-5, atol=1e-5)


def test_cfg_batched_equals_cfg(key):
    s = schedules.vp_linear()
    mix = _mixture_2d()
    x, t = _points(s, key)
    dens = [mix.component(k).denoiser(s) for k in range(3)] + [mix.denoiser(s)]  # label 3 = null

    def model(x, t, label):
        outs = jnp.stack([d(x, t) for d in dens])  # [4, B, d]
        return jnp.take_along_axis(outs, label[None, :, None], 0)[0]

    label = jnp.array([0, 1, 2, 1, 0, 2, 1, 1, 0, 2, 2, 0])

    @jax.jit
    def run(x, t):
        per_class = jnp.stack([guidance.cfg(dens[c], dens[3], 1.5)(x, t) for c in range(3)])
        ref = jnp.take_along_axis(per_class, label[None, :, None], 0)[0]
        return guidance.cfg_batched(model, label, 3, 1.5)(x, t), ref

    batched, ref = run(x, t)
    np.testing.assert_allclose(batched, ref, rtol=1e-5, atol=1e-5)  # float32 round-off only


@pytest.mark.parametrize("s", SCHEDULES, ids=lambda s: s.name)
def test_classifier_guidance_with_exact_classifier_is_exact_conditional(s, key):
    """grad log p_t(x | c) = grad log p_t(x) + grad log p_t(c | x): with the exact noisy
    classifier and scale 1, the guided denoiser is E[x_0 | x_t, c], the component's denoiser."""
    mix = _mixture_2d()
    x, t = _points(s, key)
    for k in range(3):
        clf = lambda x, t, k=k: mix.class_log_prob(s)(x, t)[:, k]
        guided = jax.jit(guidance.classifier_guidance(mix.denoiser(s), s, clf, 1.0))
        ref = mix.component(k).denoiser(s)(x, t)
        # float32: sigma^2/alpha * grad reaches O(10^2) at VE/EDM t_max and cancels against
        # D_u to give D_c = O(1): absolute error ~ 1e-5 * 100; 2e-3 covers it with margin.
        np.testing.assert_allclose(guided(x, t), ref, rtol=1e-3, atol=2e-3)


def test_classifier_guidance_scale_zero_is_unguided(key):
    s = schedules.vp_cosine()
    mix = _mixture_2d()
    x, t = _points(s, key)
    g = jax.jit(guidance.classifier_guidance(mix.denoiser(s), s, lambda x, t: mix.class_log_prob(s)(x, t)[:, 0], 0.0))
    np.testing.assert_allclose(g(x, t), jax.jit(mix.denoiser(s))(x, t), rtol=1e-6, atol=1e-6)


VP = schedules.vp_linear()


def _guided_1d(mix, w, x, t):
    return guidance.cfg(mix.component(1).denoiser(VP), mix.denoiser(VP), w)(x, t)


def test_cfg_large_w_moves_mass_to_conditioned_component(key):
    """Two overlapping 1-D Gaussians (means -+1, std 1): sample with Heun and classify each
    sample by the exact p(c | x_0). Unconditional (w = -1): ~50% in component 1; conditional
    (w = 0): Phi(1) = 84%; guided w = 4 samples p(x | c) p(c | x)^4: far more (> 95%)."""
    s = VP
    mix = mixture.GaussianMixture(np.array([[-1.0], [1.0]], np.float32), np.array([1.0, 1.0], np.float32),
                                  np.array([0.5, 0.5], np.float32))
    n = 4000
    x_init = s.prior_sample((n, 1), jax.random.fold_in(key, 7))
    ts = schedules.time_grid(s, 32, "log_snr")
    fracs = {}
    for w in (-1.0, 0.0, 4.0):
        # w travels as a traced argument of a Partial: one compilation for the three weights
        den = jax.tree_util.Partial(_guided_1d, mix, jnp.float32(w))
        x0, _ = samplers.sample(den, s, samplers.heun(), ts, x_init)
        assert np.all(np.isfinite(np.asarray(x0)))
        label = jnp.argmax(mix.class_log_prob(s)(x0, s.t_min), -1)
        fracs[w] = float(jnp.mean(label == 1))
    se = 0.5 / np.sqrt(n)  # binomial standard error <= 0.008
    assert abs(fracs[-1.0] - 0.5) < 4 * se + 0.01, fracs   # + 0.01 for the solver / prior error
    assert abs(fracs[0.0] - 0.8413) < 4 * se + 0.01, fracs
    assert fracs[4.0] > 0.95 and fracs[4.0] > fracs[0.0] + 0.08, fracs


def _identity(x, t):
    return x


@pytest.mark.parametrize("error, call, match", [
    pytest.param(TypeError, lambda: guidance.cfg("model", _identity, 1.0), "cond_denoiser", id="cond_denoiser"),
    pytest.param(ValueError, lambda: guidance.cfg(_identity, _identity, float("nan")), "w must be finite",
                 id="w_nan"),
    pytest.param(TypeError, lambda: guidance.cfg(_identity, _identity, [1.0, 2.0]), "w must be a real scalar",
                 id="w_list"),
    pytest.param(TypeError, lambda: guidance.classifier_guidance(_identity, "vp", lambda x, t: x[:, 0], 1.0),
                 "Schedule", id="schedule_type"),
    pytest.param(TypeError, lambda: guidance.classifier_guidance(_identity, schedules.vp_linear(), None, 1.0),
                 "log_prob_class_fn", id="log_prob_class_fn"),
])
def test_bad_arguments_raise(error, call, match):
    with pytest.raises(error, match=match):
        call()
