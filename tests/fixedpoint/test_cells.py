"""Cells: closed-form Jacobians == jacfwd, their diagonals (alone and fused with the step) ==
diag(jacfwd); init shapes; LSTM packing."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.fixedpoint import cells

CELLS = {"tanh_rnn": cells.tanh_rnn, "gru": cells.gru, "lstm": cells.lstm}


@pytest.mark.parametrize("name", list(CELLS))
def test_jacobian_and_diagonal_equal_jacfwd(name):
    cell = CELLS[name]
    with jax.enable_x64(True):
        k_p, k_h, k_x = jax.random.split(jax.random.key(2), 3)
        # n_hidden = 8: value_and_diagonal's v W^T branch (n >= 8); tests/fixedpoint/test_sweep.py's
        # fused == JVP iterates (n = 5) covers its W v branch.
        params = jax.tree.map(lambda a: a.astype(jnp.float64), cell.init(3, 8, key=k_p))
        d = cell.state_size(8)
        h = jax.random.normal(k_h, (d,), jnp.float64)
        x = jax.random.normal(k_x, (3,), jnp.float64)
        want = jax.jit(jax.jacfwd(cell.step))(h, x, params)
        got = jax.jit(cell.jacobian)(h, x, params)
        diagonal = jax.jit(cell.diagonal)(h, x, params)
        value, fused = jax.jit(cell.value_and_diagonal)(h, x, params)
        # All exact in float64: agreement to 1e-12 (a missing or transposed term would be O(0.1)).
        assert got.shape == (d, d)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-12)
        np.testing.assert_allclose(np.asarray(diagonal), np.diagonal(np.asarray(want)), atol=1e-12)
        # the fused form: the step's value and the same diagonal, from one gate evaluation
        np.testing.assert_allclose(np.asarray(fused), np.diagonal(np.asarray(want)), atol=1e-12)
        np.testing.assert_allclose(np.asarray(value), np.asarray(cell.step(h, x, params)),
                                   atol=1e-12)


@pytest.mark.parametrize("name", list(CELLS))
def test_init_shapes_and_key_last(name):
    cell = CELLS[name]
    params = cell.init(5, 7, jax.random.key(0))          # (n_in, n_hidden, key)
    same = cell.init(n_in=5, n_hidden=7, key=jax.random.key(0))
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), params, same))
    d = cell.state_size(7)
    out = jax.jit(cell.step)(jnp.zeros(d), jnp.ones(5), params)
    assert out.shape == (d,) and out.dtype == jnp.float32
    assert d == (14 if name == "lstm" else 7)


def test_lstm_packs_h_and_c():
    cell = cells.lstm
    params = cell.init(2, 3, jax.random.key(1))
    state = jnp.arange(6.0) / 10
    x = jnp.array([0.3, -0.2])
    out = cell.step(state, x, params)
    h, c = state[:3], state[3:]
    gate = {g: params["W" + g] @ x + params["U" + g] @ h + params["b" + g] for g in "ifgo"}
    c_new = jax.nn.sigmoid(gate["f"]) * c + jax.nn.sigmoid(gate["i"]) * jnp.tanh(gate["g"])
    h_new = jax.nn.sigmoid(gate["o"]) * jnp.tanh(c_new)
    np.testing.assert_allclose(np.asarray(out), np.asarray(jnp.concatenate([h_new, c_new])),
                               atol=1e-6)

