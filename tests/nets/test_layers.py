"""Tests for genjax/nets/layers.py: EDM's weight initialisers have the stated spread."""
import jax
import numpy as np
import pytest

from genjax import nets


@pytest.mark.parametrize("mode,std", [("xavier_uniform", np.sqrt(2.0 / (300 + 500))), ("kaiming_uniform", np.sqrt(1.0 / 300)),
                                      ("kaiming_normal", np.sqrt(1.0 / 300))])
def test_edm_initialisers_have_the_stated_spread(mode, std):
    # EDM's weight_init laws: U(+-sqrt(6/(fi+fo))) (std sqrt(2/(fi+fo))), U(+-sqrt(3/fi)) (std sqrt(1/fi)), N(0, 1/fi)
    init = nets.layers._initializer(mode, 300, 500, 0.5)
    w = np.asarray(init(jax.random.key(0), (300, 500)))
    # 150k draws: the std estimate's relative error is ~ 0.2%, 1% is 5 sigma
    np.testing.assert_allclose(w.std(), 0.5 * std, rtol=1e-2)
    assert abs(w.mean()) < 5 * 0.5 * std / np.sqrt(w.size)
    if mode != "kaiming_normal":
        assert np.abs(w).max() <= 0.5 * std * np.sqrt(3.0) + 1e-7  # the uniform bound
    assert not np.any(np.asarray(nets.layers._initializer(mode, 300, 500, 0.0)(jax.random.key(0), (3,))))
    with pytest.raises(ValueError, match="init mode"):
        nets.layers._initializer("orthogonal", 3, 3, 1.0)
