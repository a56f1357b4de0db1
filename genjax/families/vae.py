"""Variational autoencoders: the ELBO, the importance-weighted bound, and f-VAE posteriors.

Model p(z) = N(0, I), p(x | z) Gaussian N(mu_theta(z), diag(sigma_x^2)) (learned per-dimension
sigma_x) or Bernoulli(sigmoid(logits_theta(z))). Posterior z = F_x(u), u ~ N(0, I):

    VAE:    F_x(u) = mu(x) + sigma(x) u,     q(z|x) = N(mu, diag sigma^2)
    f-VAE:  F_x(u) = G_x(mu(x) + sigma(x) u), G_x a flow of conditional affine couplings whose
            conditioners see a context c(x):  log q(z|x) = log N(u) - sum log sigma - log|dG_x|

    ELBO(x)  = E_q[log p(x|z)] - KL(q || p)          (VAE: KL in closed form)
             = E_u[log p(x|z) + log p(z) - log q(z|x)]   (f-VAE: one-sample Monte Carlo)
    IWAE_K(x) = E[log (1/K) sum_k p(x, z_k) / q(z_k|x)],  ELBO = IWAE_1 <= IWAE_K <= log p(x).

With no flow layers the f-VAE posterior is exactly the VAE's, so its objective equals the VAE
loss in expectation (``f_vae(..., num_flows=0)`` takes the VAE's params; a test checks it).

    v = vae(dim, latent_dim, hidden=(256,))
    params = v.init(x, key); v.elbo(params, x, key) -> [B]; v.iwae(params, x, num_samples, key)
    v.sample(params, n, key) -> decoder means (Gaussian) or probabilities (Bernoulli), [n, dim]

References: Kingma & Welling 2014, "Auto-Encoding Variational Bayes"; Burda et al. 2016,
"Importance Weighted Autoencoders"; Su & Wu 2018, "f-VAEs: Improve VAEs with Conditional Flows".
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from genjax.families.flows.bijectors import chain
from genjax.families.flows.coupling import affine_coupling
from genjax.families.flows.models import check_batch, standard_normal_log_prob
from genjax.nets.flow_nets import MLP, init_key

Array = jax.Array
LIKELIHOODS = ("gaussian", "bernoulli")


class VAEModel(NamedTuple):
    """Pure functions of a (f-)VAE; see the module docstring."""

    init: Callable        # init(x, key) -> params
    elbo: Callable        # elbo(params, x, key) -> [B]
    iwae: Callable        # iwae(params, x, num_samples, key) -> [B]
    sample: Callable      # sample(params, n, key) -> [n, dim]
    encode: Callable      # encode(params, x) -> (mu, log_sigma), each [B, latent_dim]
    decode: Callable      # decode(params, z) -> means or logits [B, dim]
    dim: int
    latent_dim: int


def _build(dim, latent_dim, hidden, likelihood, num_flows, flow_hidden, context_dim,
           closed_form_kl) -> VAEModel:
    if not isinstance(dim, int) or dim < 1 or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"dim and latent_dim must be positive ints, got {dim!r}, {latent_dim!r}")
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    if num_flows and latent_dim < 2:
        raise ValueError(f"f_vae: coupling flows need latent_dim >= 2, got {latent_dim}")
    hidden = tuple(hidden)
    encoder = MLP(hidden, 2 * latent_dim, zero_init=False)
    decoder = MLP(tuple(reversed(hidden)), dim, zero_init=False)
    context_net = MLP(hidden, context_dim, zero_init=False)
    masks = [((np.arange(latent_dim) + k) % 2 == 0).astype(np.float32) for k in range(num_flows)]
    flow = chain([affine_coupling(m, MLP(tuple(flow_hidden), 2 * latent_dim)) for m in masks])

    def encode(params, x):
        mu, log_sigma = jnp.split(encoder.apply({"params": params["encoder"]}, x), 2, axis=-1)
        return mu, log_sigma

    def decode(params, z):
        return decoder.apply({"params": params["decoder"]}, z)

    def log_lik(params, x, z):                                      # log p(x | z): [..., B]
        out = decode(params, z)
        if likelihood == "bernoulli":
            return jnp.sum(x * jax.nn.log_sigmoid(out) + (1 - x) * jax.nn.log_sigmoid(-out), axis=-1)
        ls = params["log_sigma_x"]
        return jnp.sum(-0.5 * ((x - out) * jnp.exp(-ls)) ** 2 - ls - 0.5 * math.log(2 * math.pi), axis=-1)

    def posterior(params, x, u):
        """z = F_x(u) and log q(z|x), for u: [B, latent]."""
        mu, log_sigma = encode(params, x)
        z = mu + jnp.exp(log_sigma) * u
        log_q = standard_normal_log_prob(u) - jnp.sum(log_sigma, axis=-1)
        if num_flows:
            ctx = context_net.apply({"params": params["context"]}, x)
            z, ld = flow.forward(params["flow"], z, ctx)
            log_q = log_q - ld
        return z, log_q

    def init(x, key):
        check_batch(x, (dim,))
        x = jnp.asarray(x, jnp.float32)
        k_enc, k_dec, k_ctx, k_flow = jax.random.split(init_key(key), 4)
        params = {"encoder": encoder.init(k_enc, x)["params"],
                  "decoder": decoder.init(k_dec, jnp.zeros((1, latent_dim)))["params"]}
        if likelihood == "gaussian":
            params["log_sigma_x"] = jnp.log(jnp.std(x, axis=0) + 1e-3)
        if num_flows:
            params["context"] = context_net.init(k_ctx, x)["params"]
            ctx = context_net.apply({"params": params["context"]}, x)
            params["flow"] = flow.init(jnp.zeros((x.shape[0], latent_dim)), k_flow, ctx)[0]
        return params

    def elbo(params, x, key):
        check_batch(x, (dim,))
        u = jax.random.normal(key, (x.shape[0], latent_dim))
        if closed_form_kl:                                     # VAE: closed-form Gaussian KL
            mu, log_sigma = encode(params, x)
            z = mu + jnp.exp(log_sigma) * u
            kl = 0.5 * jnp.sum(jnp.exp(2 * log_sigma) + mu**2 - 1.0 - 2 * log_sigma, axis=-1)
            return log_lik(params, x, z) - kl
        z, log_q = posterior(params, x, u)
        return log_lik(params, x, z) + standard_normal_log_prob(z) - log_q

    def iwae(params, x, num_samples, key):
        check_batch(x, (dim,))
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
        u = jax.random.normal(key, (num_samples, x.shape[0], latent_dim))

        def log_w(u_k):
            z, log_q = posterior(params, x, u_k)
            return log_lik(params, x, z) + standard_normal_log_prob(z) - log_q

        return jax.nn.logsumexp(jax.lax.map(log_w, u), axis=0) - math.log(num_samples)

    def sample(params, n, key):
        out = decode(params, jax.random.normal(key, (n, latent_dim)))
        return jax.nn.sigmoid(out) if likelihood == "bernoulli" else out

    return VAEModel(init, elbo, iwae, sample, encode, decode, dim, latent_dim)


def vae(dim: int, latent_dim: int, hidden: Sequence[int] = (256,), likelihood: str = "gaussian") -> VAEModel:
    """Gaussian-posterior VAE with MLP encoder / decoder (``hidden=()`` makes both linear)."""
    return _build(dim, latent_dim, hidden, likelihood, 0, (), 1, closed_form_kl=True)


def f_vae(dim: int, latent_dim: int, hidden: Sequence[int] = (256,), likelihood: str = "gaussian",
          num_flows: int = 4, flow_hidden: Sequence[int] = (64,), context_dim: int = 32) -> VAEModel:
    """f-VAE: the VAE posterior followed by ``num_flows`` affine couplings conditioned on c(x).

    ``num_flows=0`` gives F_x(u) = sigma(x) u + mu(x): the VAE itself, estimated by Monte Carlo.
    """
    if num_flows < 0:
        raise ValueError(f"num_flows must be >= 0, got {num_flows}")
    return _build(dim, latent_dim, hidden, likelihood, num_flows, flow_hidden, context_dim,
                  closed_form_kl=False)
