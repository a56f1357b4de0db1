"""genjax.train.state: warm-up schedule, clipped Adam against a hand-written Adam, EMA rules."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.train import state as st


def test_linear_warmup_values():
    lr = st.learning_rate(2e-3, warmup_steps=100)
    got = np.array([lr(s) for s in (0, 25, 50, 100, 1000)])
    # lr * min(1, step / warmup): exact up to float32 rounding of the products (1e-9 absolute).
    np.testing.assert_allclose(got, [0.0, 5e-4, 1e-3, 2e-3, 2e-3], atol=1e-9)
    assert float(st.learning_rate(1e-4)(0)) == pytest.approx(1e-4)


def _adam_reference(grads, lr_fn, clip, b1=0.9, b2=0.999, eps=1e-8):
    """Plain numpy Adam (Kingma & Ba, Algorithm 1) on clipped gradients: the sequence of updates."""
    m = v = 0.0
    out = []
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, np.float64)
        norm = np.linalg.norm(g)
        if clip and norm > clip:
            g = g * clip / norm
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        out.append(-lr_fn(t - 1) * mhat / (np.sqrt(vhat) + eps))
    return out


def test_clipped_adam_with_warmup_matches_reference():
    # Step 1 has |g| = 10 (clipped to 1), step 2 |g| = 0.5 (not clipped): after clipping Adam's
    # second update depends on the clipped scale of the first, so a missing clip changes it.
    grads = [np.array([6.0, 8.0, 0.0]), np.array([0.3, -0.4, 0.0])]
    lr, warm = 1e-2, 4
    tx = st.optimizer(lr, warmup_steps=warm, grad_clip=1.0)
    params = jnp.zeros(3)
    state = tx.init(params)
    ref = _adam_reference(grads, lambda s: lr * min(1.0, s / warm), clip=1.0)
    noclip = _adam_reference(grads, lambda s: lr * min(1.0, s / warm), clip=None)
    update = jax.jit(tx.update)
    for g, want, other in zip(grads, ref, noclip):
        upd, state = update(jnp.asarray(g, jnp.float32), state, params)
        # float32 Adam vs float64 reference: the bias correction 1 - b2^t = 2e-3 at t = 2 is a
        # float32 cancellation (absolute error ~6e-8 of b2^2, i.e. relative 3e-5): rtol 5e-5.
        np.testing.assert_allclose(np.asarray(upd), want, rtol=5e-5, atol=1e-12)
    assert not np.allclose(ref[1], noclip[1], rtol=1e-3)  # the test can see clipping


def test_adamw_decays_weights():
    tx = st.optimizer(1e-2, name="adamw", weight_decay=0.5)
    params = jnp.array([2.0])
    upd, _ = tx.update(jnp.array([0.0]), tx.init(params), params)
    # zero gradient: the update is the decoupled decay -lr * wd * w = -1e-2 (float32 rounding).
    np.testing.assert_allclose(np.asarray(upd), [-1e-2], rtol=1e-6)


def test_bad_optimizer_settings():
    with pytest.raises(ValueError, match="unknown optimizer 'sgdd'"):
        st.optimizer(1e-3, name="sgdd")
    with pytest.raises(ValueError, match="adamw"):
        st.optimizer(1e-3, name="adam", weight_decay=0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        st.optimizer(0.0)


def test_ema_half_life_means_half_weight():
    # Without ramp-up, after h / B updates with params held at 1 the EMA started at 0 equals 1/2.
    batch, h = 64, 64 * 50
    ema = st.ema_half_life(h, batch, rampup_ratio=None)
    e = 0.0
    for step in range(50):
        beta = float(ema.decay(step))
        e = beta * e + (1 - beta) * 1.0
    assert e == pytest.approx(0.5, abs=1e-5)  # 50 float32 products of beta = 0.5**(1/50)


def test_ema_half_life_rampup_matches_edm_formula():
    ema = st.ema_half_life(500_000, 512, rampup_ratio=0.05)
    for step in (0, 1, 10, 1000, 100_000):
        h = min(500_000, step * 512 * 0.05)
        want = 0.5 ** (512 / max(h, 1e-8))
        assert float(ema.decay(step)) == pytest.approx(want, rel=1e-6, abs=1e-30)


def test_ema_rate_and_init_state():
    assert float(st.ema_rate(0.999).decay(7)) == pytest.approx(0.999)
    with pytest.raises(ValueError, match="rate"):
        st.ema_rate(1.0)
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    s = st.init_state(params, optax.adam(1e-3))
    assert int(s.step) == 0 and s.step.dtype == jnp.int32
    chex_equal = jax.tree.map(lambda a, b: bool(jnp.all(a == b)), s.ema_params, params)
    assert all(jax.tree.leaves(chex_equal))
