"""Generative families beside diffusion: flows, VAEs, autoregressive models, GANs, EBMs, PFGM.

Each family is a module (or subpackage) of small factories returning NamedTuples of pure
functions; import the one you need, e.g. ``from genjax.families import flows, vae, autoregressive``.
Nothing is imported here, so one family's dependencies never load with another's.
"""
