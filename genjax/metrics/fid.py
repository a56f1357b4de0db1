"""Frechet Inception Distance, computed as pytorch-fid computes it.

    from genjax.metrics import fid
    variables = fid.load_variables()                    # $GENJAX_INCEPTION or ~/.cache/genjax/pt_inception-2015-12-05.npz
    feats = fid.features(variables, images)             # uint8 [B, H, W, 3] -> [B, 2048] float32
    mu, sigma = fid.statistics(feats)                   # float64 [2048], [2048, 2048]
    d = fid.frechet_distance(mu1, sigma1, mu2, sigma2)  # float

FID = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)), the Frechet (2-Wasserstein) distance between
Gaussians fitted to the pool3 features of two image sets. ``features`` equals pytorch-fid's
``InceptionV3([3], resize_input=True, normalize_input=True)`` on images / 255 (bilinear resize to
299 x 299 without antialiasing, then 2 x - 1); ``frechet_distance`` follows pytorch-fid's formula:
``scipy.linalg.sqrtm`` of S_1 S_2, and when that is not finite the square root of
(S_1 + eps I)(S_2 + eps I) (eps = 1e-6); a complex result whose diagonal has an imaginary part above
1e-3 raises ValueError, else the real part is used.

Weights: the standard file ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's release) is turned
into ``.npz`` by ``experiments/tools/export_inception.py`` where torch is installed; genjax reads the
``.npz`` (never a pickle) from the path given, else $GENJAX_INCEPTION, else ``DEFAULT_PATH``.

References: Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium"; Dowson & Landau 1982, "The Frechet distance between multivariate normal distributions";
Seitzer, pytorch-fid 0.3.0 (the reference implementation matched here).
"""
from __future__ import annotations

import functools
import hashlib
import os
import warnings
from typing import Mapping, Optional

import jax
import jax.numpy as jnp
import numpy as np

from genjax.metrics.inception import (FEATURE_DIM, NUM_LOGITS, InceptionV3, from_torch_state_dict,  # noqa: F401
                                      logits, resize_bilinear)

DEFAULT_PATH = os.path.join("~", ".cache", "genjax", "pt_inception-2015-12-05.npz")
ENV_VAR = "GENJAX_INCEPTION"
FD_EPS = 1e-6


def weights_path(path: Optional[str] = None) -> str:
    """The Inception ``.npz``: ``path``, else $GENJAX_INCEPTION, else ~/.cache/genjax/pt_inception-2015-12-05.npz."""
    path = path or os.environ.get(ENV_VAR) or DEFAULT_PATH
    return os.path.abspath(os.path.expanduser(path))


def load_state_dict(path: Optional[str] = None) -> dict:
    """{name: array} of the Inception weights file (``.npz``, no pickles); ValueError with the fix if absent."""
    from genjax.nets.torch_import import load_arrays

    full = weights_path(path)
    if not os.path.exists(full):
        raise ValueError(
            f"FID Inception weights not found at {full!r}. Download pt_inception-2015-12-05-6726825d.pth "
            "(pytorch-fid's release) and convert it where torch is installed: python "
            f"experiments/tools/export_inception.py --out {full}; or set ${ENV_VAR} to the .npz.")
    return load_arrays(full)


def weights_checksum(state_dict: Mapping[str, np.ndarray]) -> str:
    """sha256 over the sorted (name, dtype, shape, bytes) of a state dict: identifies the weights used."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        a = np.ascontiguousarray(state_dict[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def load_variables(path: Optional[str] = None) -> dict:
    """``from_torch_state_dict(load_state_dict(path))`` with the checksum under "checksum"."""
    sd = load_state_dict(path)
    variables = from_torch_state_dict(sd)
    variables["checksum"] = weights_checksum(sd)
    return variables


def _check_images(images) -> None:
    shape, dtype = tuple(np.shape(images)), getattr(images, "dtype", None)
    if len(shape) != 4 or shape[-1] != 3:
        raise ValueError(f"fid.features: images must have shape [B, H, W, 3], got {shape}")
    if dtype != np.uint8:
        raise ValueError(f"fid.features: images must be uint8 in [0, 255], got dtype {dtype}")


def network_variables(variables: Mapping) -> dict:
    """The flax variables of ``InceptionV3`` ({"params", "batch_stats"}) out of ``load_variables``'s dict."""
    return {"params": variables["params"], "batch_stats": variables["batch_stats"]}


def pool3(net_vars, images):
    """Pure, jit-able: uint8 [B, H, W, 3] -> [B, 2048] with ``net_vars = network_variables(variables)``."""
    return InceptionV3().apply(net_vars, images.astype(jnp.float32) / 255.0)


_pool3 = jax.jit(pool3)


def features(variables: Mapping, images, batch_size: int = 250) -> np.ndarray:
    """pool3 features of uint8 images: [B, H, W, 3] -> [B, 2048] float32, ``batch_size`` images per call.

    The images are divided by 255, resized bilinearly to 299 x 299 (half-pixel centres, no
    antialiasing) and mapped to [-1, 1] inside the network, as pytorch-fid does. One device; for many
    devices and hosts use ``streaming.sharded_sums(pool3, mesh)``.
    """
    _check_images(images)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"fid.features: batch_size must be a positive int, got {batch_size!r}")
    net_vars, images = network_variables(variables), np.asarray(images)
    out = [np.asarray(_pool3(net_vars, jnp.asarray(images[i:i + batch_size])))
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM), np.float32)


def statistics(feats) -> tuple[np.ndarray, np.ndarray]:
    """(mu [d], sigma [d, d]) in float64: the mean and the unbiased covariance (divisor n - 1) of [n, d]."""
    f = np.asarray(feats, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"statistics: feats must have shape [n, d] with n >= 2, got {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def _check_stats(mu1, sigma1, mu2, sigma2):
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    for name, a, shape in (("mu1", mu1, (d,)), ("mu2", mu2, (d,)), ("sigma1", sigma1, (d, d)),
                           ("sigma2", sigma2, (d, d))):
        if a.shape != shape:
            raise ValueError(f"frechet_distance: {name} must have shape {shape}, got {a.shape}")
    return mu1, sigma1, mu2, sigma2


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = FD_EPS) -> float:
    """|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2)) in float64 (host, scipy).

    Raises ValueError on mismatched shapes, or when the matrix square root has a diagonal imaginary part
    above 1e-3 (the covariances are then not positive semi-definite enough to trust the number).
    """
    from scipy import linalg

    mu1, sigma1, mu2, sigma2 = _check_stats(mu1, sigma1, mu2, sigma2)
    diff = mu1 - mu2
    with warnings.catch_warnings():  # a singular product is handled below, as pytorch-fid does
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(np.diagonal(covmean).imag))
        if imag > 1e-3:
            raise ValueError(f"frechet_distance: sqrt(sigma1 sigma2) has an imaginary component {imag:.3g}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


@functools.lru_cache(maxsize=4)
def _cached_variables(path: str) -> dict:
    return load_variables(path)


def cached_variables(path: Optional[str] = None) -> dict:
    """``load_variables`` once per path per process (the trainer's evaluations reuse it)."""
    return _cached_variables(weights_path(path))
