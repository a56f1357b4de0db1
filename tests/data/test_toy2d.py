"""Tests for genjax/data/toy2d.py: shapes, determinism and one law-checking statistic per set."""
import math

import jax
import numpy as np
import pytest
from scipy import integrate

from genjax.data import mixture, toy2d

N = 20000


@pytest.fixture(scope="module")
def samples():
    """All sets drawn in one jitted call (one compilation instead of eight)."""
    draw = jax.jit(lambda key: {name: fn(N, key) for name, fn in toy2d.SAMPLERS.items()})
    return {name: np.asarray(v, np.float64) for name, v in draw(jax.random.key(1)).items()}


def _mean_within(values, expected, n_se=4.0):
    """|mean - expected| < n_se standard errors (false-failure rate ~6e-5 per check)."""
    se = values.std() / math.sqrt(len(values))
    assert abs(values.mean() - expected) < n_se * se, (values.mean(), expected, se)


def test_shapes_dtype_finite_and_determinism(samples):
    assert set(samples) == set(toy2d.NAMES) == {"8gaussians", "25gaussians", "moons", "swissroll",
                                                "checkerboard", "pinwheel", "2spirals", "circles"}
    for name in toy2d.NAMES:
        assert samples[name].shape == (N, 2)
        assert np.all(np.isfinite(samples[name]))
    # the public sampler: float32, a pure function of the key
    for name in ("moons", "checkerboard"):
        again = toy2d.sample(name, N, jax.random.key(1))
        assert again.dtype == np.float32
        np.testing.assert_allclose(np.asarray(again, np.float64), samples[name], rtol=1e-6, atol=1e-6)
    other = np.asarray(toy2d.sample("moons", N, jax.random.key(2)))
    assert not np.allclose(other, samples["moons"])


def test_gaussian_grids_are_near_their_centres(samples):
    """Every point within 5.5 std of a centre (chi_2 tail exp(-15) * N ~ 6e-3 failure rate)
    and the centre counts ~ Bin(N, 1/K) within 5 sd."""
    for name, gm in (("8gaussians", mixture.eight_gaussians_mixture()), ("25gaussians", mixture.grid_mixture())):
        x = samples[name]
        means, std = np.asarray(gm.means), float(gm.stds[0, 0])
        dist = np.linalg.norm(x[:, None] - means[None], axis=-1)
        assert dist.min(1).max() < 5.5 * std
        k = len(means)
        counts = np.bincount(dist.argmin(1), minlength=k)
        assert np.all(np.abs(counts - N / k) < 5 * math.sqrt(N / k * (1 - 1 / k)))


def test_checkerboard_in_even_squares(samples):
    x = samples["checkerboard"]
    assert np.all(np.abs(x) <= 4.0)
    parity = (np.floor(x[:, 0] / 2) + np.floor(x[:, 1] / 2)) % 2
    assert np.all(parity == 0)
    # the 8 black squares are hit uniformly: 8 counts ~ Bin(N, 1/8) within 5 sd
    cell = (np.floor(x[:, 0] / 2) + 2) * 4 + (np.floor(x[:, 1] / 2) + 2)
    counts = np.bincount(cell.astype(int), minlength=16)
    counts = counts[counts > 0]
    assert len(counts) == 8 and np.all(np.abs(counts - N / 8) < 5 * math.sqrt(N / 8 * 7 / 8))


def test_moons_lie_on_their_arcs(samples):
    """Arcs of radius 2 about (-1, -0.2) and (1, 0.8) after scaling; noise sd 0.2 -> within 1.0.
    Mean (0, 0.3): E[cos u] = 0, E[sin u] = 2 / pi on U[0, pi]."""
    x = samples["moons"]
    r1 = np.abs(np.linalg.norm(x - [-1.0, -0.2], axis=1) - 2.0)
    r2 = np.abs(np.linalg.norm(x - [1.0, 0.8], axis=1) - 2.0)
    assert np.minimum(r1, r2).max() < 1.0
    _mean_within(x[:, 0], 0.0)
    _mean_within(x[:, 1], 0.3)


def test_second_moments_match_their_laws(samples):
    """E|x|^2 against closed forms / quadrature of each generator's law (4 standard errors)."""
    # swissroll: |5x|^2 = u^2 + 2 (noise) + cross terms of mean 0; u = 1.5 pi (1 + 2U)
    # E[(1 + 2U)^2] = 1 + 2 + 4/3 = 13/3
    _mean_within(np.sum((5 * samples["swissroll"]) ** 2, 1), (1.5 * math.pi) ** 2 * 13 / 3 + 2.0)
    # pinwheel: rotation keeps the norm: E|x|^2 = 4 (1 + 0.3^2 + 0.1^2)
    _mean_within(np.sum(samples["pinwheel"] ** 2, 1), 4 * 1.1)
    # circles: 9 (E r^2 + 2 0.08^2), r in {1, 0.5} equally likely
    _mean_within(np.sum(samples["circles"] ** 2, 1), 9 * (0.5 * 1.25 + 2 * 0.08**2))
    # 2spirals: u = c sqrt(V) has density 2u / c^2 on [0, c]; arm = (-u cos u + j1, u sin u + j2),
    # j ~ U[0, 0.5)^2 (E j = 1/4, E j^2 = 1/12); E|x|^2 = E|arm|^2 / 9 + 2 * 0.1^2
    c = 3 * math.pi
    def expect(f):
        return integrate.quad(lambda u: f(u) * 2 * u / c**2, 0, c, limit=200)[0]
    arm2 = expect(lambda u: u**2) + 2 * 0.25 * (expect(lambda u: -u * math.cos(u)) + expect(lambda u: u * math.sin(u)))
    arm2 += 2 / 12
    _mean_within(np.sum(samples["2spirals"] ** 2, 1), arm2 / 9 + 2 * 0.01)
    _mean_within(samples["2spirals"][:, 0], 0.0)  # the two arms are mirror images


@pytest.mark.parametrize("name, n, match", [
    pytest.param("checkers", 10, "checkerboard", id="name"),  # the message lists the names
    pytest.param("moons", 0, "n must be", id="n"),
])
def test_bad_input(name, n, match):
    with pytest.raises(ValueError, match=match):
        toy2d.sample(name, n, jax.random.key(0))
