"""Tests for genjax.reflow and the ReFlow / distillation losses.

Oracles: (1) a coupling that is already straight, z = A x0 + b with A symmetric positive definite:
on x_t = (1 - t) x0 + t z the exact velocity is u*(x, t) = (A - I) M_t^{-1} (x - t b) + b with
M_t = (1 - t) I + t A, its ODE paths are the straight segments, so the ReFlow loss at u* is 0,
S = 0 and one Euler step is exact. (2) Gaussian data N(0, s0^2 I) from Gaussian noise: the
probability-flow path is Z_t = z s(t) / s(t_max) with s(t) = sqrt((1 - t)^2 s0^2 + t^2), curved
unless s0 = 1, and S / |z|^2 has a one-dimensional integral computed here by quadrature.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import losses, nets, predictions, reflow, samplers, schedules

S = schedules.rectified()
A = jnp.array([[1.5, 0.3], [0.3, 0.8]])
b = jnp.array([1.0, -2.0])


def u_star(x, t):
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])[:, None, None]
    m = (1.0 - t) * jnp.eye(2) + t * A
    x0 = jnp.linalg.solve(m, (x - t[..., 0] * b)[..., None])[..., 0]
    return x0 @ (A - jnp.eye(2)).T + b


def straight_apply(params, x, t, label=None, train=False, key=None):
    return u_star(x, t) + params * jnp.tanh(x)


def straight_denoiser():
    return nets.denoiser_from(straight_apply, 0.0, S, "velocity")


@pytest.fixture(scope="module")
def straight_batch():
    x0 = 0.5 + jax.random.normal(jax.random.key(10), (512, 2))
    return {"x": x0, "z": x0 @ A.T + b}


def test_reflow_and_distill_losses_vanish_on_a_straight_coupling(straight_batch):
    key = jax.random.key(11)
    for loss_fn in (losses.reflow(straight_apply, S), losses.distill(straight_apply, S, num_steps=1),
                    losses.distill(straight_apply, S, num_steps=3)):
        f = jax.jit(loss_fn)
        at_opt = f(0.0, straight_batch, key)[0]
        assert at_opt < 1e-9, at_opt  # float32 solve of a 2x2 system: squared residuals ~1e-12
        assert f(0.1, straight_batch, key)[0] > 1e-3


def test_straight_coupling_has_zero_straightness_and_one_euler_step_is_exact(straight_batch):
    z = straight_batch["z"][:64]
    d = straight_denoiser()
    st = reflow.straightness(d, S, samplers.euler(), schedules.time_grid(S, 16), z)
    chord2 = float(jnp.mean(jnp.sum((st.trajectory[-1] - st.trajectory[0]) ** 2, -1)))
    assert chord2 > 1.0 and float(st.value) < 1e-6 * chord2  # float32 velocity <-> denoiser round trips
    one = reflow.couplings(d, S, samplers.euler(), schedules.time_grid(S, 1), z)
    many = reflow.couplings(d, S, samplers.rk4(), schedules.time_grid(S, 20), z)
    # the segment through z at t_max, evaluated at t_min: M_{t_min} M_{t_max}^{-1} (z - t_max b) + t_min b
    x0 = jnp.linalg.solve((1 - S.t_max) * jnp.eye(2) + S.t_max * A, (z - S.t_max * b).T).T
    exact = x0 @ ((1 - S.t_min) * jnp.eye(2) + S.t_min * A).T + S.t_min * b
    np.testing.assert_allclose(one["x"], exact, atol=1e-4)   # float32 conversions near t = 1
    np.testing.assert_allclose(many["x"], exact, atol=1e-4)


def test_couplings_match_the_sampler_and_carry_labels():
    d = straight_denoiser()
    z = jax.random.normal(jax.random.key(12), (8, 2))
    ts = schedules.time_grid(S, 5)
    batch = reflow.couplings(d, S, samplers.heun(), ts, z, label=jnp.arange(8))
    ref, _ = samplers.sample(d, S, samplers.heun(), ts, z)
    np.testing.assert_array_equal(batch["x"], ref)
    np.testing.assert_array_equal(batch["z"], z)
    np.testing.assert_array_equal(batch["label"], jnp.arange(8))
    with pytest.raises(ValueError, match="stochastic"):
        reflow.couplings(d, S, samplers.euler_maruyama(), ts, z, jax.random.key(0))


def test_straightness_of_a_curved_gaussian_flow_matches_quadrature():
    s0 = 0.3

    def denoiser(x, t):
        t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])[:, None]
        a, sg = 1.0 - t, t
        return a * s0**2 * x / (a**2 * s0**2 + sg**2)

    z = jax.random.normal(jax.random.key(13), (16, 2))
    st = reflow.straightness(denoiser, S, samplers.rk4(), schedules.time_grid(S, 200), z)
    # reference: S / |z|^2 = (1 / s_T^2) int_0^1 ((s(t_min) - s(t_max)) + span s'(t))^2 dtau
    span = S.t_max - S.t_min
    tau = np.linspace(0.0, 1.0, 400_001)
    t = S.t_max - tau * span
    sfun = lambda t: np.sqrt((1 - t) ** 2 * s0**2 + t**2)
    sdot = (-(1 - t) * s0**2 + t) / sfun(t)
    integrand = ((sfun(S.t_min) - sfun(S.t_max)) + span * sdot) ** 2
    ref = np.trapezoid(integrand, tau) / sfun(S.t_max) ** 2
    got = np.asarray(st.per_sample) / np.asarray(jnp.sum(z**2, -1))
    assert ref > 0.05  # the path is genuinely curved
    # 200-step trapezoid rule on a smooth integrand: relative error ~1e-5; float32 ~1e-5
    np.testing.assert_allclose(got, ref, rtol=1e-3)


def test_distill_samples_only_the_euler_start_times():
    # apply returns t itself and x = z = 0, so the per-example error is t^2 exactly.
    apply = lambda p, x, t, label=None, train=False, key=None: jnp.broadcast_to(t[:, None], x.shape)
    batch = {"x": jnp.zeros((4000, 1)), "z": jnp.zeros((4000, 1))}
    _, aux = jax.jit(losses.distill(apply, S, num_steps=1))(0.0, batch, jax.random.key(14))
    np.testing.assert_allclose(aux["mse"], S.t_max**2, rtol=1e-6)
    starts = np.asarray(schedules.time_grid(S, 2))[:-1]
    _, aux = jax.jit(losses.distill(apply, S, num_steps=2))(0.0, batch, jax.random.key(14))
    # mean of t^2 over two equally likely values: binomial SE of the mean is ~0.005 here; 0.03 = 6 SE
    np.testing.assert_allclose(aux["mse"], np.mean(starts**2), rtol=0.03)


def test_velocity_network_denoiser_round_trip():
    # The coupling path uses denoiser_from(..., "velocity"); its velocity must be u* again.
    x = jax.random.normal(jax.random.key(15), (6, 2))
    t = jnp.linspace(0.05, 0.95, 6)
    d = straight_denoiser()(x, t)
    np.testing.assert_allclose(predictions.from_denoiser("velocity", S, d, x, t), u_star(x, t), rtol=1e-4, atol=1e-5)
