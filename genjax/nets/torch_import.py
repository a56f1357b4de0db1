"""Published EDM weights into genjax's SongUNet / DhariwalUNet: a pure name and shape mapping.

    state_dict = nets.load_arrays("edm-cifar10-32x32-uncond-vp.npz")     # .npz or .safetensors
    variables = nets.from_torch_state_dict(net, state_dict)              # {"params", "buffers"}
    F = net.apply(variables, x, c_noise, class_labels, augment_labels)

``state_dict`` maps torch names (EDM's ``net.model.state_dict()``, e.g. "enc.16x16_block0.conv0.weight")
to numpy arrays. The rules, one per tensor:

    flax "enc_16x16_block0"/"conv0"/"kernel" [k, k, in, out]  <-  torch "enc.16x16_block0.conv0.weight" [out, in, k, k]
    flax .../"kernel" [in, out] (Linear)                        <-  torch .../"weight" [out, in]
    flax .../"scale", "bias" (GroupNorm), "bias"                <-  torch .../"weight", "bias"
    buffers .../"resample_filter" [k, k]                        <-  torch .../"resample_filter" [1, 1, k, k]
    buffers "map_noise"/"freqs" [n/2]                           <-  torch "map_noise.freqs" (NCSN++)

A missing, unexpected or mis-shaped tensor raises a ValueError naming the first one; a resampling
filter that differs from the network's ``resample_filter`` raises too (the network was built with
other hyper-parameters than the checkpoint). Nothing is unpickled: checkpoints are read from
``.npz`` (``allow_pickle=False``) or ``.safetensors`` (a 40-line reader, no dependency); turn EDM's
``.pkl`` files into those with ``experiments/tools/export_edm_weights.py`` where torch is installed.

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (the published checkpoints); the safetensors format (a little-endian u64 header size, a
JSON header of {name: {dtype, shape, data_offsets}}, then raw little-endian bytes).
"""
from __future__ import annotations

import json
import os
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def example_inputs(net, batch: int = 1):
    """(x, noise_labels, class_labels, augment_labels) of the right shapes (zeros) for ``net``."""
    r, c = net.img_resolution, net.in_channels
    x = jnp.zeros((batch, r, r, c), jnp.float32)
    cl = jnp.zeros((batch, net.label_dim), jnp.float32) if net.label_dim else None
    al = jnp.zeros((batch, net.augment_dim), jnp.float32) if net.augment_dim else None
    return x, jnp.zeros((batch,), jnp.float32), cl, al


def abstract_variables(net) -> dict:
    """``jax.eval_shape`` of the EDM-convention init of ``net`` (a SongUNet / DhariwalUNet or a
    subclass such as the adapters): {"params": ..., "buffers": ...} of ShapeDtypeStructs."""
    from genjax.nets.dhariwal_unet import DhariwalUNet
    from genjax.nets.song_unet import SongUNet

    base = next((k for k in type(net).__mro__ if k in (SongUNet, DhariwalUNet)), None)
    if base is None:
        raise ValueError(f"net must be a SongUNet or DhariwalUNet, got {type(net).__name__}")
    args = example_inputs(net)
    return jax.eval_shape(lambda: net.init(jax.random.key(0), *args, method=base.__call__))


def torch_name(collection: str, path: tuple) -> str:
    """The torch name of a flax variable: ("enc_16x16_conv", "kernel") -> "enc.16x16_conv.weight"."""
    top, *rest = path
    if top[:4] in ("enc_", "dec_"):
        top = top[:3] + "." + top[4:]
    *mods, leaf = [top] + rest
    if collection == "params":
        leaf = {"kernel": "weight", "scale": "weight"}.get(leaf, leaf)
    return ".".join(mods + [leaf])


def _to_flax(collection: str, leaf: str, a: np.ndarray) -> np.ndarray:
    if collection == "params" and leaf == "kernel":
        return a.T if a.ndim == 2 else np.transpose(a, (2, 3, 1, 0)) if a.ndim == 4 else a
    if collection == "buffers" and leaf == "resample_filter" and a.ndim == 4:
        return a[0, 0]
    return a


