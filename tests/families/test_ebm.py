"""Tests of genjax.families.ebm and ebm_train: Langevin dynamics against the Gaussian closed form, the contrastive
loss, the replay buffer and input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.families import ebm, ebm_train
from genjax.train import players
from tests.trainer_scoring import train_and_score

MU = np.array([1.0, -2.0])
SIGMA = np.array([[1.0, 0.5], [0.5, 2.0]])
PREC = np.linalg.inv(SIGMA)


def _gauss_energy(x):
    """E(x) = 1/2 (x - mu)^T P (x - mu), so p ~ exp(-E) = N(mu, Sigma)."""
    d = x - MU
    return 0.5 * jnp.einsum("bi,ij,bj->b", d, PREC, d)


def _ula_cov(step, noise_std):
    """Stationary covariance of x <- x - h P (x - mu) + s xi: per eigenvalue l of P the AR(1)
    recursion v = (1 - h l)^2 v + s^2 gives v = s^2 / (2 h l - h^2 l^2)."""
    lam, q = np.linalg.eigh(PREC)
    v = noise_std**2 / (2 * step * lam - step**2 * lam**2)
    return (q * v) @ q.T


@pytest.fixture(scope="module")
def run_chains():
    fn = jax.jit(lambda x0, h, s, k: ebm.langevin(_gauss_energy, x0, 300, h, s, key=k))

    def run(step, noise_std, key):
        x0 = jnp.zeros((16384, 2))
        x = fn(x0, step, noise_std, key)
        return np.asarray(x.mean(0)), np.cov(np.asarray(x).T)

    return run


def test_langevin_reaches_gaussian_mean_and_biased_covariance(run_chains, key):
    # ULA with a large step h = 0.4: stiffest precision eigenvalue l = 1.26, so the slowest mode
    # contracts by (1 - h l_min) = 0.83 per step: 300 steps leave 0.83^300 ~ 1e-24 of the start.
    h = 0.4
    mean, cov = run_chains(h, np.sqrt(2 * h), key)
    biased = _ula_cov(h, np.sqrt(2 * h))
    # tolerances: 16384 chains give a covariance-entry standard error ~ sqrt(2/N) * 2.2 = 0.025,
    # a mean standard error ~ 0.012; 4 standard errors.
    np.testing.assert_allclose(mean, MU, atol=0.05)
    np.testing.assert_allclose(cov, biased, atol=0.1)
    # the discretisation bias is real and resolved: the biased covariance exceeds Sigma by 0.26 on
    # the diagonal at h = 0.4, ten MC standard errors, and the chain shows it.
    assert np.max(np.abs(cov - SIGMA)) > 0.15


def test_langevin_small_step_matches_exact_covariance(key):
    # From x0 ~ N(mu, Sigma) the chain is at (near-)stationarity; with h = 0.02 the ULA bias is
    # h l / 2 <= 1.3% of each eigen-variance, below the MC tolerance, so the chain matches Sigma.
    h = 0.02
    k0, k1 = jax.random.split(key)
    x0 = MU + jax.random.normal(k0, (16384, 2)) @ np.linalg.cholesky(SIGMA).T
    x = jax.jit(lambda x0, k: ebm.langevin(_gauss_energy, x0, 200, h, np.sqrt(2 * h), key=k))(x0, k1)
    np.testing.assert_allclose(np.asarray(x.mean(0)), MU, atol=0.05)
    np.testing.assert_allclose(np.cov(np.asarray(x).T), SIGMA, atol=0.1)
    # and a tempered chain (noise_std != sqrt(2 h)) has the closed-form covariance scaled by T
    x = jax.jit(lambda x0, k: ebm.langevin(_gauss_energy, x0, 200, h, 0.5 * np.sqrt(2 * h), key=k))(
        x0, k1)
    np.testing.assert_allclose(np.cov(np.asarray(x).T), _ula_cov(h, 0.5 * np.sqrt(2 * h)), atol=0.05)


def test_langevin_gradient_clipping_is_elementwise(key):
    # E = 100 * sum(x): gradient 100 in every coordinate; clipped to 0.5 -> each step moves -h * 0.5.
    x0 = jnp.zeros((4, 3))
    x = ebm.langevin(lambda x: 100.0 * jnp.sum(x, -1), x0, 7, 0.1, 0.0, grad_clip=0.5, key=key)
    np.testing.assert_allclose(x, -7 * 0.1 * 0.5 * np.ones((4, 3)), rtol=1e-6)
    x, traj = ebm.langevin(lambda x: jnp.sum(x, -1), x0, 3, 0.1, 0.0, key=key, return_trajectory=True)
    assert traj.shape == (4, 4, 3)
    np.testing.assert_allclose(traj[:, 0, 0], [0.0, -0.1, -0.2, -0.3], atol=1e-7)


def test_contrastive_loss_closed_form():
    energy = lambda x: jnp.sum(x, -1)             # noqa: E731
    x_pos = jnp.array([[1.0, 2.0], [3.0, 0.0]])   # energies 3, 3
    x_neg = jnp.array([[0.0, -1.0], [2.0, 2.0]])  # energies -1, 4
    loss, aux = ebm.contrastive_loss(energy, x_pos, x_neg, reg_weight=0.5)
    # cd = 3 - 1.5 = 1.5; reg = mean(9, 9) + mean(1, 16) = 17.5; loss = 1.5 + 0.5 * 17.5
    np.testing.assert_allclose(loss, 1.5 + 8.75, rtol=1e-6)
    np.testing.assert_allclose(aux["cd"], 1.5, rtol=1e-6)
    # negatives carry no gradient: d loss / d x_neg = 0
    g = jax.grad(lambda xn: ebm.contrastive_loss(energy, x_pos, xn)[0])(x_neg)
    assert float(jnp.max(jnp.abs(g))) == 0.0


@pytest.mark.parametrize("frac", [0.0, 0.25, 1.0])
def test_replay_buffer_restarts_a_fraction(frac, key):
    buffer = jnp.full((4096, 2), 7.0)             # stored chains are recognisable (all 7)
    init = lambda n, k: jnp.zeros((n, 2))         # noqa: E731  fresh chains are 0
    x0, idx = ebm.draw_chains(buffer, 2048, frac, init, key)
    fresh = float(jnp.mean(x0[:, 0] == 0.0))
    # binomial(2048, frac): standard deviation <= 0.011, tolerance 0.05 (> 4 sd)
    assert abs(fresh - frac) < 0.05
    assert len(np.unique(np.asarray(idx))) == 2048   # distinct slots, safe to write back


def test_persistent_step_writes_back_and_short_run_has_no_buffer(key):
    energy = lambda p, x: jnp.sum((x - p["m"]) ** 2, -1)   # noqa: E731
    params = {"m": jnp.zeros(2)}
    tx = players.partition({"energy": optax.sgd(1e-2)})
    init = ebm.uniform_init((2,), -3.0, 3.0)
    step = ebm_train.make_train_step(energy, tx, init, num_steps=5, step_size=0.1, noise_std=0.01,
                                     reinit_fraction=0.5)
    state = ebm_train.init_state(params, tx, 64, init, key=key)
    x_pos = {"x": jnp.ones((16, 2))}
    new, metrics = jax.jit(step)(state, x_pos, key)
    changed = np.any(np.asarray(new.extra["buffer"] != state.extra["buffer"]), axis=-1)
    assert changed.sum() == 16 and int(new.step) == 1     # exactly the drawn chains were written
    short = ebm_train.init_state(params, tx)
    assert short.extra is None
    new_short, _ = jax.jit(step)(short, x_pos, key)
    assert new_short.extra is None and np.isfinite(float(metrics["loss"]))


def test_bad_input_raises(key):
    e = lambda x: jnp.sum(x, -1)                  # noqa: E731
    x0 = jnp.zeros((2, 2))
    with pytest.raises(ValueError, match="step_size"):
        ebm.langevin(e, x0, 10, -0.1, 0.1, key=key)
    with pytest.raises(ValueError, match="noise_std"):
        ebm.langevin(e, x0, 10, 0.1, -1.0, key=key)
    with pytest.raises(ValueError, match="num_steps"):
        ebm.langevin(e, x0, -1, 0.1, 0.1, key=key)
    with pytest.raises(ValueError, match="grad_clip"):
        ebm.langevin(e, x0, 1, 0.1, 0.1, grad_clip=0.0, key=key)
    for frac in (-0.1, 1.5):
        with pytest.raises(ValueError, match="reinit_fraction"):
            ebm_train.make_train_step(lambda p, x: e(x), players.partition({"energy": optax.sgd(1.0)}),
                                      ebm.uniform_init((2,)), num_steps=1, step_size=0.1, noise_std=0.1,
                                      reinit_fraction=frac)
        with pytest.raises(ValueError, match="reinit_fraction"):
            ebm.draw_chains(jnp.zeros((8, 2)), 4, frac, ebm.uniform_init((2,)), key)


# --- through the one trainer (runlocal-plus): tests/trainer_scoring.py -----------------------------

def test_config_trains_and_improves(tmp_path):
    s = train_and_score("toy2d_ebm", tmp_path)
    # "clearly": MMD^2 drops 5x or more (measured 0.40 -> 0.0074 after 500 steps) and >= 6 of the 8
    # modes are covered by Langevin samples of the trained energy (measured 8) against <= 3 (2).
    assert s["mmd_trained"] < 0.2 * s["mmd_init"], s
    assert s["modes_covered_trained"] >= 6 and s["modes_covered_init"] <= 3, s


def test_task_rejects_bad_config():
    # The trainer's builder names the config key (before any tracing).
    from experiments.configs import toy2d_ebm
    from experiments.tasks import ebm as ebm_task
    import types

    data = types.SimpleNamespace(shape=(2,), num_classes=None)   # the builder reads only the shape
    for field, value, match in (("reinit_fraction", 1.5, "reinit_fraction"), ("step_size", -0.1, "step_size")):
        cfg = toy2d_ebm.get_config("runlocal")
        cfg.ebm[field] = value
        with pytest.raises(ValueError, match=f"config.ebm.*{match}"):
            ebm_task.build(cfg, data)
