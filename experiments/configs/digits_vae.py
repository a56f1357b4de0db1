r"""VAE (Gaussian posterior and decoder) on the dequantized 8x8 digits.

Command:
    python -m experiments.train --config experiments/configs/digits_vae.py --workdir runs/digits_vae
    python -m experiments.train --config experiments/configs/digits_vae.py --workdir runs/digits_vae --mode eval

Hardware: one CPU, ~5 minutes (20k steps of batch 128); ``:runlocal`` in under a minute.

Expected result: ``elbo_bits_per_dim`` >= ``iwae_bits_per_dim`` (K = ``vae.eval_iwae_samples``),
both upper bounds on the model's bits/dim: 2.98 / 2.89 (IWAE-256) on the test split after 2000
steps with hidden (256,) (experiments/papers/likelihood_table/bits_per_dim.py). ``--config.vae.kwargs.likelihood=bernoulli``
fits the binarised digits instead (bits/dim then comparable with NADE / MADE only).

References: Kingma & Welling 2014, "Auto-Encoding Variational Bayes"; Burda et al. 2016, "IWAE".
"""
from experiments.configs import _likelihood_common, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = _likelihood_common.digits_base("vae", "vae", "vae",
                                       {"latent_dim": 16, "hidden": (256, 256), "likelihood": "gaussian"}, arg)
    c.vae.eval_iwae_samples = 64
    if arg == "runlocal":
        c.vae.kwargs.hidden = (64,)
        c.vae.kwargs.latent_dim = 8
        c.vae.eval_iwae_samples = 16
    return c
