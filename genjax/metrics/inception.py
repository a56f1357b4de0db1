"""The FID Inception-v3 network (TF-slim graph of 2015-12-05, as ported by pytorch-fid) in flax.linen.

The graph is torchvision's Inception3 with the FID changes: the 3x3 average pools of the A, C and
first E blocks exclude the zero padding from their count, the last E block (``Mixed_7c``) pools with a
3x3 *max* pool, and the classifier has 1008 outputs. Every convolution is ``BasicConv``: a bias-free
conv, batch norm in inference form ``(y - mean) / sqrt(var + 1e-3) * scale + bias``, ReLU. The output
is the 2048-d global average of ``Mixed_7c`` ("pool3"), and ``logits`` maps it through ``fc``.

Layout is NHWC (flax); ``from_torch_state_dict`` turns a pytorch-fid / torchvision state dict
(``"Mixed_5b.branch1x1.conv.weight"`` [out, in, kh, kw], ``"....bn.running_mean"``, ``"fc.weight"``)
into flax variables ``{"params": ..., "batch_stats": ...}`` with the same module names.

References: Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer Vision";
Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium" (the FID graph); Seitzer, pytorch-fid (the port whose weight names are used here).
"""
from __future__ import annotations

import functools
from typing import Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

BN_EPS = 1e-3
NUM_LOGITS = 1008
FEATURE_DIM = 2048


class BasicConv(nn.Module):
    """conv (no bias) -> batch norm (running statistics) -> ReLU; padding (ph, pw) on each side."""

    features: int
    kernel: Sequence[int]
    stride: int = 1
    padding: Sequence[int] = (0, 0)

    @nn.compact
    def __call__(self, x):
        ph, pw = self.padding
        x = nn.Conv(self.features, tuple(self.kernel), (self.stride, self.stride),
                    padding=((ph, ph), (pw, pw)), use_bias=False, name="conv",
                    precision=jax.lax.Precision.HIGHEST)(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPS, name="bn")(x)
        return nn.relu(x)


def avg_pool_3x3_exclude_pad(x):
    """3x3 stride-1 average with padding 1 that divides by the number of in-image pixels."""
    window, strides, pad = (1, 3, 3, 1), (1, 1, 1, 1), ((0, 0), (1, 1), (1, 1), (0, 0))
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, pad)
    ones = jnp.ones((1,) + x.shape[1:3] + (1,), x.dtype)
    count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, pad)
    return total / count


def max_pool(x, size: int, stride: int, pad: int = 0):
    """Max pool (padding with -inf, floor mode), NHWC."""
    p = ((0, 0), (pad, pad), (pad, pad), (0, 0))
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, size, size, 1), (1, stride, stride, 1), p)


_ROW7, _COL7 = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))   # (kernel, stride, padding): 1x7 / 7x1, "same"


def _chain(x, prefix: str, *specs):
    """x through ``BasicConv(*spec)`` layers named prefix_1, prefix_2, ... (pytorch-fid's names);
    a spec follows BasicConv's fields: (features, kernel[, stride[, padding]])."""
    for i, spec in enumerate(specs, 1):
        x = BasicConv(*spec, name=f"{prefix}_{i}")(x)
    return x


class BlockA(nn.Module):
    """Mixed_5b/c/d: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1 (pool_features)."""

    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv(64, (1, 1), name="branch1x1")(x)
        b5 = _chain(x, "branch5x5", (48, (1, 1)), (64, (5, 5), 1, (2, 2)))
        b3 = _chain(x, "branch3x3dbl", (64, (1, 1)), (96, (3, 3), 1, (1, 1)), (96, (3, 3), 1, (1, 1)))
        bp = BasicConv(self.pool_features, (1, 1), name="branch_pool")(avg_pool_3x3_exclude_pad(x))
        return jnp.concatenate([b1, b5, b3, bp], -1)


