"""Headless matplotlib figures from arrays: samples, 2-D densities, trajectories, image grids.

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas directly (no pyplot, no
global state, no display needed), so they work on servers and inside jobs. Every function
returns the figure and, given ``path``, also writes it as PNG (parent folders are created).
Inputs may be numpy or JAX arrays; bad shapes raise ``ValueError`` naming the argument.
"""
from __future__ import annotations

import os
from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def new_figure(ncols: int = 1, nrows: int = 1, size: float = 3.0):
    """A Figure with an Agg canvas and a grid of axes (returned as a flat list)."""
    fig = Figure(figsize=(size * ncols, size * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, list(axes.ravel())


def save(fig: Figure, path: Optional[str], dpi: int = 100) -> Figure:
    """Write ``fig`` as PNG to ``path`` (when given), creating the parent folders."""
    if path is not None:
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=dpi, format="png", bbox_inches="tight")
    return fig


def _points(x, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{name} must have shape [N, 2], got {x.shape}")
    return x


def _square(ax, lim: Optional[float], title: Optional[str]) -> None:
    """Equal aspect, axes [-lim, lim]^2 (None: matplotlib's), a small title (None / "": none)."""
    ax.set_aspect("equal")
    if lim is not None:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    if title:
        ax.set_title(title, fontsize=9)


def scatter(samples: Union[np.ndarray, Mapping[str, np.ndarray], Sequence[np.ndarray]], path: Optional[str] = None,
            *, title: Optional[str] = None, lim: Optional[float] = None, ncols: Optional[int] = None,
            size: float = 3.0, marker_size: float = 1.0, alpha: float = 0.5, dpi: int = 100) -> Figure:
    """Scatter plot(s) of 2-D samples: one panel per entry of a dict / list, or one for an [N, 2] array.

    Args:
      samples: [N, 2] array, or a dict {panel title: [N_i, 2]}, or a list of [N_i, 2] arrays.
      lim: axes limits [-lim, lim]^2 (default: fitted to the data).
      ncols: panels per row (default: all in one row).
    """
    if isinstance(samples, Mapping):
        panels = [(str(k), _points(v, f"samples[{k!r}]")) for k, v in samples.items()]
    elif isinstance(samples, (list, tuple)):
        panels = [(None, _points(v, f"samples[{i}]")) for i, v in enumerate(samples)]
    else:
        panels = [(title, _points(samples, "samples"))]
    if not panels:
        raise ValueError("samples must not be empty")
    ncols = min(ncols or len(panels), len(panels))
    fig, axes = new_figure(ncols, -(-len(panels) // ncols), size=size)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax, (name, x) in zip(axes, panels):
        ax.scatter(x[:, 0], x[:, 1], s=marker_size, alpha=alpha, linewidths=0)
        _square(ax, lim, name)
    if title and len(panels) > 1:
        fig.suptitle(title)
    return save(fig, path, dpi)


def grid_points(extent: Sequence[float], resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs [R], ys [R], points [R*R, 2]) of a regular grid over extent = (xmin, xmax, ymin, ymax)."""
    xmin, xmax, ymin, ymax = map(float, extent)
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with max > min, got {extent}")
    xs, ys = np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float32)


def density(log_prob: Union[Callable, np.ndarray], path: Optional[str] = None, *,
            extent: Sequence[float] = (-4.0, 4.0, -4.0, 4.0), resolution: int = 200, log_scale: bool = False,
            title: Optional[str] = None, size: float = 3.0, dpi: int = 100) -> Figure:
    """Heat map of a 2-D density.

    Args:
      log_prob: a function points [M, 2] -> log-density [M] (evaluated on a resolution^2 grid over
        ``extent``), or precomputed log-density values [H, W] on that extent (row i <-> y_i).
      log_scale: show log p instead of p.
    """
    if callable(log_prob):
        _, _, pts = grid_points(extent, resolution)
        values = np.asarray(log_prob(pts), np.float64)
        if values.shape != (len(pts),):
            raise ValueError(f"log_prob must map [M, 2] points to [M] values, got shape {values.shape}")
        values = values.reshape(resolution, resolution)
    else:
        values = np.asarray(log_prob, np.float64)
        if values.ndim != 2:
            raise ValueError(f"log_prob values must have shape [H, W], got {values.shape}")
        grid_points(extent, 2)  # validates extent
    shown = values if log_scale else np.exp(values - np.max(values[np.isfinite(values)], initial=0.0))
    fig, (ax,) = new_figure(size=size)
    ax.imshow(shown, origin="lower", extent=tuple(extent), aspect="equal", cmap="viridis")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return save(fig, path, dpi)


def trajectories(paths: np.ndarray, path: Optional[str] = None, *, max_paths: int = 200,
                 title: Optional[str] = None, lim: Optional[float] = None, size: float = 3.0,
                 dpi: int = 100) -> Figure:
    """Sample paths of a 2-D ODE/SDE: paths [T, B, 2] (time first); lines with start (grey) and
    end (black) points; at most ``max_paths`` of the B paths are drawn."""
    p = np.asarray(paths, np.float64)
    if p.ndim != 3 or p.shape[2] != 2 or p.shape[0] < 2:
        raise ValueError(f"paths must have shape [T, B, 2] with T >= 2, got {p.shape}")
    p = p[:, :max_paths]
    fig, (ax,) = new_figure(size=size)
    ax.plot(p[:, :, 0], p[:, :, 1], lw=0.5, alpha=0.6, color="tab:blue")
    ax.scatter(p[0, :, 0], p[0, :, 1], s=3, color="0.6", zorder=3, linewidths=0)
    ax.scatter(p[-1, :, 0], p[-1, :, 1], s=3, color="k", zorder=4, linewidths=0)
    _square(ax, lim, title)
    return save(fig, path, dpi)


def tile_images(images: np.ndarray, ncols: Optional[int] = None, value_range=(-1.0, 1.0), pad: int = 1) -> np.ndarray:
    """Tile [N, H, W, C] images (C = 1 or 3) into one [rows (H + pad) + pad, cols (W + pad) + pad, C]
    array in [0, 1] (values mapped from value_range and clipped; padding is white)."""
    x = np.asarray(images, np.float64)
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or x.shape[0] < 1:
        raise ValueError(f"images must have shape [N, H, W, C] with C in (1, 3), got {x.shape}")
    lo, hi = map(float, value_range)
    if not hi > lo:
        raise ValueError(f"value_range must be (lo, hi) with hi > lo, got {value_range}")
    n, h, w, c = x.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    canvas = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c))
    x = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    for i in range(n):
        r, q = divmod(i, ncols)
        canvas[pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = x[i]
    return canvas


def image_grid(images: np.ndarray, path: Optional[str] = None, *, ncols: Optional[int] = None,
               value_range=(-1.0, 1.0), title: Optional[str] = None, size: float = 4.0, dpi: int = 100) -> Figure:
    """A grid of images [N, H, W, C] (C = 1 grey or 3 RGB) with values in ``value_range``."""
    canvas = tile_images(images, ncols, value_range)
    fig, (ax,) = new_figure(size=size)
    if canvas.shape[-1] == 1:
        ax.imshow(canvas[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return save(fig, path, dpi)
