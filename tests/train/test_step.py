"""genjax.train.step: closed-form gradients, per-step keys by fold_in, the non-finite guard."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.train import state as st
from genjax.train import step as sp


def _regression_loss(params, batch, key):
    """mean (x w - y)^2 with closed-form gradient 2/B X^T (X w - y); aux carries a key-dependent draw."""
    r = batch["x"] @ params["w"] - batch["y"]
    return jnp.mean(r**2), {"noise": jax.random.normal(key, ()), "residual": r}


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.normal(size=(16,)).astype(np.float32)
    w = np.array([0.5, -1.0, 2.0], np.float32)
    return {"x": jnp.asarray(x), "y": jnp.asarray(y)}, {"w": jnp.asarray(w)}


def test_step_matches_closed_form(problem, key):
    batch, params = problem
    lr = 1e-2
    tx = optax.adam(lr)
    step = jax.jit(sp.train_step(_regression_loss, tx, st.ema_rate(0.5), lr_schedule=lambda s: lr))
    state = st.init_state(params, tx)
    new, m = step(state, batch, key)
    x, y, w = (np.asarray(batch["x"], np.float64), np.asarray(batch["y"], np.float64),
               np.asarray(params["w"], np.float64))
    r = x @ w - y
    g = 2.0 / len(y) * x.T @ r
    # float32 forward / backward against float64 algebra: relative 1e-5.
    assert float(m["loss"]) == pytest.approx(np.mean(r**2), rel=1e-5)
    assert float(m["grad_norm"]) == pytest.approx(np.linalg.norm(g), rel=1e-5)
    # Adam's first bias-corrected step is -lr * g / (|g| + eps) = -lr * sign(g) (|g| >> eps).
    want = w - lr * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(np.asarray(new.params["w"]), want, rtol=1e-6)
    # EMA with beta = 0.5 after one step: (w + w') / 2.
    np.testing.assert_allclose(np.asarray(new.ema_params["w"]), 0.5 * (w + want), rtol=1e-6)
    assert int(new.step) == 1 and bool(m["finite"]) and float(m["lr"]) == pytest.approx(lr)
    assert "residual" in m and m["residual"].shape == ()  # non-scalar aux is averaged


def test_per_step_keys_are_fold_in_of_step(problem, key):
    batch, params = problem
    tx = optax.sgd(0.0)
    step = jax.jit(sp.train_step(_regression_loss, tx, st.ema_rate(0.0)))
    state = st.init_state(params, tx)
    for s in range(3):
        state, m = step(state, batch, key)
        want = jax.random.normal(jax.random.fold_in(key, s), ())
        assert float(m["noise"]) == float(want)  # bitwise: same key, same draw


def test_non_finite_loss_leaves_state_unchanged(problem, key):
    batch, params = problem
    tx = optax.adam(1e-2)
    step = jax.jit(sp.train_step(_regression_loss, tx, st.ema_rate(0.9)))
    state, _ = step(st.init_state(params, tx), batch, key)
    bad = dict(batch, y=batch["y"].at[3].set(jnp.nan))
    new, m = step(state, bad, key)
    assert not bool(m["finite"]) and not np.isfinite(float(m["loss"]))
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # bitwise: the old state


def test_with_batches_fuses_a_device_source(problem, key):
    batch, params = problem
    tx = optax.adam(1e-2)
    base = sp.train_step(_regression_loss, tx, st.ema_rate(0.0))

    def batch_fn(step, data_key):
        k = jax.random.fold_in(data_key, step)
        return {"x": jax.random.normal(k, (8, 3)), "y": jnp.zeros(8)}

    fused = jax.jit(sp.with_batches(base, batch_fn))
    data_key = jax.random.key(5)
    state = st.init_state(params, tx)
    s1, m1 = fused(state, data_key, key)
    s2, m2 = jax.jit(base)(state, batch_fn(jnp.int32(0), data_key), key)
    assert float(m1["loss"]) == float(m2["loss"])
    np.testing.assert_array_equal(np.asarray(s1.params["w"]), np.asarray(s2.params["w"]))
