"""The "vae" family: VAE and f-VAE by maximising the ELBO (``config.model.family = "vae"``).

Reads ``config.vae``:

    name                vae | f_vae  (genjax.families.vae factories)
    kwargs              latent_dim, hidden, likelihood ("gaussian" on dequantized data in [0, 1),
                        "bernoulli" on binarised digits), and for f_vae num_flows, flow_hidden,
                        context_dim
    eval_iwae_samples   K of the importance-weighted bound reported by ``evaluate``

Loss: -ELBO (mean over the batch). ``evaluate`` reports the ELBO and IWAE_K bounds as nll upper
bounds and bits/dim (``elbo_bits_per_dim`` >= ``iwae_bits_per_dim`` >= the model's true bits/dim).
``sample`` returns decoder means (Gaussian) or Bernoulli probabilities mapped to the model space.
"""
from __future__ import annotations

import math

from experiments.tasks import Task, _likelihood, config_error
from genjax.families import vae as vae_lib

NAMES = ("vae", "f_vae")


def build(config, data, workdir: str | None = None) -> Task:
    """The VAE Task of ``config``."""
    del workdir
    vc = config.vae
    if vc.name not in NAMES:
        raise ValueError(f"unknown vae {vc.name!r} (config.vae.name); choose one of {NAMES}")
    kwargs = _likelihood.kwargs_of(vc.kwargs)
    likelihood = kwargs.get("likelihood", "gaussian")
    kind = "binary" if likelihood == "bernoulli" else "continuous"
    space = _likelihood.space_for(config, data, kind, flatten=True)
    with config_error("config.vae.kwargs"):
        model = getattr(vae_lib, vc.name)(math.prod(space.shape), **kwargs)
    k_iwae = int(vc.eval_iwae_samples)
    if k_iwae < 1:
        raise ValueError(f"config.vae.eval_iwae_samples must be >= 1, got {k_iwae}")

    def nll(params, y, key):
        return -model.elbo(params, y, key)

    def eval_terms(params, y, key):
        return {"elbo": -model.elbo(params, y, key), "iwae": -model.iwae(params, y, k_iwae, key)}

    return _likelihood.make_task(config, data, space, model.init, nll, model.sample, eval_terms,
                                 extras={"model": model})