class BlockB(nn.Module):
    """Mixed_6a (grid reduction): 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool 3x3/2."""

    @nn.compact
    def __call__(self, x):
        b3 = BasicConv(384, (3, 3), stride=2, name="branch3x3")(x)
        bd = _chain(x, "branch3x3dbl", (64, (1, 1)), (96, (3, 3), 1, (1, 1)), (96, (3, 3), 2))
        return jnp.concatenate([b3, bd, max_pool(x, 3, 2)], -1)


class BlockC(nn.Module):
    """Mixed_6b-e: factorised 7x7 convolutions (1x7 and 7x1) with c7 channels inside."""

    c7: int

    @nn.compact
    def __call__(self, x):
        c7 = self.c7
        b1 = BasicConv(192, (1, 1), name="branch1x1")(x)
        b7 = _chain(x, "branch7x7", (c7, (1, 1)), (c7, *_ROW7), (192, *_COL7))
        bd = _chain(x, "branch7x7dbl", (c7, (1, 1)), (c7, *_COL7), (c7, *_ROW7), (c7, *_COL7), (192, *_ROW7))
        bp = BasicConv(192, (1, 1), name="branch_pool")(avg_pool_3x3_exclude_pad(x))
        return jnp.concatenate([b1, b7, bd, bp], -1)


class BlockD(nn.Module):
    """Mixed_7a (grid reduction): 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max pool 3x3/2."""

    @nn.compact
    def __call__(self, x):
        b3 = _chain(x, "branch3x3", (192, (1, 1)), (320, (3, 3), 2))
        b7 = _chain(x, "branch7x7x3", (192, (1, 1)), (192, *_ROW7), (192, *_COL7), (192, (3, 3), 2))
        return jnp.concatenate([b3, b7, max_pool(x, 3, 2)], -1)


class BlockE(nn.Module):
    """Mixed_7b/c: expanded 1x3 / 3x1 branches; pool "avg" (exclude pad, 7b) or "max" (7c)."""

    pool: str

    @nn.compact
    def __call__(self, x):
        def expanded(h, name):   # [1x3 | 3x1] side by side, named name + "a" / "b"
            return jnp.concatenate([BasicConv(384, (1, 3), padding=(0, 1), name=name + "a")(h),
                                    BasicConv(384, (3, 1), padding=(1, 0), name=name + "b")(h)], -1)

        b1 = BasicConv(320, (1, 1), name="branch1x1")(x)
        b3 = expanded(BasicConv(384, (1, 1), name="branch3x3_1")(x), "branch3x3_2")
        bd = _chain(x, "branch3x3dbl", (448, (1, 1)), (384, (3, 3), 1, (1, 1)))
        bd = expanded(bd, "branch3x3dbl_3")
        pooled = avg_pool_3x3_exclude_pad(x) if self.pool == "avg" else max_pool(x, 3, 1, 1)
        bp = BasicConv(192, (1, 1), name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], -1)


def resize_bilinear(x, size: int = 299):
    """Bilinear resize of NHWC images to size x size with half-pixel centres and no antialiasing.

    Output pixel i samples the input at s = (i + 1/2) H / size - 1/2 (clamped at the borders), the
    convention of ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``.
    """
    if x.shape[1] == size and x.shape[2] == size:
        return x
    return jax.image.resize(x, (x.shape[0], size, size, x.shape[3]), "bilinear", antialias=False)


class InceptionV3(nn.Module):
    """The FID Inception: images [B, H, W, 3] in [0, 1] -> pool3 features [B, 2048].

    Inputs are resized to 299 x 299 (``resize_bilinear``) and mapped to [-1, 1] (2 x - 1) first.
    """

    @nn.compact
    def __call__(self, x):
        x = 2.0 * resize_bilinear(x) - 1.0
        x = BasicConv(32, (3, 3), stride=2, name="Conv2d_1a_3x3")(x)
        x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
        x = max_pool(x, 3, 2)
        x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
        x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)
        x = max_pool(x, 3, 2)
        x = BlockA(32, name="Mixed_5b")(x)
        x = BlockA(64, name="Mixed_5c")(x)
        x = BlockA(64, name="Mixed_5d")(x)
        x = BlockB(name="Mixed_6a")(x)
        for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
            x = BlockC(c7, name=name)(x)
        x = BlockD(name="Mixed_7a")(x)
        x = BlockE("avg", name="Mixed_7b")(x)
        x = BlockE("max", name="Mixed_7c")(x)
        return jnp.mean(x, axis=(1, 2))


