"""genjax.metrics.streaming: running sums == one-shot statistics; 8 devices == 1; stats files."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.metrics import fid, streaming
from genjax.train import sharding


def _feats(n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 3.0   # correlated, non-zero mean


def test_streaming_equals_one_shot():
    x = _feats()
    sums = streaming.init(6)
    for lo, hi in ((0, 7), (7, 64), (64, 200), (200, 300)):   # uneven batches
        sums = streaming.update(sums, x[lo:hi])
    mu, sigma = streaming.statistics(sums)
    mu0, sigma0 = fid.statistics(x)
    assert sums.count == 300
    # float64 throughout: equal up to summation order (1e-10 relative).
    np.testing.assert_allclose(mu, mu0, rtol=1e-10)
    np.testing.assert_allclose(sigma, sigma0, rtol=1e-10, atol=1e-10 * np.abs(sigma0).max())
    half = streaming.merge(streaming.update(streaming.init(6), x[:100]), streaming.update(streaming.init(6), x[100:]))
    np.testing.assert_allclose(streaming.statistics(half)[1], sigma0, rtol=1e-10, atol=1e-10 * np.abs(sigma0).max())


def _toy_featurize(w, x):
    """A stand-in feature map (uint8 images -> [B, 4]) for the sharded path."""
    return jnp.tanh(jnp.dot(x.reshape(x.shape[0], -1).astype(jnp.float32) / 255.0, w, precision="highest"))


def test_sharded_sums_8_devices_equal_1_device():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (64, 4, 4, 3), dtype=np.uint8)
    w = rng.normal(size=(48, 4)).astype(np.float32)
    out = {}
    for ndev in (1, 8):
        mesh = sharding.data_mesh(jax.devices()[:ndev])
        step = streaming.sharded_sums(_toy_featurize, mesh)
        aux = sharding.put_replicated(w, mesh)
        out[ndev] = streaming.accumulate(step, aux, (images[i:i + 16] for i in range(0, 64, 16)), dim=4, total=64)
    assert len(jax.devices()) == 8 and out[1].count == out[8].count == 64
    # Per-batch sums are float32 (order of reduction differs across devices): 1e-6 relative.
    for a, b in ((out[1].s1, out[8].s1), (out[1].s2, out[8].s2)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # ... and both equal the float64 statistics of the features computed at once.
    feats = np.asarray(_toy_featurize(w, images), np.float64)
    for s in out.values():
        mu, sigma = streaming.statistics(s)
        np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-6)
        np.testing.assert_allclose(sigma, np.cov(feats, rowvar=False), rtol=1e-5, atol=1e-6)
    mesh = sharding.data_mesh()
    got = streaming.sharded_features(_toy_featurize, mesh)(sharding.put_replicated(w, mesh), images[:16])
    np.testing.assert_allclose(got, feats[:16], rtol=0, atol=1e-6)   # float32 features in [-1, 1]


def test_reference_files_roundtrip_and_published_format(tmp_path):
    x = _feats()
    sums = streaming.update(streaming.init(6), x)
    streaming.save_reference(str(tmp_path / "ref.npz"), sums, "abc123")
    ref = streaming.load_reference(str(tmp_path / "ref.npz"))
    mu, sigma = fid.statistics(x)
    np.testing.assert_allclose(ref["mu"], mu, rtol=1e-12)
    np.testing.assert_allclose(ref["sigma"], sigma, rtol=1e-10, atol=1e-12)
    assert ref["count"] == 300 and ref["weights_checksum"] == "abc123"
    # pytorch-fid / TTUR / EDM files: only mu and sigma (EDM's float64, TTUR's float32).
    np.savez(tmp_path / "edm.npz", mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
    ref = streaming.load_reference(str(tmp_path / "edm.npz"))
    assert ref["count"] is None and ref["weights_checksum"] is None and ref["sigma"].dtype == np.float64
    np.savez(tmp_path / "bad.npz", m=mu)
    with pytest.raises(ValueError, match="'mu' and 'sigma'"):
        streaming.load_reference(str(tmp_path / "bad.npz"))
    with pytest.raises(ValueError, match="does not exist"):
        streaming.load_reference(str(tmp_path / "absent.npz"))


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda: streaming.update(streaming.init(3), np.zeros((2, 4))), "feats must have shape", id="feats"),
    pytest.param(lambda: streaming.statistics(streaming.update(streaming.init(3), np.zeros((1, 3)))),
                 "at least 2 rows", id="rows"),
])
def test_input_checks(call, match):
    with pytest.raises(ValueError, match=match):
        call()
