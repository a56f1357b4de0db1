"""Convert an EDM network checkpoint (.pkl) or a torch state dict to the .npz / .safetensors genjax reads.

Run where torch and an EDM checkout are installed (genjax itself never imports torch nor unpickles):

    git clone https://github.com/NVlabs/edm && cd edm
    wget https://nvlabs-fi-cdn.nvidia.com/edm/pretrained/edm-cifar10-32x32-uncond-vp.pkl
    python /path/to/genjax/experiments/tools/export_edm_weights.py --pkl edm-cifar10-32x32-uncond-vp.pkl \
        --edm . --out edm-cifar10-32x32-uncond-vp.npz

EDM's .pkl pickles the whole preconditioned network (``data["ema"]``), so unpickling needs EDM's
code on ``sys.path`` (``--edm``) and runs that code: do it only for files you trust. The script
writes ``net.model.state_dict()`` (the SongUNet / DhariwalUNet inside the preconditioning
wrapper) in float32, and prints the network's class and hyper-parameters, which the genjax module
must be built with:

    net = genjax.nets.SongUNet(**printed_kwargs)
    variables = genjax.nets.from_torch_state_dict(net, genjax.nets.load_arrays("....npz"))

``--state-dict file.pt`` reads a plain torch state dict instead (``torch.load(weights_only=True)``;
e.g. a diffusers / own training checkpoint with EDM's module names); ``--prefix model.`` strips a
prefix. ``--out *.safetensors`` writes the safetensors format (needs the ``safetensors`` package
here; genjax reads it without it).
"""
import argparse
import json
import os
import pickle
import sys

import numpy as np

HYPER = ("img_resolution", "in_channels", "out_channels", "label_dim", "augment_dim", "model_channels",
         "channel_mult", "channel_mult_emb", "num_blocks", "attn_resolutions", "dropout", "label_dropout",
         "embedding_type", "channel_mult_noise", "encoder_type", "decoder_type", "resample_filter")


def from_pkl(path: str, edm_dir: str):
    sys.path.insert(0, os.path.abspath(edm_dir))
    with open(path, "rb") as fh:
        data = pickle.load(fh)  # noqa: S301 - EDM's published format; trusted files only (see docstring)
    net = data["ema"] if isinstance(data, dict) and "ema" in data else data
    model = getattr(net, "model", net)
    init_kwargs = getattr(model, "init_kwargs", None) or {}
    kwargs = {k: v for k, v in dict(init_kwargs).items() if k in HYPER}
    for k in ("label_dim", "img_resolution"):
        if k not in kwargs and hasattr(net, k):
            kwargs[k] = getattr(net, k)
    return type(model).__name__, kwargs, model.state_dict()


def main():
    import torch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--pkl", help="an EDM network pickle (edm-*.pkl or a training snapshot)")
    src.add_argument("--state-dict", help="a torch state dict file (.pt / .pth)")
    p.add_argument("--edm", default=".", help="EDM checkout (for --pkl)")
    p.add_argument("--prefix", default="", help="strip this prefix from every name")
    p.add_argument("--out", required=True, help="output .npz or .safetensors")
    a = p.parse_args()
    if a.pkl:
        cls, kwargs, state = from_pkl(a.pkl, a.edm)
    else:
        cls, kwargs, state = "?", {}, torch.load(a.state_dict, map_location="cpu", weights_only=True)
    arrays = {k[len(a.prefix):]: v.detach().cpu().float().numpy() for k, v in state.items() if k.startswith(a.prefix)}
    out = os.path.abspath(os.path.expanduser(a.out))
    if out.endswith(".safetensors"):
        from safetensors.numpy import save_file
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, out)
    else:
        np.savez(out, **arrays)
    n = sum(int(v.size) for k, v in arrays.items() if not k.endswith(("resample_filter", "freqs")))
    print(f"wrote {len(arrays)} tensors ({n:,} parameters) to {out}")
    print(f"network: {cls}({json.dumps(kwargs, default=list)})")


if __name__ == "__main__":
    main()
