"""Damped sweeps: ELK, a Levenberg-Marquardt (trust-region) model solved by Kalman filtering.

An undamped sweep jumps to the solution of the linearised recurrence, whose errors grow like the
products J_T ... J_t on unstable dynamics (iterates of size 1e15 for a GRU whose states lie in
[-1, 1]). ELK instead treats the current iterate y_t = h^(k)_t as noisy observations of the
linearised dynamics with the base method's (A_t, b_t):

    s_t = A_t s_{t-1} + b_t + w_t,   w_t ~ N(0, I);     y_t = s_t + v_t,   v_t ~ N(0, I / lambda),

with s_0 = h_0 fixed. Its posterior mean given all of y (the Kalman *smoother*) is the
Levenberg-Marquardt step

    argmin_s  sum_t |s_t - A_t s_{t-1} - b_t|^2 + lambda sum_t |s_t - y_t|^2.

``damped`` uses the Kalman *filter* mean E[s_t | y_1..y_t], as the ELK authors' code does: it is
causal, so an exact prefix of the iterate stays exact and each sweep extends it (damped by
1 / (1 + lambda P_t)), while the filter covariance P_t <= 1 / lambda caps how far an unreliable
linearisation can throw the iterate. ``elk_step(..., smooth=True)`` returns the full LM step
(its tail directions are ill-conditioned on unstable systems, and in our tests it converges far
more slowly there). lambda = 0 is the base method. Diagonal A_t (quasi-ELK) makes every matrix
elementwise. Both filter and smoother are associative scans of depth O(log T).

With kappa = lambda / (1 + lambda) the filtering elements (Sarkka & Garcia-Fernandez, Lemma 8)
are, for t > 1: A = (1 - kappa) A_t, b = (1 - kappa) b_t + kappa y_t, C = (1 - kappa) I,
eta = kappa A_t^T (y_t - b_t), J = kappa A_t^T A_t; the first element is conditioned on h_0.
The smoother is the reverse linear recurrence m^s_t = E_t m^s_{t+1} + g_t with
E_t = P_t A_{t+1}^T (A_{t+1} P_t A_{t+1}^T + I)^{-1}, solved by ``linear_scan(reverse=True)``.

References: Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of Nonlinear
RNNs" (NeurIPS), section 5 (ELK, quasi-ELK); Sarkka & Garcia-Fernandez 2021, "Temporal
Parallelization of Bayesian Smoothers" (IEEE TAC), Lemmas 7-10.
"""
from __future__ import annotations

import math
from typing import Optional

import jax
import jax.numpy as jnp
from jax import lax

from genjax._memo import memoized
from genjax.fixedpoint.linear_scan import HIGHEST, is_diagonal, linear_scan, matvec
from genjax.fixedpoint.methods import newton
from genjax.fixedpoint.strategy import Method

Array = jax.Array


def _mm(a, b):
    return jnp.matmul(a, b, precision=HIGHEST)


def _tr(a):
    return jnp.swapaxes(a, -1, -2)


def _sym(a):
    return 0.5 * (a + _tr(a))


def _combine_dense(first, second):
    A1, b1, C1, e1, J1 = first
    A2, b2, C2, e2, J2 = second
    n = A1.shape[-1]
    eye = jnp.eye(n, dtype=A1.dtype)
    # One LU of M = I + C_i J_j serves both M^-1 and N^-1 = (I + J_j C_i)^-1 = M^-T.
    lu_piv = jax.scipy.linalg.lu_factor(eye + _mm(C1, J2))
    rhs = jnp.concatenate([A1, (b1 + matvec(C1, e2))[..., None], C1], axis=-1)
    sol = jax.scipy.linalg.lu_solve(lu_piv, rhs)
    MA, Mb, MC = sol[..., :n], sol[..., n], sol[..., n + 1:]
    rhs_t = jnp.concatenate([(e2 - matvec(J2, b1))[..., None], J2], axis=-1)
    sol_t = jax.scipy.linalg.lu_solve(lu_piv, rhs_t, trans=1)
    Ne, NJ = sol_t[..., 0], sol_t[..., 1:]
    A = _mm(A2, MA)
    b = matvec(A2, Mb) + b2
    C = _sym(_mm(_mm(A2, MC), _tr(A2)) + C2)
    e = matvec(_tr(A1), Ne) + e1
    J = _sym(_mm(_mm(_tr(A1), NJ), A1) + J1)
    return A, b, C, e, J


def _combine_diagonal(first, second):
    A1, b1, C1, e1, J1 = first
    A2, b2, C2, e2, J2 = second
    d = 1.0 + C1 * J2
    return (A2 * A1 / d, A2 * (b1 + C1 * e2) / d + b2, A2 * A2 * C1 / d + C2,
            A1 * (e2 - J2 * b1) / d + e1, A1 * A1 * J2 / d + J1)


