"""Recurrent cells as plain functions: ``init(n_in, n_hidden, key) -> params``,
``step(h, x, params) -> h``, plus the closed-form Jacobian d step / d h (for Newton), its
diagonal (for quasi-Newton) and ``value_and_diagonal`` (the step and the diagonal from one gate
evaluation: what a quasi-Newton sweep needs at every step).

    cell = fixedpoint.cells.gru
    params = cell.init(n_in, n_hidden, key)          # the PRNG key comes last (house rule)
    hs, info = fixedpoint.solve(cell.step, jnp.zeros(cell.state_size(n_hidden)), xs, params,
                                method=fixedpoint.quasi_newton(
                                    value_and_diagonal=cell.value_and_diagonal))
    # or method=fixedpoint.newton(cell.jacobian): DEER with the closed-form Jacobian

Params are plain dicts of arrays. Recurrent matrices are drawn N(0, 1/n_hidden), input matrices
N(0, 1/n_in), biases zero (LSTM forget bias 1). The LSTM state is (h, c) packed as one vector
[2 n_hidden] = concat(h, c) so that ``solve`` works on [T, d] arrays throughout.

References: Elman 1990, "Finding Structure in Time" (tanh RNN); Cho et al. 2014, "Learning
Phrase Representations using RNN Encoder-Decoder" (GRU); Hochreiter & Schmidhuber 1997, "Long
Short-Term Memory"; Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of
Nonlinear RNNs" (diagonal Jacobians for quasi-DEER).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

Array = jax.Array


class Cell(NamedTuple):
    """A recurrent cell.

    Attributes:
      init: ``(n_in, n_hidden, key) -> params``.
      step: ``(h [d], x [n_in], params) -> h [d]``.
      diagonal: ``(h [d], x [n_in], params) -> [d]``, the diagonal of d step / d h.
      state_size: ``n_hidden -> d`` (n_hidden, or 2 n_hidden for the LSTM).
      jacobian: ``(h [d], x [n_in], params) -> [d, d]``, d step / d h in closed form (one
        O(d^3) product at most, against the d Jacobian-vector products of ``jax.jacfwd``).
      value_and_diagonal: optional ``(h, x, params) -> (step(h, x, params) [d], diagonal [d])``
        from ONE evaluation of the gates (``quasi_newton(value_and_diagonal=...)`` calls it once
        per step and sweep). Its products are written ``v W^T`` (equal to ``W v``) from n = 8
        on: vmapped over t they are [T, n] x [n, n] matmuls whose result needs no transpose.
    """

    init: Callable
    step: Callable
    diagonal: Callable
    state_size: Callable
    jacobian: Callable
    value_and_diagonal: Optional[Callable] = None


def _check_sizes(name, n_in, n_hidden):
    for arg, value in (("n_in", n_in), ("n_hidden", n_hidden)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"cells.{name}.init: {arg} must be an int >= 1, got {value!r}.")


def _dense(key, shape, fan_in):
    return jax.random.normal(key, shape) / jnp.sqrt(fan_in)


def _gated_init(name: str, gates: str, n_in: int, n_hidden: int, key: Array, ones: str = "") -> dict:
    """W_g [n_hidden, n_in], U_g [n_hidden, n_hidden] (N(0, 1 / fan_in)) and b_g (ones for the
    gates in ``ones``, else zeros) for every gate g."""
    _check_sizes(name, n_in, n_hidden)
    keys = jax.random.split(key, 2 * len(gates))
    params = {}
    for i, gate in enumerate(gates):
        params["W" + gate] = _dense(keys[2 * i], (n_hidden, n_in), n_in)
        params["U" + gate] = _dense(keys[2 * i + 1], (n_hidden, n_hidden), n_hidden)
        params["b" + gate] = (jnp.ones if gate in ones else jnp.zeros)(n_hidden)
    return params


def _mv(W, v):
    return jnp.dot(W, v, precision=jax.lax.Precision.HIGHEST)


def _mv_batched(W, v):
    """W v for a step vmapped over t (``value_and_diagonal``): written v W^T when W has >= 8
    rows, so the batched product is [T, n] x [n, m] with no transpose of its [m, T] result
    (measured 1.2-1.7x faster at n = 8-16 on XLA:CPU); plain W v below (faster at n = 4)."""
    if W.shape[0] < 8:
        return _mv(W, v)
    return jnp.dot(v, W.T, precision=jax.lax.Precision.HIGHEST)


# --- tanh RNN: h' = tanh(W h + U x + b) --------------------------------------------------------

def _tanh_init(n_in: int, n_hidden: int, key: Array) -> dict:
    _check_sizes("tanh_rnn", n_in, n_hidden)
    kw, ku = jax.random.split(key)
    return {"W": _dense(kw, (n_hidden, n_hidden), n_hidden),
            "U": _dense(ku, (n_hidden, n_in), n_in), "b": jnp.zeros(n_hidden)}


def _tanh_step(h: Array, x: Array, params: dict, mv=_mv) -> Array:
    return jnp.tanh(mv(params["W"], h) + mv(params["U"], x) + params["b"])


def _tanh_value_and_diagonal(h: Array, x: Array, params: dict):
    """(h', d h'_i / d h_i) with d h'_i / d h_i = (1 - h'_i^2) W_ii."""
    out = _tanh_step(h, x, params, _mv_batched)
    return out, (1.0 - out * out) * jnp.diagonal(params["W"])


def _tanh_diagonal(h: Array, x: Array, params: dict) -> Array:
    """d h'_i / d h_i = (1 - h'_i^2) W_ii."""
    return _tanh_value_and_diagonal(h, x, params)[1]


def _tanh_jacobian(h: Array, x: Array, params: dict) -> Array:
    """d h' / d h = diag(1 - h'^2) W."""
    out = _tanh_step(h, x, params)
    return (1.0 - out * out)[:, None] * params["W"]


tanh_rnn = Cell(_tanh_init, _tanh_step, _tanh_diagonal, lambda n_hidden: n_hidden, _tanh_jacobian,
                _tanh_value_and_diagonal)


# --- GRU ----------------------------------------------------------------------------------------
#   z = sigma(Wz x + Uz h + bz),  r = sigma(Wr x + Ur h + br),
#   c = tanh(Wc x + Uc (r * h) + bc),  h' = (1 - z) * h + z * c

def _gru_init(n_in: int, n_hidden: int, key: Array) -> dict:
    return _gated_init("gru", "zrc", n_in, n_hidden, key)


def _gru_gates(h, x, p, mv=_mv):
    z = jax.nn.sigmoid(mv(p["Wz"], x) + mv(p["Uz"], h) + p["bz"])
    r = jax.nn.sigmoid(mv(p["Wr"], x) + mv(p["Ur"], h) + p["br"])
    c = jnp.tanh(mv(p["Wc"], x) + mv(p["Uc"], r * h) + p["bc"])
    return z, r, c


def _gru_step(h: Array, x: Array, params: dict) -> Array:
    z, _, c = _gru_gates(h, x, params)
    return (1.0 - z) * h + z * c


def _gru_value_and_diagonal(h: Array, x: Array, params: dict):
    """(h', d h'_i / d h_i) from one gate evaluation, with d h'_i / d h_i = (1 - z_i)
    + (c_i - h_i) z_i (1 - z_i) Uz_ii
    + z_i (1 - c_i^2) [Uc_ii r_i + sum_k Uc_ik Ur_ki h_k r_k (1 - r_k)]   (O(n^2), no Jacobian)."""
    p = params
    z, r, c = _gru_gates(h, x, p, _mv_batched)
    da = jnp.diagonal(p["Uc"]) * r + _mv_batched(p["Uc"] * p["Ur"].T, h * r * (1.0 - r))
    value = (1.0 - z) * h + z * c
    return value, ((1.0 - z) + (c - h) * z * (1.0 - z) * jnp.diagonal(p["Uz"])
                   + z * (1.0 - c * c) * da)


def _gru_diagonal(h: Array, x: Array, params: dict) -> Array:
    """d h'_i / d h_i (``_gru_value_and_diagonal``'s second output)."""
    return _gru_value_and_diagonal(h, x, params)[1]


def _gru_jacobian(h: Array, x: Array, params: dict) -> Array:
    """d h' / d h = diag(1 - z) + diag((c - h) z (1 - z)) Uz
    + diag(z (1 - c^2)) Uc [diag(r) + diag(h r (1 - r)) Ur]."""
    p = params
    z, r, c = _gru_gates(h, x, p)
    dc = p["Uc"] * r + jnp.matmul(p["Uc"], (h * r * (1.0 - r))[:, None] * p["Ur"],
                                  precision=jax.lax.Precision.HIGHEST)
    return (jnp.diag(1.0 - z) + ((c - h) * z * (1.0 - z))[:, None] * p["Uz"]
            + (z * (1.0 - c * c))[:, None] * dc)


gru = Cell(_gru_init, _gru_step, _gru_diagonal, lambda n_hidden: n_hidden, _gru_jacobian,
           _gru_value_and_diagonal)


# --- LSTM, state (h, c) packed as [2 n] ---------------------------------------------------------
#   i, f, o = sigma(W. x + U. h + b.),  g = tanh(Wg x + Ug h + bg),
#   c' = f * c + i * g,  h' = o * tanh(c')

def _lstm_init(n_in: int, n_hidden: int, key: Array) -> dict:
    return _gated_init("lstm", "ifgo", n_in, n_hidden, key, ones="f")   # forget-gate bias 1


def _lstm_parts(state, x, p, mv=_mv):
    n = state.shape[-1] // 2
    h, c = state[:n], state[n:]
    pre = {g: mv(p["W" + g], x) + mv(p["U" + g], h) + p["b" + g] for g in "ifgo"}
    i, f, o = (jax.nn.sigmoid(pre[g]) for g in "ifo")
    g = jnp.tanh(pre["g"])
    c_new = f * c + i * g
    return h, c, i, f, g, o, c_new


def _lstm_step(state: Array, x: Array, params: dict) -> Array:
    _, _, _, _, _, o, c_new = _lstm_parts(state, x, params)
    return jnp.concatenate([o * jnp.tanh(c_new), c_new])


def _lstm_value_and_diagonal(state: Array, x: Array, params: dict):
    """(state', [d h'_j / d h_j, d c'_j / d c_j]) from one gate evaluation, with
    d c'_j / d c_j = f_j and d h'_j / d h_j = o_j (1 - o_j) Uo_jj tanh(c'_j) + o_j (1 - tanh^2 c'_j)
    [c_j f_j (1 - f_j) Uf_jj + g_j i_j (1 - i_j) Ui_jj + i_j (1 - g_j^2) Ug_jj]."""
    p = params
    _, c, i, f, g, o, c_new = _lstm_parts(state, x, p, _mv_batched)
    tc = jnp.tanh(c_new)
    dc_dh = (c * f * (1.0 - f) * jnp.diagonal(p["Uf"]) + g * i * (1.0 - i) * jnp.diagonal(p["Ui"])
             + i * (1.0 - g * g) * jnp.diagonal(p["Ug"]))
    dh_dh = o * (1.0 - o) * jnp.diagonal(p["Uo"]) * tc + o * (1.0 - tc * tc) * dc_dh
    return jnp.concatenate([o * tc, c_new]), jnp.concatenate([dh_dh, f])


def _lstm_diagonal(state: Array, x: Array, params: dict) -> Array:
    """[d h'_j / d h_j, d c'_j / d c_j] (``_lstm_value_and_diagonal``'s second output)."""
    return _lstm_value_and_diagonal(state, x, params)[1]


def _lstm_jacobian(state: Array, x: Array, params: dict) -> Array:
    """[[d h'/d h, d h'/d c], [d c'/d h, d c'/d c]] with d c'/d c = diag(f),
    d c'/d h = diag(c f (1 - f)) Uf + diag(g i (1 - i)) Ui + diag(i (1 - g^2)) Ug,
    d h'/d h = diag(o (1 - o) tanh c') Uo + diag(o (1 - tanh^2 c')) d c'/d h,
    d h'/d c = diag(o (1 - tanh^2 c') f)."""
    p = params
    _, c, i, f, g, o, c_new = _lstm_parts(state, x, p)
    tc = jnp.tanh(c_new)
    dc_dh = ((c * f * (1.0 - f))[:, None] * p["Uf"] + (g * i * (1.0 - i))[:, None] * p["Ui"]
             + (i * (1.0 - g * g))[:, None] * p["Ug"])
    do = o * (1.0 - tc * tc)
    dh_dh = (o * (1.0 - o) * tc)[:, None] * p["Uo"] + do[:, None] * dc_dh
    top = jnp.concatenate([dh_dh, jnp.diag(do * f)], axis=1)
    return jnp.concatenate([top, jnp.concatenate([dc_dh, jnp.diag(f)], axis=1)], axis=0)


lstm = Cell(_lstm_init, _lstm_step, _lstm_diagonal, lambda n_hidden: 2 * n_hidden, _lstm_jacobian,
            _lstm_value_and_diagonal)