def from_torch_state_dict(net, state_dict: Mapping[str, np.ndarray], prefix: str = "") -> dict:
    """Flax variables {"params", "buffers"} of ``net`` from a torch state dict of numpy arrays.

    Args:
      net: a SongUNet / DhariwalUNet (or adapter) with the checkpoint's hyper-parameters.
      state_dict: {torch name: array}; names start with ``prefix`` (e.g. "model." for EDM's
        preconditioned wrapper), other names are unexpected.
      prefix: stripped from every name.

    Raises:
      ValueError: naming the first missing, unexpected or mis-shaped tensor, or a resampling filter
        whose values differ from ``net.resample_filter``.
    """
    sd = {}
    for k, v in state_dict.items():
        if not k.startswith(prefix):
            raise ValueError(f"unexpected tensor {k!r} in state_dict (every name must start with prefix {prefix!r})")
        sd[k[len(prefix):]] = v
    abstract = abstract_variables(net)
    out, seen = {}, set()
    for collection in ("params", "buffers"):
        flat = jax.tree_util.tree_flatten_with_path(abstract.get(collection, {}))[0]
        leaves = []
        for kpath, spec in flat:
            path = tuple(k.key for k in kpath)
            name = torch_name(collection, path)
            if name not in sd:
                raise ValueError(f"state_dict is missing {name!r} (flax {collection}/{'/'.join(path)}, "
                                 f"shape {spec.shape})")
            a = _to_flax(collection, path[-1], np.asarray(sd[name]))
            if a.shape != spec.shape:
                raise ValueError(f"state_dict tensor {name!r} has shape {np.shape(sd[name])}, which gives "
                                 f"{a.shape}; the network expects {spec.shape} (flax {collection}/{'/'.join(path)})")
            seen.add(name)
            leaves.append(jnp.asarray(a, jnp.float32))
        treedef = jax.tree_util.tree_structure(abstract.get(collection, {}))
        out[collection] = jax.tree_util.tree_unflatten(treedef, leaves)
    extra = [k for k in sd if k not in seen]
    if extra:
        raise ValueError(f"unexpected tensor {prefix + extra[0]!r} in state_dict ({len(extra)} unexpected in all); "
                         "the network's hyper-parameters differ from the checkpoint's")
    _check_filters(out["buffers"], net)
    return out


def _check_filters(buffers, net) -> None:
    """The imported resampling filters must equal those the network derives from resample_filter."""
    from genjax.nets.layers import resample_kernel

    taps = tuple(getattr(net, "resample_filter", (1, 1)))  # DhariwalUNet resamples with (1, 1)
    want = resample_kernel(taps)
    for kpath, a in jax.tree_util.tree_flatten_with_path(buffers)[0]:
        path = tuple(k.key for k in kpath)
        if path[-1] == "resample_filter" and (a.shape != want.shape or not np.allclose(a, want, rtol=1e-6, atol=1e-7)):
            raise ValueError(f"state_dict tensor {torch_name('buffers', path)!r} is not the filter of "
                             f"resample_filter={taps}; build the network with the checkpoint's resample_filter")


def load_arrays(path: str) -> dict:
    """{name: numpy array} from a ``.npz`` (no pickles) or a ``.safetensors`` file."""
    if not os.path.exists(path):
        raise ValueError(f"weights file {path!r} does not exist")
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return {k: np.asarray(z[k]) for k in z.files}
    if path.endswith(".safetensors"):
        return read_safetensors(path)
    raise ValueError(f"weights file {path!r} must end in .npz or .safetensors")


def read_safetensors(path: str) -> dict:
    """Read a safetensors file into {name: numpy array} (BF16 widened to float32)."""
    with open(path, "rb") as fh:
        data = fh.read()
    n = int(np.frombuffer(data[:8], "<u8")[0])
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        raw = body[lo:hi]
        if info["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in _DTYPES:
            a = np.frombuffer(raw, np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        out[name] = a.reshape(info["shape"]).copy()
    return out
