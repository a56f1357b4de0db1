"""Loss strategies (genjax/losses/strategies.py): label dropout."""
import jax.numpy as jnp
import numpy as np

from genjax.losses import strategies as wt


def test_label_dropout_rate_and_null_label(key):
    label = jnp.arange(20_000) % 10
    out = wt.labels({"x": None, "label": label}, 0.2, key)
    dropped = np.asarray(out == -1)
    # binomial SE = sqrt(0.2 * 0.8 / 20000) = 0.0028; 0.015 is ~5 SE
    assert abs(dropped.mean() - 0.2) < 0.015
    np.testing.assert_array_equal(np.asarray(out)[~dropped], np.asarray(label)[~dropped])
