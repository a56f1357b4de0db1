r"""f-VAE: the VAE posterior followed by conditional affine couplings, on the dequantized 8x8 digits.

Command:
    python -m experiments.train --config experiments/configs/digits_fvae.py --workdir runs/digits_fvae
    python -m experiments.train --config experiments/configs/digits_fvae.py --workdir runs/digits_fvae --mode eval

Hardware: one CPU, ~10 minutes (20k steps of batch 128); ``:runlocal`` in under a minute.

Expected result: test ELBO / IWAE-256 bounds 2.97 / 2.89 bits/dim after 2000 steps with hidden
(256,) (experiments/papers/likelihood_table/bits_per_dim.py): at this budget the flow posterior
tightens the VAE's ELBO only slightly (2.98 there).

References: Su & Wu 2018, "f-VAEs: Improve VAEs with Conditional Flows".
"""
from experiments.configs import _likelihood_common, common


def get_config(arg=None):
    arg = common.parse_arg(arg)
    c = _likelihood_common.digits_base("vae", "vae", "f_vae",
                                       {"latent_dim": 16, "hidden": (256, 256), "likelihood": "gaussian",
                                        "num_flows": 4, "flow_hidden": (128,), "context_dim": 32}, arg)
    c.vae.eval_iwae_samples = 64
    if arg == "runlocal":
        c.vae.kwargs.hidden = (64,)
        c.vae.kwargs.latent_dim = 8
        c.vae.kwargs.num_flows = 2
        c.vae.kwargs.flow_hidden = (32,)
        c.vae.kwargs.context_dim = 16
        c.vae.eval_iwae_samples = 16
    return c
