"""genjax.train.players: the alternating schedule against closed forms, per-player optimizer states
and EMA, the whole-state non-finite guard, the extra state, one player == the single-player step."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from genjax.train import checkpoint, ema_rate, init_state, players, train_step

LR_A, LR_B, REPEATS = 0.1, 0.5, 3


def _loss_a(params, shared, each, key):
    """1/2 (a - b)^2: player a chases b."""
    return 0.5 * (params["a"] - params["b"]) ** 2, {"gap": params["a"] - params["b"]}


def _loss_b(params, shared, each, key):
    """1/2 (b - 2 a)^2 + log(shared): finite for a positive batch, NaN for a negative one."""
    return 0.5 * (params["b"] - 2.0 * params["a"]) ** 2 + jnp.log(shared["x"]), {}


def _count_prepare(params, extra, batch, key):
    """Counts the phase's runs in ``extra`` (state without gradients)."""
    return batch, None, extra + 1


PHASES = (players.Phase("a", _loss_a, REPEATS, _count_prepare), players.Phase("b", _loss_b))
PARAMS = {"a": jnp.float32(1.0), "b": jnp.float32(3.0)}
GOOD, BAD = {"x": jnp.float32(1.0)}, {"x": jnp.float32(-1.0)}


@pytest.fixture(scope="module")
def sgd_step():
    tx = players.partition({"a": optax.sgd(LR_A), "b": optax.sgd(LR_B)})
    return tx, jax.jit(players.train_step(PHASES, tx, ema={"a": ema_rate(0.5)}))


