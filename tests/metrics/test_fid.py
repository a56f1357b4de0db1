"""genjax.metrics.fid against pytorch-fid: the golden fixture (tests/fixtures/fid) and closed forms.

The fixture holds pytorch-fid's features and logits of 4 uint8 32x32 images through its FID Inception
with deterministic random He-scale weights, which the test regenerates from numpy
(tests/fixtures/fid/random_weights.py); its recipe is tests/fixtures/fid/README.md.
"""
import pathlib
import sys

import numpy as np
import pytest

from genjax.metrics import fid

FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "fid"
sys.path.insert(0, str(FIXTURE))
import random_weights  # noqa: E402


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(FIXTURE / "golden.npz", allow_pickle=False))


@pytest.fixture(scope="module")
def state_dict(golden):
    shapes = [tuple(s[:r]) for s, r in zip(golden["shapes"], golden["shape_rank"])]
    return random_weights.make([str(n) for n in golden["names"]], shapes, int(golden["seed"]))


@pytest.fixture(scope="module")
def variables(state_dict):
    return fid.from_torch_state_dict(state_dict)


@pytest.fixture(scope="module")
def feats(variables, golden):
    return np.asarray(fid.features(variables, golden["images"]))


def test_features_match_pytorch_fid(golden, feats):
    ref = golden["features"]
    assert feats.shape == ref.shape == (4, fid.FEATURE_DIM)
    # The fixture is informative: the 4 images get clearly different features.
    assert np.std(ref, axis=0).mean() > 0.05 * np.abs(ref).mean()
    # float32 through 94 conv layers: <= 1e-4 of the feature scale (measured 6e-7); per image, the
    # relative error of the feature vector <= 1e-4.
    assert np.max(np.abs(feats - ref)) <= 1e-4 * np.max(np.abs(ref))
    rel = np.linalg.norm(feats - ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert np.all(rel <= 1e-4), rel


def test_logits_match_pytorch_fid(golden, variables):
    # The fc layer on pytorch-fid's own features, so only the classifier head is under test here.
    lg = np.asarray(fid.logits(variables, golden["features"]))
    assert lg.shape == (4, fid.NUM_LOGITS)
    np.testing.assert_allclose(lg, golden["logits"], rtol=0, atol=1e-5 * np.max(np.abs(golden["logits"])))


@pytest.mark.parametrize("size,key", [(11, "resize_down_11"), (31, "resize_up_31")])
def test_resize_matches_torch_interpolate(golden, size, key):
    x = golden["resize_input"].transpose(0, 2, 3, 1)                # NCHW -> NHWC
    out = np.asarray(fid.resize_bilinear(x, size)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out, golden[key], rtol=0, atol=1e-6)  # float32 interpolation of [0, 1] values


def test_state_dict_errors(state_dict):
    sd = dict(state_dict)
    del sd["Mixed_6b.branch7x7_2.conv.weight"]
    with pytest.raises(ValueError, match="missing tensor.*Mixed_6b"):
        fid.from_torch_state_dict(sd)
    sd = dict(state_dict, **{"fc.bias": np.zeros(1000, np.float32)})
    with pytest.raises(ValueError, match="fc.*shape"):
        fid.from_torch_state_dict(sd)
    with pytest.raises(ValueError, match="unexpected tensor 'foo.bar'"):
        fid.from_torch_state_dict(dict(state_dict, **{"foo.bar": np.zeros(1)}))


@pytest.mark.parametrize("images, match", [
    pytest.param(np.zeros((1, 8, 8, 3), np.float32), "uint8", id="dtype"),
    pytest.param(np.zeros((1, 8, 8), np.uint8), r"\[B, H, W, 3\]", id="shape"),
])
def test_features_input_checks(variables, images, match):
    with pytest.raises(ValueError, match=match):
        fid.features(variables, images)


def test_missing_weights_file_says_how_to_get_it(tmp_path):
    with pytest.raises(ValueError, match="export_inception.py"):
        fid.load_state_dict(str(tmp_path / "absent.npz"))


def test_weights_checksum_identifies_weights(state_dict):
    a = fid.weights_checksum(state_dict)
    changed = dict(state_dict, **{"fc.bias": state_dict["fc.bias"] + 1e-7})
    assert a == fid.weights_checksum(dict(state_dict)) and a != fid.weights_checksum(changed)


def test_frechet_distance_matches_pytorch_fid(golden):
    # pytorch-fid's calculate_frechet_distance on a full-rank and a singular (8 samples, d=16) pair.
    for mu1, s1, mu2, s2, want in zip(golden["fd_mu1"], golden["fd_sigma1"], golden["fd_mu2"],
                                      golden["fd_sigma2"], golden["fd_values"]):
        assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-6)


def _random_rotation(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    d = 12
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.2, 3.0, d), rng.uniform(0.2, 3.0, d)
    # Commuting covariances (diagonal, then both rotated by one R): |dmu|^2 + sum (sqrt a - sqrt b)^2.
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert fid.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, rel=1e-9)
    rot = _random_rotation(rng, d)
    s1, s2 = rot @ np.diag(a) @ rot.T, rot @ np.diag(b) @ rot.T
    assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-9)
    # Non-commuting: tr (S1 S2)^(1/2) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2))) (symmetric eigen-solver).
    s2 = _random_rotation(rng, d) @ np.diag(b) @ _random_rotation(rng, d).T
    s2 = s2 @ s2.T
    w, v = np.linalg.eigh(s1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    tr = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)))
    want = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr
    assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-9)
    assert fid.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("args, match", [
    pytest.param((np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2)), "imaginary",   # indefinite "covariance"
                 id="indefinite"),
    pytest.param((np.zeros(3), np.eye(3), np.zeros(3), np.eye(2)), "sigma2 must have shape", id="shape"),
])
def test_frechet_distance_errors(args, match):
    with pytest.raises(ValueError, match=match):
        fid.frechet_distance(*args)


def test_statistics_is_mean_and_unbiased_covariance():
    x = np.random.default_rng(1).normal(size=(50, 5))
    mu, sigma = fid.statistics(x)
    c = x - x.mean(0)
    np.testing.assert_allclose(mu, x.sum(0) / 50, rtol=1e-12)
    np.testing.assert_allclose(sigma, c.T @ c / 49, rtol=1e-12)
    assert mu.dtype == sigma.dtype == np.float64
