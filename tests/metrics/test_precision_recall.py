"""Improved precision / recall against a known answer."""
import numpy as np
import pytest

from genjax.metrics import precision_recall


def _embed(t, seed=0, d=5):
    """Points t on a line, rotated into d dimensions and shifted (distances unchanged)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return np.outer(t, q[0]) + rng.normal(size=d)


def test_precision_recall_known_answer():
    # Real 0..9 on a line: 3rd-NN radius 3 at the ends, 2 inside. Generated {4.5 .. 7.5} (radii 3, 2, 2, 3:
    # covering [1.5, 10.5]) and {40 .. 43}. Precision: 4.5..7.5 are in the real manifold, 40..43 are not
    # -> 4/8. Recall: reals 2..9 lie in the generated manifold (2 is 2.5 from 4.5 < 3), 0 and 1 do not -> 8/10.
    real = _embed(np.arange(10.0))
    gen = _embed(np.array([4.5, 5.5, 6.5, 7.5, 40, 41, 42, 43]))
    p, r = precision_recall.precision_recall(real, gen, k=3, block=3)   # block 3: exercises padding
    assert p == pytest.approx(0.5) and r == pytest.approx(0.8)
    np.testing.assert_allclose(precision_recall.knn_radii(real.astype(np.float32), 3, 4),
                               [9, 4, 4, 4, 4, 4, 4, 4, 4, 9], rtol=1e-4)   # squared radii
    assert precision_recall.precision_recall(real, real) == (1.0, 1.0)
    with pytest.raises(ValueError, match="k must be"):
        precision_recall.precision_recall(real, gen, k=8)