def test_alternating_schedule_matches_closed_form(sgd_step, key):
    tx, step = sgd_step
    state = init_state(PARAMS, tx, extra=jnp.int32(0))
    new, m = step(state, GOOD, key)
    a0, b0 = 1.0, 3.0
    # phase a: 3 SGD steps a <- a - 0.1 (a - b) with b fixed: a3 = b + 0.9^3 (a0 - b0); then phase b
    # sees the updated a: b1 = b0 - 0.5 (b0 - 2 a3). float32 against float64: rtol 1e-6.
    a3 = b0 + (1 - LR_A) ** REPEATS * (a0 - b0)
    b1 = b0 - LR_B * (b0 - 2 * a3)
    np.testing.assert_allclose([new.params["a"], new.params["b"]], [a3, b1], rtol=1e-6)
    # EMA for a only (beta 0.5): (a0 + a3) / 2; b's "ema" is b itself, exactly.
    np.testing.assert_allclose(new.ema_params["a"], 0.5 * (a0 + a3), rtol=1e-6)
    assert float(new.ema_params["b"]) == float(new.params["b"])
    # metrics of the last repeat of each phase; "loss" is the first phase's; aux of phase a kept.
    a2 = b0 + (1 - LR_A) ** 2 * (a0 - b0)
    np.testing.assert_allclose(m["a_loss"], 0.5 * (a2 - b0) ** 2, rtol=1e-6)
    np.testing.assert_allclose(m["a_grad_norm"], abs(a2 - b0), rtol=1e-6)
    # b0 - 2 a3 = 0.084 cancels: a3's float32 rounding (~1e-7) becomes ~3e-6 relative, so atol 1e-7.
    np.testing.assert_allclose(m["b_loss"], 0.5 * (b0 - 2 * a3) ** 2, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(m["gap"], a2 - b0, rtol=1e-6)
    assert float(m["loss"]) == float(m["a_loss"]) and bool(m["finite"])
    # grad_norm: sqrt(sum over phases of the largest squared norm of their repeats)
    np.testing.assert_allclose(m["grad_norm"], np.hypot(abs(a0 - b0), abs(b0 - 2 * a3)), rtol=1e-6)
    assert int(new.step) == 1 and int(new.extra) == 1


def test_non_finite_phase_leaves_the_whole_state_unchanged(sgd_step, key):
    tx, step = sgd_step
    state = init_state(PARAMS, tx, extra=jnp.int32(0))
    # phase b's loss is NaN: phase a's updates, the EMA, the extra state and the step are all refused.
    new, m = step(state, BAD, key)
    assert not bool(m["finite"]) and not np.isfinite(float(m["b_loss"]))
    for x, y in zip(jax.tree.leaves(new), jax.tree.leaves(state)):
        np.testing.assert_array_equal(x, y)
    assert int(new.step) == 0 and int(new.extra) == 0


def test_each_player_keeps_its_own_adam_state(key):
    tx = players.partition({"a": optax.adam(LR_A), "b": optax.adam(LR_B)})
    step = jax.jit(players.train_step(PHASES, tx))
    new, _ = step(init_state(PARAMS, tx, extra=jnp.int32(0)), GOOD, key)
    inner = new.opt_state.inner_states
    assert int(inner["a"].inner_state[0].count) == REPEATS and int(inner["b"].inner_state[0].count) == 1
    # b's first Adam step is -lr g / (|g| + eps) = -lr sign(g) only if a's 3 updates left b's moments
    # and count alone (a count of 4 would give a step of 0.29 instead of 0.5). rtol 1e-5: Adam's bias
    # correction 1 - 0.999 is 1.3e-5 off in float32 (6e-6 after the square root).
    g_b = 3.0 - 2 * float(new.params["a"])
    np.testing.assert_allclose(new.params["b"], 3.0 - LR_B * np.sign(g_b), rtol=1e-5)


def test_scanned_inputs_reach_their_repeat(key):
    # lr 1 on 1/2 (a - t_r)^2 jumps to t_r at every repeat: a ends at the last target, b untouched.
    targets = jnp.array([5.0, -2.0, 7.0])
    phase = players.Phase("a", lambda p, s, t, k: (0.5 * (p["a"] - t) ** 2, {}), 3,
                          prepare=lambda p, e, b, k: (None, targets, e))
    tx = players.partition({"a": optax.sgd(1.0), "b": optax.sgd(1.0)})
    new, m = jax.jit(players.train_step((phase,), tx))(init_state(PARAMS, tx), GOOD, key)
    assert float(new.params["a"]) == 7.0 and float(new.params["b"]) == 3.0
    assert float(m["a_loss"]) == 0.5 * 9.0 ** 2          # (a = -2) - 7


def test_one_player_equals_the_single_player_step(key):
    rng = np.random.default_rng(0)
    batch = {"x": jnp.asarray(rng.normal(size=(16, 3)), jnp.float32),
             "y": jnp.asarray(rng.normal(size=16), jnp.float32)}
    w0 = {"w": jnp.asarray([0.5, -1.0, 2.0], jnp.float32)}

    def loss(w, batch, key):
        return jnp.mean((batch["x"] @ w["w"] - batch["y"]) ** 2), {}

    single_tx, multi_tx = optax.adam(1e-2), players.partition({"net": optax.adam(1e-2)})
    single = jax.jit(train_step(loss, single_tx, ema_rate(0.9)))
    multi = jax.jit(players.train_step((players.Phase("net", lambda p, s, e, k: loss(p["net"], s, k)),),
                                       multi_tx, ema={"net": ema_rate(0.9)}))
    s, t = init_state(w0, single_tx), init_state({"net": w0}, multi_tx)
    for _ in range(3):
        s, ms = single(s, batch, key)
        t, mt = multi(t, batch, key)
    # the same Adam and EMA arithmetic: bitwise equal parameters, EMA and losses
    np.testing.assert_array_equal(t.params["net"]["w"], s.params["w"])
    np.testing.assert_array_equal(t.ema_params["net"]["w"], s.ema_params["w"])
    assert float(mt["loss"]) == float(ms["loss"])
    np.testing.assert_allclose(mt["grad_norm"], ms["grad_norm"], rtol=1e-6)   # sqrt(g^2): within an ulp


def test_state_with_partition_and_extra_checkpoints_exactly(sgd_step, key, tmp_path):
    tx, step = sgd_step
    state, _ = step(init_state(PARAMS, tx, extra=jnp.arange(6.0).reshape(3, 2)), GOOD, key)   # a "buffer"
    ck = checkpoint.Checkpointer(str(tmp_path), every=1, async_save=False)
    ck.save(state, force=True)
    back = ck.restore(jax.tree.map(jnp.zeros_like, state))
    ck.close()
    assert jax.tree.structure(back) == jax.tree.structure(state)
    for x, y in zip(jax.tree.leaves(back), jax.tree.leaves(state)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("make,match", [
    (lambda: players.train_step((), optax.sgd(1.0)), "non-empty sequence of players.Phase"),
    (lambda: players.train_step((players.Phase("a", _loss_a, 0),), optax.sgd(1.0)), "repeats must be an int >= 1"),
    (lambda: players.train_step(PHASES, optax.sgd(1.0), ema={"a": 0.9}), "ema must map player names"),
    (lambda: players.partition({}), "transforms must map player names"),
])
def test_bad_arguments_raise_before_tracing(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_state_or_inputs_raise_when_traced(key):
    tx = players.partition({"a": optax.sgd(1.0), "b": optax.sgd(1.0)})
    state = init_state(PARAMS, tx, extra=jnp.int32(0))
    step = players.train_step(PHASES, tx)
    with pytest.raises(ValueError, match="state.params must be a dict with a key for every player"):
        step(state._replace(params=(1.0, 3.0)), GOOD, key)
    wrong = players.Phase("a", _loss_a, 2, prepare=lambda p, e, b, k: (None, jnp.zeros(3), e))
    with pytest.raises(ValueError, match="leading axis repeats=2"):
        players.train_step((wrong,), tx)(state, GOOD, key)
    with pytest.raises(ValueError, match="opt_state must be the state of players.partition"):
        players.train_step(PHASES, optax.sgd(1.0))(init_state(PARAMS, optax.sgd(1.0), jnp.int32(0)), GOOD, key)