def logits(variables, feats):
    """The 1008 classifier logits of pool3 features: feats @ fc.kernel + fc.bias ([B, 2048] -> [B, 1008])."""
    fc = variables["fc"]
    return jnp.dot(feats, fc["kernel"], precision=jax.lax.Precision.HIGHEST) + fc["bias"]


def _set(tree: dict, path: Sequence[str], value) -> None:
    for p in path[:-1]:
        tree = tree.setdefault(p, {})
    tree[path[-1]] = value


@functools.lru_cache(maxsize=1)
def abstract_variables() -> dict:
    """Shapes of the network's flax variables ({"params", "batch_stats"}), without computing them."""
    return jax.eval_shape(lambda: InceptionV3().init(jax.random.key(0), jnp.zeros((1, 299, 299, 3))))


def from_torch_state_dict(state_dict: Mapping[str, np.ndarray]) -> dict:
    """pytorch-fid's state dict {name: array} -> {"params", "batch_stats", "fc"} for ``features``.

    Rules: ``X.conv.weight`` [o, i, kh, kw] -> params X/conv/kernel [kh, kw, i, o]; ``X.bn.weight``,
    ``X.bn.bias`` -> params X/bn/scale, bias; ``X.bn.running_mean``, ``running_var`` ->
    batch_stats X/bn/mean, var; ``fc.weight`` [1008, 2048], ``fc.bias`` -> fc/kernel [2048, 1008],
    bias; ``num_batches_tracked`` and the auxiliary classifier (``AuxLogits.*``) are ignored.
    Raises ValueError naming the first missing, unexpected or mis-shaped tensor.
    """
    variables: dict = {}
    for name, a in state_dict.items():
        if name.endswith("num_batches_tracked") or name.startswith("AuxLogits."):
            continue
        a = np.asarray(a, np.float32)
        *path, leaf = name.split(".")
        if path == ["fc"]:
            _set(variables, ("fc", leaf if leaf == "bias" else "kernel"), a.T if leaf == "weight" else a)
            continue
        kind = path[-1] if path else ""
        if kind == "conv" and leaf == "weight":
            _set(variables, ["params", *path, "kernel"], a.transpose(2, 3, 1, 0))
        elif kind == "bn" and leaf in ("weight", "bias"):
            _set(variables, ["params", *path, "scale" if leaf == "weight" else "bias"], a)
        elif kind == "bn" and leaf in ("running_mean", "running_var"):
            _set(variables, ["batch_stats", *path, leaf[len("running_"):]], a)
        else:
            raise ValueError(f"from_torch_state_dict: unexpected tensor {name!r}")
    expected = dict(abstract_variables())
    expected["fc"] = {"kernel": jax.ShapeDtypeStruct((FEATURE_DIM, NUM_LOGITS), jnp.float32),
                      "bias": jax.ShapeDtypeStruct((NUM_LOGITS,), jnp.float32)}
    want = dict(jax.tree_util.tree_flatten_with_path(expected)[0])
    have = dict(jax.tree_util.tree_flatten_with_path(variables)[0])
    for path, spec in want.items():
        if path not in have:
            raise ValueError(f"from_torch_state_dict: missing tensor for {jax.tree_util.keystr(path)}")
        if tuple(have[path].shape) != tuple(spec.shape):
            raise ValueError(f"from_torch_state_dict: {jax.tree_util.keystr(path)} has shape "
                             f"{tuple(have[path].shape)}, expected {tuple(spec.shape)}")
    extra = set(have) - set(want)
    if extra:
        raise ValueError(f"from_torch_state_dict: unexpected tensor {jax.tree_util.keystr(sorted(extra)[0])}")
    return variables