def elk_step(A: Array, b: Array, h0: Array, y: Array, strength: float,
             smooth: bool = True) -> Array:
    """Posterior means of the ELK state-space model above (filter or smoother).

    Args:
      A: [T, n, n] dense or [T, n] diagonal transitions of the linearised recurrence.
      b: [T, n] offsets.
      h0: [n] fixed initial state.
      y: [T, n] current iterate (the observations).
      strength: lambda >= 0 (observation precision).
      smooth: True: the smoothed mean = the Levenberg-Marquardt step, the minimiser of
        sum_t |s_t - A_t s_{t-1} - b_t|^2 + lambda |s_t - y_t|^2. False: the filtered mean,
        whose row t minimises the same objective truncated after step t (evaluated at s_t).

    Returns:
      [T, n] means.

    References: Gonzalez et al. 2024, "ELK"; Sarkka & Garcia-Fernandez 2021.
    """
    kappa = strength / (1.0 + strength)
    keep = 1.0 - kappa
    diag = is_diagonal(A, b)
    T, n = b.shape
    if diag:
        At = A
        ones = jnp.ones_like(b)
        eta = kappa * A * (y - b)
        Jinfo = kappa * A * A
        Ce = keep * ones
    else:
        At = _tr(A)
        eye = jnp.broadcast_to(jnp.eye(n, dtype=b.dtype), (T, n, n))
        eta = kappa * matvec(At, y - b)
        Jinfo = kappa * _mm(At, A)
        Ce = keep * eye
    # First element: conditioned on the known h_0 (prior covariance 0, predicted covariance I).
    m_pred = matvec(A[0], h0) + b[0]
    Ae = (keep * A).at[0].set(jnp.zeros_like(A[0]))
    be = (keep * b + kappa * y).at[0].set(keep * m_pred + kappa * y[0])
    eta = eta.at[0].set(jnp.zeros_like(eta[0]))
    Jinfo = Jinfo.at[0].set(jnp.zeros_like(Jinfo[0]))
    combine = _combine_diagonal if diag else _combine_dense
    _, m, P, _, _ = lax.associative_scan(combine, (Ae, be, Ce, eta, Jinfo))
    if not smooth:
        return m

    # RTS smoother gains E_t (t < T) and offsets g_t; E_T = 0, g_T = m_T.
    A_next, b_next, P_now, m_now = A[1:], b[1:], P[:-1], m[:-1]
    if diag:
        E = P_now * A_next / (A_next * P_now * A_next + 1.0)
    else:
        eye = jnp.eye(n, dtype=b.dtype)
        S = _mm(_mm(A_next, P_now), _tr(A_next)) + eye
        E = _tr(jnp.linalg.solve(S, _mm(A_next, P_now)))
    g = m_now - matvec(E, matvec(A_next, m_now) + b_next)
    E = jnp.concatenate([E, jnp.zeros_like(E[:1])], axis=0)
    g = jnp.concatenate([g, m[-1:]], axis=0)
    return linear_scan(E, g, jnp.zeros_like(h0), reverse=True)


@memoized
def damped(strength: float, base: Optional[Method] = None) -> Method:
    """ELK: ``base``'s linearisation (newton: ELK, quasi_newton: quasi-ELK), damped by lambda.

    Each sweep returns the Kalman-filter mean of the module docstring's state-space model with
    lambda = ``strength`` instead of the plain linear recurrence; lambda = 0 returns ``base``.
    Iterates stay bounded on unstable dynamics (each step's correction is capped by the filter
    covariance, P_t <= 1 / lambda), at the price of a slower advance of the converged prefix.
    The ELK authors use lambda ~ 1e-8 (their sigma^2 = 1e8); larger lambda damps more.

    Args:
      strength: lambda >= 0, a Python float.
      base: the method supplying A_t (default ``newton()``); not ``sequential()``.

    References: Gonzalez et al. 2024, "Towards Scalable and Stable Parallelization of Nonlinear
    RNNs" (NeurIPS), ELK and quasi-ELK.
    """
    if isinstance(strength, bool) or not isinstance(strength, (int, float)):
        raise TypeError(f"damped: strength must be a Python float, got {type(strength).__name__}.")
    if not math.isfinite(strength) or strength < 0:
        raise ValueError(f"damped: strength must be finite and >= 0, got {strength!r}.")
    base = newton() if base is None else base
    if not isinstance(base, Method):
        raise TypeError(f"damped: base must be a fixedpoint.Method, got {type(base).__name__}.")
    if base.linearize is None:
        raise ValueError("damped: base=sequential() has no linearisation to damp.")
    if strength == 0:
        return base
    strength = float(strength)

    def solve_linear(A, b, h0, hs):
        return elk_step(A, b, h0, hs, strength, smooth=False)

    return base._replace(name=f"damped({strength:g}, {base.name})", solve_linear=solve_linear)
