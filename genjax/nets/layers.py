"""Layers of EDM's image networks in NHWC: Linear, Conv2d with FIR up/down-sampling, GroupNorm.

* ``Linear``: y = x W + b, W [in, out]. ``Conv2d``: a k x k convolution (k = 0: none) with optional
  2x resampling by the separable FIR filter ``f f^T / (sum f)^2`` (``resample_filter`` f = (1, 1):
  box / nearest; (1, 3, 3, 1): the bilinear-like filter of StyleGAN2 and NCSN++):

      down:  x <- depthwise_conv(x, F, stride 2, pad p_f)          then conv(x, W, pad p_w)
      up:    x <- depthwise_conv_transpose(x, 4 F, stride 2, pad p_f) then conv(x, W, pad p_w)

  with p_w = k // 2, p_f = (len f - 1) // 2. ``fused_resample`` runs the convolution at the
  fine resolution in one go instead (down: conv(x, W, pad p_w + p_f), then the filter with stride
  2 and no pad; up: the transposed filter with pad max(p_f - p_w, 0), then conv with pad
  max(p_w - p_f, 0)).
* ``group_norm(C, eps)``: GroupNorm with EDM's group count min(32, C // 4).
* ``Init``: EDM's initialisers, w ~ gain * U(-sqrt(3/fan), sqrt(3/fan)) (kaiming_uniform),
  gain * N(0, 1/fan_in) (kaiming_normal) or gain * U(+-sqrt(6 / (fan_in + fan_out)))
  (xavier_uniform); biases draw from the same law times ``bias``.

The resampling filters are constants derived from ``resample_filter`` (never parameters), applied
as separable sums of strided slices (no grouped convolutions: XLA compiles those, and their
gradients, slowly on CPU); ``init`` records the 2-D kernels in the "buffers" collection, where
imported weights carry EDM's torch buffers (``from_torch_state_dict`` checks they agree).

References: Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
Models" (Appendix F.2 and its networks); Karras et al. 2020, "Analyzing and Improving the Image
Quality of StyleGAN" (FIR resampling); Wu & He 2018, "Group Normalization".
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
INIT_MODES = ("xavier_uniform", "kaiming_uniform", "kaiming_normal")
_DN = ("NHWC", "HWIO", "NHWC")


class Init(NamedTuple):
    """An EDM initialiser: the law ``mode`` scaled by ``weight`` (weights) and ``bias`` (biases)."""

    mode: str = "kaiming_normal"
    weight: float = 1.0
    bias: float = 0.0


def _initializer(mode: str, fan_in: int, fan_out: int, gain: float):
    if mode not in INIT_MODES:
        raise ValueError(f"init mode must be one of {INIT_MODES}, got {mode!r}")

    def init(key, shape, dtype=jnp.float32):
        if gain == 0:
            return jnp.zeros(shape, dtype)
        if mode == "kaiming_normal":
            return gain * math.sqrt(1.0 / fan_in) * jax.random.normal(key, shape, dtype)
        bound = math.sqrt(3.0 / fan_in) if mode == "kaiming_uniform" else math.sqrt(6.0 / (fan_in + fan_out))
        return gain * bound * jax.random.uniform(key, shape, dtype, -1.0, 1.0)

    return init


def resample_kernel(resample_filter: Sequence[float]) -> np.ndarray:
    """The 2-D FIR kernel f f^T / (sum f)^2 of a 1-D filter f: [k, k] float32."""
    f = np.asarray(resample_filter, np.float64)
    if f.ndim != 1 or f.size < 1 or f.sum() == 0:
        raise ValueError(f"resample_filter must be a non-empty 1-D filter with a non-zero sum, got {resample_filter}")
    return (np.outer(f, f) / f.sum() ** 2).astype(np.float32)


def fixed(module: nn.Module, name: str, value: np.ndarray) -> Array:
    """A constant of ``module``: ``init`` records ``value`` in the "buffers" collection (where
    imported weights carry EDM's torch buffers); the computation reads the collection when the
    variables carry it, else uses ``value``."""
    if module.has_variable("buffers", name) or module.is_initializing():
        return jnp.asarray(module.variable("buffers", name, lambda: jnp.asarray(value)).value, jnp.float32)
    return jnp.asarray(value, jnp.float32)


def _taps(resample_filter: Sequence[float]) -> np.ndarray:
    f = np.asarray(resample_filter, np.float64)
    return f / f.sum()


def _fir_axis(x: Array, g: np.ndarray, axis: int, pad: int, stride: int) -> Array:
    """y[i] = sum_k g[k] xpad[stride i + k] along ``axis`` (xpad: x zero-padded by ``pad``)."""
    k, n = len(g), x.shape[axis]
    widths = [(0, 0)] * x.ndim
    widths[axis] = (pad, pad) if pad >= 0 else (0, 0)
    xp = jnp.pad(x, widths)
    if pad < 0:
        xp = jax.lax.slice_in_dim(xp, -pad, n + pad, axis=axis)
    out = (xp.shape[axis] - k) // stride + 1
    y = 0.0
    for j in range(k):
        y = y + float(g[j]) * jax.lax.slice_in_dim(xp, j, j + stride * (out - 1) + 1, stride, axis=axis)
    return y


def _zero_stuff(x: Array, axis: int) -> Array:
    """Insert a zero after every element but the last along ``axis``: length n -> 2 n - 1."""
    z = jnp.stack([x, jnp.zeros_like(x)], axis=axis + 1)
    shape = list(x.shape)
    shape[axis] *= 2
    return jax.lax.slice_in_dim(z.reshape(shape), 0, shape[axis] - 1, axis=axis)


def downsample(x: Array, resample_filter: Sequence[float], pad: int) -> Array:
    """torch conv2d of each channel with F = f f^T / (sum f)^2, stride 2, padding ``pad``:
    [B, H, W, C] -> [B, (H + 2 pad - k) // 2 + 1, ..., C]; separable, as sums of strided slices."""
    g = _taps(resample_filter)
    return _fir_axis(_fir_axis(x, g, 1, pad, 2), g, 2, pad, 2)


def upsample(x: Array, resample_filter: Sequence[float], pad: int) -> Array:
    """torch conv_transpose2d of each channel with 4 F, stride 2, padding ``pad``:
    [B, H, W, C] -> [B, 2 (H - 1) - 2 pad + k, ..., C]; the 2x zero-stuffed input correlated with
    the flipped taps 2 g, padding k - 1 - pad (separable, as sums of slices)."""
    g = 2.0 * _taps(resample_filter)[::-1]
    k = len(g)
    for axis in (1, 2):
        x = _fir_axis(_zero_stuff(x, axis), g, axis, k - 1 - pad, 1)
    return x


def conv(x: Array, w: Array, pad: int) -> Array:
    """Cross-correlation x [B, H, W, I] * w [k, k, I, O] with zero padding ``pad``."""
    return jax.lax.conv_general_dilated(x, w.astype(x.dtype), (1, 1), [(pad, pad), (pad, pad)], dimension_numbers=_DN)


class Linear(nn.Module):
    """x [..., in] -> [..., features]: x W + b (params "kernel" [in, out], "bias" [out])."""

    features: int
    use_bias: bool = True
    init: Init = Init()

    @nn.compact
    def __call__(self, x: Array) -> Array:
        fan_in = x.shape[-1]
        w = self.param("kernel", _initializer(self.init.mode, fan_in, self.features, self.init.weight),
                       (fan_in, self.features))
        y = x @ w.astype(x.dtype)
        if self.use_bias:
            y = y + self.param("bias", _initializer(self.init.mode, fan_in, self.features, self.init.bias),
                               (self.features,)).astype(x.dtype)
        return y


class Conv2d(nn.Module):
    """x [B, H, W, in] -> [B, H', W', features] (H' = 2H up, H/2 down, H otherwise).

    Attributes:
      features: output channels (must equal the input channels when ``kernel`` is 0).
      kernel: spatial size k (0: no convolution, only the resampling).
      use_bias: add a bias (only with k > 0).
      up, down: resample by 2 with the FIR kernel of ``resample_filter``.
      resample_filter: the 1-D filter f.
      fused_resample: convolve at the fine resolution (module docstring).
      init: the initialiser.
    """

    features: int
    kernel: int
    use_bias: bool = True
    up: bool = False
    down: bool = False
    resample_filter: tuple = (1, 1)
    fused_resample: bool = False
    init: Init = Init()

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if self.up and self.down:
            raise ValueError("Conv2d: up and down are exclusive")
        cin, k = x.shape[-1], self.kernel
        w = b = None
        if k:
            fan_in, fan_out = cin * k * k, self.features * k * k
            w = self.param("kernel", _initializer(self.init.mode, fan_in, fan_out, self.init.weight),
                           (k, k, cin, self.features))
            if self.use_bias:
                b = self.param("bias", _initializer(self.init.mode, fan_in, fan_out, self.init.bias), (self.features,))
        elif self.features != cin:
            raise ValueError(f"Conv2d: kernel 0 keeps the channels, got {cin} -> {self.features}")
        f = tuple(self.resample_filter)
        if self.up or self.down:
            # EDM's buffer, recorded for the checkpoint mapping; the taps themselves are static
            fixed(self, "resample_filter", resample_kernel(f))
        w_pad = k // 2
        f_pad = (len(f) - 1) // 2 if (self.up or self.down) else 0
        if self.fused_resample and self.up and w is not None:
            x = upsample(x, f, max(f_pad - w_pad, 0))
            x = conv(x, w, max(w_pad - f_pad, 0))
        elif self.fused_resample and self.down and w is not None:
            x = conv(x, w, w_pad + f_pad)
            x = downsample(x, f, 0)
        else:
            if self.up:
                x = upsample(x, f, f_pad)
            if self.down:
                x = downsample(x, f, f_pad)
            if w is not None:
                x = conv(x, w, w_pad)
        if b is not None:
            x = x + b.astype(x.dtype)
        return x


def num_groups(channels: int, max_groups: int = 32, min_channels_per_group: int = 4) -> int:
    """EDM's group count min(max_groups, C // min_channels_per_group) (ValueError if it does not divide C)."""
    g = min(max_groups, channels // min_channels_per_group)
    if g < 1 or channels % g:
        raise ValueError(f"group norm: {channels} channels cannot form min(32, C // 4) = {g} equal groups; "
                         "use model_channels * channel_mult with at least 4 channels and a matching divisor")
    return g


def group_norm(channels: int, eps: float, name: str) -> nn.GroupNorm:
    """GroupNorm over C channels with EDM's group count (params "scale", "bias"); two-pass variance."""
    return nn.GroupNorm(num_groups=num_groups(channels), epsilon=eps, use_fast_variance=False, name=name)
