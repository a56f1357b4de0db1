"""Tests for genjax/plotting.py: PNGs are written and decodable, the drawn data are the input."""
import matplotlib.image as mpimg
import numpy as np
import pytest

from genjax import plotting

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    img = mpimg.imread(str(path))
    assert img.ndim == 3 and min(img.shape[:2]) > 50
    return img


def test_scatter_single_and_panels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    fig = plotting.scatter(x, tmp_path / "one.png", title="x", lim=3.0)
    _check_png(tmp_path / "one.png")
    offsets = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(offsets), x)
    fig = plotting.scatter({"a": x, "b": x + 1}, tmp_path / "sub" / "two.png")
    assert len(fig.axes) == 2 and [a.get_title() for a in fig.axes] == ["a", "b"]
    fig = plotting.scatter([x, x, x], ncols=2)  # 2 x 2 grid, the 4th panel hidden
    assert len(fig.axes) == 4 and [a.get_visible() for a in fig.axes] == [True, True, True, False]
    _check_png(tmp_path / "sub" / "two.png")


def test_density_peak_is_where_the_mass_is(tmp_path):
    """A Gaussian at (1, -1): the brightest pixel of the heat map sits within one grid step."""
    mu = np.array([1.0, -1.0])
    log_prob = lambda p: -0.5 * np.sum((p - mu) ** 2, -1) / 0.25  # noqa: E731
    fig = plotting.density(log_prob, tmp_path / "d.png", extent=(-4, 4, -4, 4), resolution=81)
    _check_png(tmp_path / "d.png")
    shown = np.asarray(fig.axes[0].images[0].get_array())
    i, j = np.unravel_index(np.argmax(shown), shown.shape)
    xs = np.linspace(-4, 4, 81)
    assert abs(xs[j] - 1.0) <= 0.1 and abs(xs[i] + 1.0) <= 0.1  # origin="lower": row i <-> y
    assert shown.max() == 1.0  # normalised to the peak
    values = np.log(shown + 1e-12)
    plotting.density(values, tmp_path / "v.png", log_scale=True)
    _check_png(tmp_path / "v.png")


def test_trajectories(tmp_path):
    t = np.linspace(0, 1, 20)[:, None, None]
    paths = np.concatenate([np.cos(3 * t) * np.ones((1, 50, 1)), np.sin(3 * t) * np.ones((1, 50, 1))], -1)
    fig = plotting.trajectories(paths, tmp_path / "t.png", max_paths=30)
    assert len(fig.axes[0].lines) == 30
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xydata(), paths[:, 0])
    _check_png(tmp_path / "t.png")


def test_image_grid_places_each_image(tmp_path):
    n, h, w = 5, 4, 3
    images = np.stack([np.full((h, w, 1), v) for v in np.linspace(-1, 1, n)])
    canvas = plotting.tile_images(images, ncols=3, pad=1)
    assert canvas.shape == (2 * (h + 1) + 1, 3 * (w + 1) + 1, 1)
    for i, v in enumerate(np.linspace(0, 1, n)):  # [-1, 1] -> [0, 1]
        r, q = divmod(i, 3)
        np.testing.assert_allclose(canvas[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w], v)
    assert canvas[0].min() == 1.0  # white padding
    plotting.image_grid(images, tmp_path / "g.png")
    _check_png(tmp_path / "g.png")
    rgb = np.random.default_rng(1).uniform(size=(6, 8, 8, 3))
    plotting.image_grid(rgb, tmp_path / "rgb.png", value_range=(0, 1))
    _check_png(tmp_path / "rgb.png")


@pytest.mark.parametrize("call, match", [
    pytest.param(lambda: plotting.scatter(np.zeros((10, 3))), r"samples must have shape \[N, 2\]", id="scatter"),
    pytest.param(lambda: plotting.scatter({"a": np.zeros(10)}), "samples\\['a'\\]", id="scatter_dict"),
    pytest.param(lambda: plotting.trajectories(np.zeros((10, 2))), "paths must have shape", id="trajectories"),
    pytest.param(lambda: plotting.image_grid(np.zeros((4, 8, 8))), "images must have shape", id="image_grid_rank"),
    pytest.param(lambda: plotting.image_grid(np.zeros((4, 8, 8, 2))), "images must have shape",
                 id="image_grid_channels"),
    pytest.param(lambda: plotting.density(np.zeros(10)), "values must have shape", id="density_values"),
    pytest.param(lambda: plotting.density(lambda p: p[:, 0], extent=(1, -1, 0, 1)), "extent", id="density_extent"),
])
def test_bad_shapes(call, match):
    with pytest.raises(ValueError, match=match):
        call()
