"""EDM's SongUNet (DDPM++ / NCSN++) and DhariwalUNet (ADM): golden outputs of the reference torch
implementation, the papers' parameter counts, and the checkpoint mapping's errors.

The fixtures (tests/fixtures/edm_nets/, recipe in its README) store the torch parameter names and
shapes, the buffers, the inputs and EDM's outputs; the parameter values are drawn again here from
the recipe's numpy seed and rule (``make_fixtures.draw``), so no weights are stored.
"""
import importlib.util
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import nets

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "edm_nets"
_spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)  # only the drawing rule; torch is imported inside its main()


def load(name):
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as z:
        f = {k: z[k] for k in z.files}
    kw = json.loads(str(f["kwargs"]))
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
    net = getattr(nets, str(f["cls"]))(**kw)
    rng = np.random.default_rng(int(f["seed"]))
    sd = {n: recipe.draw(rng, n, s) for n, s in zip(f["names"].tolist(), json.loads(str(f["shapes"])))}
    sd.update({k[len("buffer:"):]: v for k, v in f.items() if k.startswith("buffer:")})
    return net, sd, f


@pytest.fixture(scope="module", params=["ddpmpp", "ncsnpp", "adm", "songunet_skip"])
def golden(request):
    net, sd, f = load(request.param)
    variables = nets.from_torch_state_dict(net, sd)
    args = [jnp.asarray(f["x"]), jnp.asarray(f["noise_labels"]),
            jnp.asarray(f["class_labels"]) if "class_labels" in f else None,
            jnp.asarray(f["augment_labels"]) if "augment_labels" in f else None]
    return request.param, net, variables, args, f


def test_golden_outputs_match_edm(golden):
    name, net, variables, args, f = golden
    assert sum(np.prod(p.shape) for p in jax.tree.leaves(variables["params"])) == int(f["num_params"])
    y = jax.jit(net.apply)(variables, *args)
    err = float(jnp.max(jnp.abs(y - f["output"])))
    # float32 through ~40 layers with O(1) activations: accumulation order differs from torch
    assert err <= 1e-4, (name, err)


# --- parameter counts (EDM's torch parameters(), the reference numbers) -----------------------
DDPMPP = dict(img_resolution=32, in_channels=3, out_channels=3, augment_dim=9, model_channels=128,
              channel_mult=(2, 2, 2), num_blocks=4, attn_resolutions=(16,), dropout=0.13)
NCSNPP = dict(DDPMPP, embedding_type="fourier", channel_mult_noise=2, encoder_type="residual",
              resample_filter=(1, 3, 3, 1))
ADM = dict(img_resolution=64, in_channels=3, out_channels=3, label_dim=1000, model_channels=192,
           channel_mult=(1, 2, 3, 4), num_blocks=3, attn_resolutions=(32, 16, 8), dropout=0.1)


@pytest.mark.parametrize("cls,kw,count", [
    ("SongUNet", DDPMPP, 55_733_891),                      # CIFAR-10 DDPM++ uncond
    ("SongUNet", dict(DDPMPP, label_dim=10), 55_735_299),  # CIFAR-10 DDPM++ cond
    ("SongUNet", NCSNPP, 56_397_827),                      # CIFAR-10 NCSN++ uncond
    ("DhariwalUNet", ADM, 295_899_267),                    # ImageNet-64 ADM as EDM retrains it
    ("DhariwalUNet", dict(ADM, out_channels=6), 295_904_454),  # ADM's published learned-variance net
], ids=["ddpmpp", "ddpmpp_cond", "ncsnpp", "adm", "adm_sigma"])
def test_parameter_counts_equal_edm(cls, kw, count):
    abstract = nets.torch_import.abstract_variables(getattr(nets, cls)(**kw))  # eval_shape: nothing allocated
    assert sum(int(np.prod(p.shape)) for p in jax.tree.leaves(abstract["params"])) == count


# --- checkpoint mapping errors --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def skip_net():
    net, sd, _ = load("songunet_skip")
    return net, sd


_NAME = "enc.4x4_block0.conv0.weight"
_OTHER = dict(img_resolution=8, in_channels=2, out_channels=2, label_dim=3, model_channels=16, channel_mult=(1, 2),
              num_blocks=1, attn_resolutions=(4,), embedding_type="fourier", encoder_type="skip",
              decoder_type="skip", resample_filter=(1, 2, 2, 1))


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda net, sd: nets.from_torch_state_dict(net, {k: v for k, v in sd.items() if k != _NAME}),
                 f"missing '{_NAME}'", id="missing"),
    pytest.param(lambda net, sd: nets.from_torch_state_dict(
        net, dict(sd, **{"dec.8x8_extra.weight": np.zeros(3, np.float32)})),
        "unexpected tensor 'dec.8x8_extra.weight'", id="unexpected"),
    pytest.param(lambda net, sd: nets.from_torch_state_dict(net, dict(sd, **{_NAME: sd[_NAME].transpose(1, 0, 2, 3)})),
                 f"'{_NAME}' has shape", id="shape"),
    pytest.param(lambda net, sd: nets.from_torch_state_dict(net, sd, prefix="model."),
                 "unexpected tensor 'map_label.weight'.*prefix 'model.'", id="prefix"),
    pytest.param(lambda net, sd: nets.from_torch_state_dict(nets.SongUNet(**_OTHER), sd),
                 "resample_filter=\\(1, 2, 2, 1\\)", id="resample_filter"),
    pytest.param(lambda net, sd: nets.from_torch_state_dict(
        nets.SongUNet(img_resolution=8, in_channels=2, out_channels=2, encoder_type="progressive"), sd),
        "encoder_type", id="encoder_type"),
])
def test_state_dict_errors_name_the_tensor(skip_net, call, match):
    with pytest.raises(ValueError, match=match):
        call(*skip_net)


def test_load_arrays_reads_npz_and_safetensors(tmp_path):
    # safetensors written by hand from its specification: u64 little-endian header size, JSON header
    # {name: {dtype, shape, data_offsets}}, raw little-endian bytes; BF16 = the top 16 bits of float32.
    import struct

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.5, -2.0], np.float16)
    bf = np.array([1.0, -3.5, 0.15625], np.float32)          # exactly representable in bfloat16
    raws = [a.tobytes(), b.tobytes(), (bf.view(np.uint32) >> 16).astype("<u2").tobytes()]
    specs = [("a", "F32", [2, 3]), ("b", "F16", [2]), ("c", "BF16", [3])]
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for (name, dt, shape), raw in zip(specs, raws):
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header).encode()
    (tmp_path / "w.safetensors").write_bytes(struct.pack("<Q", len(h)) + h + b"".join(raws))
    got = nets.load_arrays(str(tmp_path / "w.safetensors"))
    assert sorted(got) == ["a", "b", "c"]
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["b"], b)
    np.testing.assert_array_equal(got["c"], bf)
    np.savez(tmp_path / "w.npz", a=a)
    np.testing.assert_array_equal(nets.load_arrays(str(tmp_path / "w.npz"))["a"], a)
    with pytest.raises(ValueError, match="must end in .npz or .safetensors"):
        (tmp_path / "w.pkl").write_bytes(b"")
        nets.load_arrays(str(tmp_path / "w.pkl"))


