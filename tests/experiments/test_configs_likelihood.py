"""Every likelihood-table config (NICE, RealNVP, Glow, CNF on toys and digits; NADE, MADE, VAE, f-VAE on
digits) trains at ``:runlocal`` for a short run and clearly lowers the held-out bits/dim from its
initialisation (experiments/papers/likelihood_table/heldout.py).

toy2d_realnvp runs through the one trainer end to end (``experiments.train.run``: 8 host devices,
orbax checkpoint, samples in the model space); the others run the same Task and input pipeline on
one device (``experiments/papers/likelihood_table/heldout.train_direct``: the trainer adds only
sharding and checkpoints, covered by the first, and would double the compile time). Held-out data:
fresh toy samples under a key the trainer never uses, or the digits *test* split; the number is the
Task's own ``evaluate`` (exact nll) in its bits/dim convention.
"""
import importlib

import jax
import numpy as np
import pytest

from experiments.papers.likelihood_table import heldout

# name -> (train steps, required drop of held-out bits/dim): far above evaluation noise (the key
# is fixed; < 0.01 bits/dim across keys) and well below what the runs reach.
CONFIGS = {
    "toy2d_realnvp": (300, 0.3),
    "toy2d_glow": (400, 0.2),
    "toy2d_cnf": (200, 0.3),
    "digits_nice": (200, 0.5),
    "digits_realnvp": (150, 0.5),
    "digits_glow": (150, 0.5),
    "digits_cnf": (100, 0.3),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_trains_and_improves_heldout_nll(name, tmp_path):
    steps, drop = CONFIGS[name]
    mod = importlib.import_module(f"experiments.configs.{name}")
    assert all(s in mod.__doc__ for s in ("Command", "Hardware", "Expected result"))
    assert f"experiments/configs/{name}.py" in mod.__doc__
    through = str(tmp_path) if name == "toy2d_realnvp" else None
    metric, before, after, task, params = heldout.improvement(name, steps, through_trainer=through)
    assert np.isfinite(after) and after < before - drop, (before, after)
    if through is not None:                        # samples come back in the trainer's model space
        x = jax.jit(task.sample, static_argnums=1)(params, 8, jax.random.key(0))
        assert x.shape == (8, 2) and bool(np.all(np.isfinite(x)))


# name -> (train steps, required drop of held-out bits/dim, the Task's metric). NADE / MADE start from
# the data marginals (output biases = logit(mean)), already ~0.55 bits/dim, so the required drop is
# smaller; their evaluation is exact (no noise at all). The VAE decoder variance starts at the data's,
# so the initial bound is far above log2(17) and the drop is large.
DIRECT = {
    "digits_nade": (400, 0.05, "ar_bits_per_dim"),
    "digits_made": (400, 0.05, "ar_bits_per_dim"),
    "digits_vae": (400, 0.5, "elbo_bits_per_dim"),
    "digits_fvae": (400, 0.5, "elbo_bits_per_dim"),
}


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_ar_and_vae_configs_train_and_improve_heldout_bound(name):
    """digits_nade / digits_made / digits_vae / digits_fvae at ``:runlocal`` through the trainer's Task
    and input pipeline (one device; heldout.train_direct) on the test split."""
    steps, drop, want = DIRECT[name]
    doc = importlib.import_module(f"experiments.configs.{name}").__doc__
    assert all(s in doc for s in ("Command", "Hardware", "Expected result"))
    metric, before, after, _, _ = heldout.improvement(name, steps)
    assert metric == want
    assert np.isfinite(after) and after < before - drop, (before, after)
