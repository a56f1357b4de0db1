"""Score / flow networks (flax.linen, no losses inside) and what their outputs mean.

    net = nets.get("mlp", features=(128, 128))            # or "song_unet", "dhariwal_unet"
    params = nets.init_params(net, x_example, key)
    apply = nets.apply_fn(net)                            # (params, x, t, label, train, key)
    denoiser = nets.denoiser_from(apply, params, s, "velocity")   # D(x, t) for genjax.samplers

Every network is called ``net(x, t, label=None, train=False)``; dropout draws from the "dropout"
rng stream; a conditional network (``num_classes`` set) keeps an extra *null label* row for
classifier-free guidance, selected by ``label=None`` or ``NULL_LABEL`` (-1).

The papers' image networks keep EDM's own signature and names: ``SongUNet`` (DDPM++ / NCSN++)
and ``DhariwalUNet`` (ADM), ``net.apply(variables, x, noise_labels, class_labels, augment_labels)``
on NHWC images; ``SongUNetAdapter`` / ``DhariwalUNetAdapter`` ("song_unet", "dhariwal_unet") put
them behind the convention above (one-hot labels, the null label = EDM's zero label), and
``from_torch_state_dict`` loads EDM's published weights (``load_arrays``: .npz / .safetensors).
"""
from genjax.nets.embeddings import NULL_LABEL, LabelEmbedding, TimeEmbedding, fourier, sinusoidal
from genjax.nets.mlp import MLP
from genjax.nets.precond import (PREDICTS, apply_fn, denoise, denoiser_from, edm_coefficients, edm_weight,
                                 init_params, model_from, velocity_from)
from genjax.nets.dhariwal_unet import DhariwalUNet
from genjax.nets.edm_adapter import DhariwalUNetAdapter, SongUNetAdapter
from genjax.nets.song_unet import SongUNet
from genjax.nets.torch_import import from_torch_state_dict, load_arrays

BY_NAME = {"mlp": MLP, "song_unet": SongUNetAdapter, "dhariwal_unet": DhariwalUNetAdapter}


def get(name: str, **kwargs):
    """A network module by name (for configs): one of ``BY_NAME``; kwargs are its attributes."""
    if name not in BY_NAME:
        raise ValueError(f"unknown network {name!r}; choose one of {sorted(BY_NAME)}")
    return BY_NAME[name](**kwargs)


__all__ = ["BY_NAME", "DhariwalUNet", "DhariwalUNetAdapter", "LabelEmbedding", "MLP", "NULL_LABEL", "PREDICTS",
           "SongUNet", "SongUNetAdapter", "TimeEmbedding", "apply_fn", "denoise", "denoiser_from", "edm_coefficients",
           "edm_weight", "fourier", "from_torch_state_dict", "get", "init_params", "load_arrays", "model_from",
           "sinusoidal", "velocity_from"]
