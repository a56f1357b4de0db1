"""Tests for genjax/nets/edm_adapter.py: time and label mapping, label dropout."""
import jax
import jax.numpy as jnp
import numpy as np

from genjax import nets


# --- the project's calling convention --------------------------------------------------------------------
def test_adapter_maps_time_labels_and_label_dropout():
    kw = dict(img_resolution=8, in_channels=1, out_channels=1, model_channels=8, channel_mult=(1, 2), num_blocks=1,
              attn_resolutions=(), dropout=0.0, label_dropout=0.5)
    net = nets.get("song_unet", **kw, num_classes=3, noise_scale=2.0)
    base = nets.SongUNet(**kw, label_dim=3)
    assert net.label_dim == 3
    abstract = nets.torch_import.abstract_variables(base)
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda s: jnp.asarray(0.3 * rng.standard_normal(s.shape), jnp.float32), abstract["params"])
    assert jax.tree.structure(params) == jax.tree.structure(
        jax.eval_shape(lambda: nets.init_params(net, jnp.zeros((2, 8, 8, 1)), jax.random.key(0))))
    apply = nets.apply_fn(net)
    n = 32
    x = jnp.broadcast_to(jax.random.normal(jax.random.key(1), (1, 8, 8, 1)), (n, 8, 8, 1))
    t = jnp.full((n,), 0.3)
    lab = jnp.full((n,), 2)

    @jax.jit
    def run(params):
        both = base.apply({"params": params}, x[:2], 2.0 * t[:2], jnp.stack([jax.nn.one_hot(2, 3), jnp.zeros(3)]))
        return both, apply(params, x[:2], 0.3, jnp.array([2, nets.NULL_LABEL])), apply(params, x, t, lab, True,
                                                                                       jax.random.key(2))

    both, got, drop = run(params)
    ref, unc = both[:1], both[1:]
    np.testing.assert_allclose(got, both, atol=1e-6)  # t -> 2 t, label -> one-hot, NULL_LABEL -> EDM's zero label
    assert float(jnp.max(jnp.abs(ref - unc))) > 1e-3
    d_ref = jnp.max(jnp.abs(drop - ref), axis=(1, 2, 3))
    d_unc = jnp.max(jnp.abs(drop - unc), axis=(1, 2, 3))
    assert bool(jnp.all(jnp.minimum(d_ref, d_unc) < 1e-5))  # each row: its label kept or dropped
    kept = float(jnp.mean(d_ref < 1e-5))
    assert 0.15 < kept < 0.85, kept  # Binomial(32, 0.5): outside this range with probability < 1e-4
