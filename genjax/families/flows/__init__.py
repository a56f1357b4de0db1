"""Normalizing flows: bijector layers, NICE / RealNVP / Glow models and the FFJORD CNF.

    from genjax.families import flows
    f = flows.realnvp(2, num_couplings=8, hidden=(256, 256))
    params = f.init(x, key)                      # key last (genjax convention)
    z, logdet = f.forward(params, x); logp = f.log_prob(params, x); xs = f.sample(params, n, key)
"""
from genjax.families.flows.bijectors import (Bijector, actnorm, chain, factor_out, invert,
                                             invertible_linear, scaling, squeeze)
from genjax.families.flows.cnf import cnf
from genjax.families.flows.coupling import (additive_coupling, affine_coupling, channel_mask,
                                            checkerboard_mask)
from genjax.divergence import divergence_exact, divergence_hutchinson
from genjax.families.flows.models import (Flow, from_bijector, glow, nice, realnvp, realnvp_image,
                                          standard_normal_log_prob)
from genjax.families.flows.preprocessing import (bits_per_dim, image_preprocessing, logit_transform,
                                                 rescale, uniform_dequantize)

__all__ = ["Bijector", "Flow", "actnorm", "additive_coupling", "affine_coupling", "bits_per_dim", "chain",
           "channel_mask", "checkerboard_mask", "cnf", "divergence_exact", "divergence_hutchinson",
           "factor_out", "from_bijector", "glow", "image_preprocessing", "invert", "invertible_linear",
           "logit_transform", "nice", "realnvp", "realnvp_image", "rescale", "scaling", "squeeze",
           "standard_normal_log_prob", "uniform_dequantize"]
