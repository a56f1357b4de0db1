"""Convert pytorch-fid's FID Inception weights (.pth) to the .npz that genjax reads.

Run where torch is installed (genjax itself never imports torch nor unpickles):

    wget https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
    python experiments/tools/export_inception.py --pth pt_inception-2015-12-05-6726825d.pth \
        --out ~/.cache/genjax/pt_inception-2015-12-05.npz

genjax looks for the .npz at ``fid.load_variables(path)``'s ``path``, else $GENJAX_INCEPTION, else
``~/.cache/genjax/pt_inception-2015-12-05.npz``. The arrays keep the state dict's names
("Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch1x1.bn.running_mean", ..., "fc.weight").
The script prints the weights' checksum (``genjax.metrics.fid.weights_checksum``), which reference
statistics files record.
"""
import argparse
import os
import sys

import numpy as np


def checksum(arrays: dict) -> str:
    """genjax.metrics.fid.weights_checksum when genjax (and jax) import here, else "n/a"."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    try:
        from genjax.metrics.fid import weights_checksum
    except ImportError:
        return "n/a (genjax not importable here; fid.load_variables computes it)"
    return weights_checksum(arrays)


def main():
    import torch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pth", required=True, help="pt_inception-2015-12-05-6726825d.pth")
    p.add_argument("--out", default=os.path.join("~", ".cache", "genjax", "pt_inception-2015-12-05.npz"))
    a = p.parse_args()
    state = torch.load(a.pth, map_location="cpu", weights_only=True)
    arrays = {k: v.detach().cpu().numpy() for k, v in state.items()}
    if arrays.get("fc.weight", np.zeros(0)).shape != (1008, 2048):
        raise SystemExit(f"{a.pth} is not the FID Inception state dict (expected fc.weight [1008, 2048])")
    out = os.path.abspath(os.path.expanduser(a.out))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    np.savez(out, **arrays)
    print(f"wrote {len(arrays)} tensors to {out}; weights checksum {checksum(arrays)}")


if __name__ == "__main__":
    main()
