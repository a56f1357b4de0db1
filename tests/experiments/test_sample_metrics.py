"""The trainer's sample metrics: --mode eval of a digits diffusion config logs digits_fd (samples drawn in
chunks of eval.sample_batch), training logs them at sample_every with eval.periodic; the Inception
metrics' plumbing (batches, padding, 8-device sharding, reference-statistics files) with a stand-in network."""
import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments import train
from experiments.configs import digits_ddpm
from experiments.tasks import _evaluate, _sample_metrics
from experiments.tasks._sample_metrics import sample_metrics
from genjax.metrics import fid, kid, precision_recall


def test_runlocal_digits_configs_ask_for_digits_fd():
    assert "digits_fd" in digits_ddpm.get_config("runlocal").eval.sample_metrics


def test_draw_in_chunks_is_fold_in_of_the_chunk_index(key):
    calls = []

    def sample(params, n, k):
        calls.append(n)
        return jax.random.normal(k, (n, 2)) + params

    def chunk(i, b):
        return np.asarray(jax.random.normal(jax.random.fold_in(key, i), (b, 2)) + 1.0)

    x = _sample_metrics.draw(sample, 1.0, 10, 4, key)       # chunks 4, 4, 4 (the last cut to 2)
    assert calls == [4, 4, 4] and x.shape == (10, 2)
    np.testing.assert_array_equal(x, np.concatenate([chunk(0, 4), chunk(1, 4), chunk(2, 4)[:2]]))
    calls.clear()
    np.testing.assert_array_equal(_sample_metrics.draw(sample, 1.0, 10, 1000, key), chunk(0, 10))
    assert calls == [10]                                     # batch >= n: one call of n
    c = digits_ddpm.get_config("runlocal")
    c.eval.sample_batch = 0
    with pytest.raises(ValueError, match="config.eval.sample_batch=0"):
        train.run(c, "/nonexistent/never-created")


def test_eval_mode_writes_digits_fd(tmp_path, key, monkeypatch):
    c = digits_ddpm.get_config("runlocal")
    c.model.net = "mlp"                      # the cheapest network (compiles in seconds)
    c.model.net_kwargs = ml_collections.ConfigDict({"features": (32,), "embed_dim": 16})
    c.training.num_steps = 2                 # an (almost) untrained network: its samples are far from digits
    c.training.checkpoint_every = 2
    c.sampling.num_steps = 4
    c.eval.num_samples = 64
    c.eval.sample_metrics = ("digits_fd", "digits_score")
    c.eval.sample_batch = 24                 # 64 samples in chunks 24, 24, 16
    c.training.sample_every = 2              # periodic metrics of the loop's 32 samples at step 2
    c.sampling.num_samples = 32
    c.eval.periodic = True
    train.run(c, str(tmp_path))
    seen = []
    monkeypatch.setattr(_evaluate, "sample_metrics",
                        lambda x, *a, **k: seen.append(x.shape) or sample_metrics(x, *a, **k))
    train.run(c, str(tmp_path), mode="eval")
    assert seen == [(64, 8, 8, 1)]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    ev = [r for r in rows if "eval/digits_fd" in r]
    assert [r["step"] for r in ev] == [2, 2]  # the training loop's (32 samples), then --mode eval's (64)
    # The floor (held-out digits) is 3.56; blurred digits score 120 (docs/readme/metrics.md).
    for r in ev:
        assert r["eval/digits_fd"] > 30 and 1.0 <= r["eval/digits_score"] <= 10.0
    report = json.loads((tmp_path / "eval_00000002.json").read_text())
    assert report["digits_fd"] == pytest.approx(ev[1]["eval/digits_fd"]) and report["num_samples"] == 64
    assert ev[0]["eval/digits_fd"] != pytest.approx(ev[1]["eval/digits_fd"])
    # periodic_metrics itself: off unless config.eval.periodic.
    c.eval.periodic = False
    res = train.run(c, str(tmp_path), mode="sample")
    x = np.load(tmp_path / "samples_00000002.npz")["samples"]
    assert _sample_metrics.periodic_metrics(c, x, res.data, 2, key) == {}
    c.eval.periodic = True
    per = _sample_metrics.periodic_metrics(c, x, res.data, 2, train.run_keys(c.seed)["eval"])
    assert set(per) == {"eval/digits_fd", "eval/digits_score"}
    # the loop logged exactly these rows of its step-2 samples (the sample mode's: same key, same 32)
    assert all(per[k] == pytest.approx(ev[0][k], rel=1e-6) for k in per)


def _stand_in(net_vars, images):
    """A cheap 'Inception': uint8 [B, H, W, 3] -> [B, 6] (the trainer's path calls fid.pool3)."""
    x = images.astype(jnp.float32).reshape(images.shape[0], -1) / 255.0
    return jnp.tanh(jnp.dot(x, net_vars["params"]["w"], precision="highest"))


@pytest.fixture
def stand_in(monkeypatch):
    w = np.random.default_rng(0).normal(size=(8 * 8 * 3, 6)).astype(np.float32) / 8
    variables = {"params": {"w": w}, "batch_stats": {}, "checksum": "stand-in",
                 "fc": {"kernel": np.eye(6, 5, dtype=np.float32), "bias": np.zeros(5, np.float32)}}
    monkeypatch.setattr(fid, "pool3", _stand_in)
    monkeypatch.setattr(fid, "cached_variables", lambda path=None: variables)
    monkeypatch.setattr(fid, "FEATURE_DIM", 6)
    return lambda images: np.asarray(_stand_in(variables, jnp.asarray(images)), np.float64)


def test_inception_metrics_plumbing(stand_in, tmp_path, key):
    rng = np.random.default_rng(1)
    x = np.tanh(rng.normal(size=(37, 8, 8, 1))).astype(np.float32)        # 37 = 2 batches of 16 + 5
    ref = np.tanh(rng.normal(size=(45, 8, 8, 1)) + 0.3).astype(np.float32)
    cfg = ml_collections.ConfigDict({"eval": {"metrics_batch": 16, "fid_reference": str(tmp_path / "ref.npz")}})
    names = ("fid", "kid", "precision", "recall")
    out = _sample_metrics.sample_metrics(x, ref, names, key, cfg)          # 8 devices (tests/conftest.py)
    fx, fr = stand_in(_sample_metrics.to_uint8(x)), stand_in(_sample_metrics.to_uint8(ref))
    want = fid.frechet_distance(*fid.statistics(fx), *fid.statistics(fr))
    assert out["fid"] == pytest.approx(want, rel=1e-5)    # float32 device sums of full batches
    assert out["kid"] == pytest.approx(kid.kid(fx, fr, key)[0], rel=1e-4, abs=1e-6)
    assert (out["precision"], out["recall"]) == precision_recall.precision_recall(fr, fx)
    assert (tmp_path / "ref.npz").exists()                 # saved once, then read back
    again = _sample_metrics.sample_metrics(x, ref[:3], ("fid",), key, cfg)
    # (the first run summed host float64 features, this one float32 device sums: FD 0.066 to 1e-4)
    assert again["fid"] == pytest.approx(out["fid"], rel=1e-4)
    u = _sample_metrics.to_uint8(np.array([-1.0, -0.999, 0.0, 1.0, 2.0]).reshape(1, 1, 5, 1))
    assert u.shape == (1, 1, 5, 3) and list(u[0, 0, :, 0]) == [0, 0, 128, 255, 255]
    with pytest.raises(ValueError, match="config.eval.sample_metrics"):
        _sample_metrics.sample_metrics(x, ref, ("fdi",), key, cfg)
