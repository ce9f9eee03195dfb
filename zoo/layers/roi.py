"""Region-of-interest feature extraction: RoI max pooling, RoIAlign and spatial pyramid pooling.

All three take a channels-last feature map ``[B, H, W, C]``. The RoI layers also take
``rois`` of shape ``[R, 5]`` = ``(batch_index, x1, y1, x2, y2)``: the image each RoI belongs
to, then its box in **xyxy absolute input-image pixels** (the zoo's one box convention).
``spatial_scale`` maps image pixels to feature-map cells (1/16 for VGG16 conv5_3). The
output is ``[R, pooled_height, pooled_width, C]``.

* :class:`RoIPooling` follows Fast R-CNN's reference (Caffe ``roi_pooling_layer``): RoI
  corners are rounded to feature cells (``round`` half away from zero), the RoI spans
  ``x2 - x1 + 1`` cells (inclusive end, at least 1), bin ``i`` covers cells
  ``[floor(i * b), ceil((i + 1) * b))`` of it (``b`` = RoI size / pooled size), clipped to the
  map; the output is the max over the bin, 0 for a bin that lies outside the map.
* :class:`RoIAlign` follows Mask R-CNN (Detectron / torchvision ``roi_align``): no rounding;
  each bin is sampled at ``sampling_ratio x sampling_ratio`` regularly spaced points by
  bilinear interpolation and averaged. ``aligned=True`` shifts by half a cell (pixel centres
  at ``+0.5``), ``aligned=False`` is the original Mask R-CNN (RoI size at least one cell).
* :class:`PSRoIPooling` (R-FCN, Dai et al. 2016) is position-sensitive average pooling, as
  torchvision ``ps_roi_pool``: the map has ``C * PH * PW`` channels (channel
  ``(c * PH + ph) * PW + pw`` is class/coordinate ``c``'s score map for bin ``(ph, pw)``); RoI
  corners are rounded to cells, the RoI spans ``max(x2 - x1, 1)`` cells, bin ``i`` covers
  ``[floor(i * b), ceil((i + 1) * b))`` clipped to the map (cells ``0 .. H``, as R-FCN's Caffe
  ``psroi_pooling``; ``torchvision_clip=True`` clips to ``H - 1`` as torchvision does, so the last
  row and column are never pooled), and output ``[R, PH, PW, C]`` is the mean of bin ``(ph, pw)``
  over its own channel group (0 for an empty bin). Bin sums come from
  an integral image, so any bin size costs four gathers.
* :class:`SpatialPyramidPooling` (SPP-net) max-pools the whole map into ``n x n`` bins for
  each level ``n`` (default 1, 2, 4) and concatenates them: ``[B, C * sum(n * n)]``; given
  ``[features, rois]`` it pools each RoI's window instead (SPP-net's detector): ``[R, C * sum(n * n)]``.

Only ``keras.ops`` is used, so the layers run (and differentiate) on TensorFlow and JAX.
RoI max pooling is computed exactly for any bin size without a per-RoI loop: a 2-D sparse
table of window maxima (window sides 1, 2, 4, ...) is built once per feature map, and each
bin's maximum is the max of four overlapping power-of-two windows gathered from it. RoIAlign uses
the separability of bilinear sampling on a grid: the bin average is ``Wy @ F @ Wx^T`` with
per-RoI row and column weight matrices (two einsums, memory ``R * PH * W * C``). ``batch_index``
must lie in ``[0, B)``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = [
    "RoIPooling",
    "RoIAlign",
    "MultiScaleRoIAlign",
    "PSRoIPooling",
    "ps_roi_pool",
    "ps_roi_covered",
    "SpatialPyramidPooling",
    "spatial_pyramid_pool",
    "roi_pool",
    "roi_align",
    "multiscale_roi_align",
    "fpn_levels",
]


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return value


def _static_hw(features: Any, layer: str) -> tuple[int, int]:
    shape = features.shape
    if len(shape) != 4:
        raise ValueError(f"{layer} expects a [B, H, W, C] feature map, got shape {tuple(shape)}")
    h, w = shape[1], shape[2]
    if h is None or w is None:
        raise ValueError(
            f"{layer} needs the feature map's height and width to be known when the graph is built "
            f"(got {tuple(shape)}); give the model a fixed input_shape."
        )
    return int(h), int(w)


def _check_rois(rois: Any, layer: str) -> None:
    shape = rois.shape
    if len(shape) != 2 or (shape[-1] is not None and shape[-1] != 5):
        raise ValueError(
            f"{layer} expects rois of shape [R, 5] = (batch_index, x1, y1, x2, y2) in input pixels, "
            f"got {tuple(shape)}"
        )


def _round_half_away(x: Any) -> Any:
    """C ``round()``: halves go away from zero (``ops.round`` rounds halves to even)."""
    return ops.sign(x) * ops.floor(ops.abs(x) + 0.5)


def _log2_floor(length: Any, levels: int) -> Any:
    """floor(log2(length)) for int lengths in [1, 2**levels), computed exactly by counting."""
    k = ops.zeros_like(length)
    for j in range(1, levels):
        k = k + ops.cast(length >= (1 << j), length.dtype)
    return k


def _shifted_max(table: Any, shift: int, axis: int) -> Any:
    """max(t[i], t[i + shift]) along ``axis`` (1 or 2); the last ``shift`` entries keep their value."""
    size = table.shape[axis]
    if shift >= size:
        return table
    if axis == 1:
        head = ops.maximum(table[:, : size - shift], table[:, shift:])
        tail = table[:, size - shift :]
    else:
        head = ops.maximum(table[:, :, : size - shift], table[:, :, shift:])
        tail = table[:, :, size - shift :]
    return ops.concatenate([head, tail], axis=axis)


def _sparse_table(features: Any, levels_h: int, levels_w: int) -> Any:
    """Window maxima: out[kh, kw, b, y, x] = max of features[b, y:y+2**kh, x:x+2**kw]."""
    rows = [features]
    for k in range(1, levels_h):
        rows.append(_shifted_max(rows[-1], 1 << (k - 1), axis=1))
    table = []
    for row in rows:
        cols = [row]
        for k in range(1, levels_w):
            cols.append(_shifted_max(cols[-1], 1 << (k - 1), axis=2))
        table.append(ops.stack(cols, axis=0))
    return ops.stack(table, axis=0)  # [Kh, Kw, B, H, W, C]


def roi_pool(
    features: Any,
    rois: Any,
    pooled_size: int | tuple[int, int] = 7,
    spatial_scale: float = 1.0 / 16,
) -> Any:
    """Fast R-CNN RoI max pooling (see the module docstring for the exact bin rule).

    Args:
        features: ``[B, H, W, C]`` feature map with static ``H`` and ``W``.
        rois: ``[R, 5]`` rows ``(batch_index, x1, y1, x2, y2)``, boxes xyxy in input pixels.
        pooled_size: output grid ``(PH, PW)`` or one int.
        spatial_scale: feature cells per input pixel.

    Returns:
        ``[R, PH, PW, C]`` max per bin (0 for bins entirely outside the map).

    Example:
        >>> roi_pool(np.ones((1, 8, 8, 2), "float32"), np.array([[0, 0, 0, 63, 63]], "float32"), 2, 1 / 8)
    """
    ph_n, pw_n = _pair(pooled_size, "pooled_size")
    features = ops.convert_to_tensor(features)
    rois = ops.cast(ops.convert_to_tensor(rois), "float32")
    _check_rois(rois, "RoIPooling")
    height, width = _static_hw(features, "RoIPooling")
    batch = ops.shape(features)[0]
    channels = features.shape[-1]
    levels_h, levels_w = height.bit_length(), width.bit_length()

    batch_idx = ops.cast(rois[:, 0], "int32")
    start_w = _round_half_away(rois[:, 1] * spatial_scale)
    start_h = _round_half_away(rois[:, 2] * spatial_scale)
    end_w = _round_half_away(rois[:, 3] * spatial_scale)
    end_h = _round_half_away(rois[:, 4] * spatial_scale)
    roi_w = ops.maximum(end_w - start_w + 1.0, 1.0)
    roi_h = ops.maximum(end_h - start_h + 1.0, 1.0)

    def edges(start: Any, size: Any, n: int, limit: int) -> tuple[Any, Any]:
        # floor(i * size / n) and ceil((i + 1) * size / n) in exact integer arithmetic
        i = ops.arange(n, dtype="int32")[None, :]
        size = ops.cast(size, "int32")[:, None]
        start = ops.cast(start, "int32")[:, None]
        lo = ops.floor_divide(i * size, n) + start
        hi = -ops.floor_divide(-(i + 1) * size, n) + start
        return ops.clip(lo, 0, limit), ops.clip(hi, 0, limit)  # [R, n]

    h0, h1 = edges(start_h, roi_h, ph_n, height)
    w0, w1 = edges(start_w, roi_w, pw_n, width)
    empty = ops.logical_or((h1 <= h0)[:, :, None], (w1 <= w0)[:, None, :])  # [R, PH, PW]
    len_h = ops.maximum(h1 - h0, 1)
    len_w = ops.maximum(w1 - w0, 1)
    kh = _log2_floor(len_h, levels_h)
    kw = _log2_floor(len_w, levels_w)
    h0 = ops.minimum(h0, height - 1)
    w0 = ops.minimum(w0, width - 1)
    pow2 = ops.convert_to_tensor([1 << k for k in range(max(levels_h, levels_w))], dtype="int32")
    h_last = ops.clip(h0 + len_h - ops.take(pow2, kh), 0, height - 1)
    w_last = ops.clip(w0 + len_w - ops.take(pow2, kw), 0, width - 1)

    table = _sparse_table(features, levels_h, levels_w)
    flat = ops.reshape(table, (-1, channels))

    def gather(rows: Any, cols: Any) -> Any:
        # flat index of table[kh, kw, b, row, col]
        idx = (
            (kh[:, :, None] * levels_w + kw[:, None, :]) * batch + batch_idx[:, None, None]
        ) * height + rows[:, :, None]
        idx = idx * width + cols[:, None, :]
        return ops.take(flat, ops.reshape(idx, (-1,)), axis=0)

    out = ops.maximum(
        ops.maximum(gather(h0, w0), gather(h0, w_last)),
        ops.maximum(gather(h_last, w0), gather(h_last, w_last)),
    )
    out = ops.reshape(out, (-1, ph_n, pw_n, channels))
    return ops.where(empty[..., None], ops.zeros_like(out), out)


def _sample_grid(rois: Any, scale: Any, ph: int, pw: int, s: int, aligned: bool) -> tuple[Any, Any]:
    """RoIAlign's sampling points: ``s`` per bin side, regularly spaced, in feature cells.

    Args:
        rois: [R, 5] (batch_index, x1, y1, x2, y2) input pixels; scale: cells per pixel (a float or [R]).

    Returns:
        (ys [R, ph * s], xs [R, pw * s]). ``aligned`` shifts by half a cell; otherwise an RoI is at
        least one cell wide (the original Mask R-CNN / torchvision ``aligned=False``).
    """
    offset = 0.5 if aligned else 0.0
    x1 = rois[:, 1] * scale - offset
    y1 = rois[:, 2] * scale - offset
    roi_w = rois[:, 3] * scale - offset - x1
    roi_h = rois[:, 4] * scale - offset - y1
    if not aligned:
        roi_w = ops.maximum(roi_w, 1.0)
        roi_h = ops.maximum(roi_h, 1.0)

    def points(start: Any, size: Any, n: int) -> Any:
        grid = ops.arange(n * s, dtype="float32")
        frac = (grid // s + (grid % s + 0.5) / s) / n
        return start[:, None] + frac[None, :] * size[:, None]  # [R, n * s]

    return points(y1, roi_h, ph), points(x1, roi_w, pw)


def roi_align(
    features: Any,
    rois: Any,
    pooled_size: int | tuple[int, int] = 7,
    spatial_scale: float = 1.0 / 16,
    sampling_ratio: int = 2,
    aligned: bool = True,
) -> Any:
    """Mask R-CNN RoIAlign: bilinear samples per bin, averaged; no quantisation.

    Args:
        features: ``[B, H, W, C]`` feature map (static ``H``, ``W``).
        rois: ``[R, 5]`` rows ``(batch_index, x1, y1, x2, y2)``, boxes xyxy in input pixels.
        pooled_size: output grid ``(PH, PW)`` or one int.
        spatial_scale: feature cells per input pixel.
        sampling_ratio: sampling points per bin side (>= 1; the adaptive ``0`` of the
            reference needs data-dependent shapes and is not supported).
        aligned: shift boxes by -0.5 cell (pixel centres at +0.5) as Detectron2's RoIAlignV2.

    Returns:
        ``[R, PH, PW, C]``.

    Example:
        >>> roi_align(np.ones((1, 8, 8, 2), "float32"), np.array([[0, 8, 8, 40, 40]], "float32"), 2, 1 / 8)
    """
    ph_n, pw_n = _pair(pooled_size, "pooled_size")
    if int(sampling_ratio) < 1:
        raise ValueError(
            f"sampling_ratio must be >= 1 (points per bin side), got {sampling_ratio}; the adaptive "
            "value 0 of the reference implementations needs data-dependent shapes."
        )
    s = int(sampling_ratio)
    features = ops.convert_to_tensor(features)
    rois = ops.cast(ops.convert_to_tensor(rois), "float32")
    _check_rois(rois, "RoIAlign")
    height, width = _static_hw(features, "RoIAlign")

    batch_idx = ops.cast(rois[:, 0], "int32")
    ys, xs = _sample_grid(rois, spatial_scale, ph_n, pw_n, s, aligned)

    def corners(coord: Any, size: int) -> tuple[Any, Any, Any, Any]:
        valid = ops.logical_and(coord >= -1.0, coord <= float(size))
        c = ops.maximum(coord, 0.0)
        low = ops.floor(c)
        at_end = low >= size - 1
        low = ops.where(at_end, float(size - 1), low)
        high = ops.where(at_end, low, low + 1.0)
        c = ops.where(at_end, low, c)
        frac = c - low
        return ops.cast(low, "int32"), ops.cast(high, "int32"), frac, valid

    y_lo, y_hi, ly, y_ok = corners(ys, height)
    x_lo, x_hi, lx, x_ok = corners(xs, width)

    def bin_weights(lo: Any, hi: Any, frac: Any, ok: Any, n: int, size: int) -> Any:
        # [R, n, size]: bilinear weight of each map row/column, averaged over the bin's s samples
        ok = ops.cast(ok, "float32")
        w = (
            ops.one_hot(lo, size) * ((1.0 - frac) * ok)[..., None]
            + ops.one_hot(hi, size) * (frac * ok)[..., None]
        )
        return ops.mean(ops.reshape(w, (-1, n, s, size)), axis=2)

    # Bilinear sampling on a regular grid is separable, so the bin average is Wy @ F @ Wx^T per RoI:
    # two small matrix products instead of gathering R * PH * PW * s^2 * 4 feature vectors.
    wy = bin_weights(y_lo, y_hi, ly, y_ok, ph_n, height)  # [R, PH, H]
    wx = bin_weights(x_lo, x_hi, lx, x_ok, pw_n, width)  # [R, PW, W]
    images = ops.cast(
        batch_idx[:, None] == ops.arange(ops.shape(features)[0], dtype="int32")[None, :], "float32"
    )
    wyb = wy[:, None, :, :] * images[:, :, None, None]  # [R, B, PH, H]
    rows = ops.einsum("rbph,bhwc->rpwc", wyb, ops.cast(features, "float32"))
    return ops.einsum("rpwc,rqw->rpqc", rows, wx)


@keras.saving.register_keras_serializable(package="zoo")
class RoIPooling(keras.layers.Layer):
    """Fast R-CNN RoI max pooling layer: ``[features, rois] -> [R, PH, PW, C]``.

    ``rois`` is ``[R, 5]`` = ``(batch_index, x1, y1, x2, y2)``, boxes xyxy in input-image pixels;
    bins are quantised as in the Caffe reference (see :mod:`zoo.layers.roi`).

    Args:
        pooled_size: output grid ``(PH, PW)`` or one int (7 for VGG16).
        spatial_scale: feature cells per input pixel (1/16 for conv5_3).

    Example:
        >>> pool = RoIPooling(7, spatial_scale=1 / 16)
        >>> pooled = pool([conv5_3, rois])  # [R, 7, 7, 512]
    """

    def __init__(
        self, pooled_size: int | tuple[int, int] = 7, spatial_scale: float = 1.0 / 16, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.pooled_size = _pair(pooled_size, "pooled_size")
        if not spatial_scale > 0:
            raise ValueError(f"spatial_scale must be positive, got {spatial_scale}")
        self.spatial_scale = float(spatial_scale)

    def call(self, inputs: Any) -> Any:
        features, rois = inputs
        return roi_pool(features, rois, self.pooled_size, self.spatial_scale)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        feat, rois = input_shape
        return (rois[0], *self.pooled_size, feat[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pooled_size": self.pooled_size, "spatial_scale": self.spatial_scale}


@keras.saving.register_keras_serializable(package="zoo")
class RoIAlign(keras.layers.Layer):
    """Mask R-CNN RoIAlign layer: ``[features, rois] -> [R, PH, PW, C]``.

    ``rois`` is ``[R, 5]`` = ``(batch_index, x1, y1, x2, y2)``, boxes xyxy in input-image pixels.

    Args:
        pooled_size: output grid ``(PH, PW)`` or one int (7 box head, 14 mask head).
        spatial_scale: feature cells per input pixel.
        sampling_ratio: bilinear sampling points per bin side (>= 1).
        aligned: half-pixel correction (Detectron2 ``ROIAlignV2``); False = original Mask R-CNN.

    Example:
        >>> crops = RoIAlign(14, spatial_scale=1 / 16, sampling_ratio=2)([c4, rois])  # [R, 14, 14, C]
    """

    def __init__(
        self,
        pooled_size: int | tuple[int, int] = 7,
        spatial_scale: float = 1.0 / 16,
        sampling_ratio: int = 2,
        aligned: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.pooled_size = _pair(pooled_size, "pooled_size")
        if not spatial_scale > 0:
            raise ValueError(f"spatial_scale must be positive, got {spatial_scale}")
        if int(sampling_ratio) < 1:
            raise ValueError(f"sampling_ratio must be >= 1, got {sampling_ratio}")
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)

    def call(self, inputs: Any) -> Any:
        features, rois = inputs
        return roi_align(
            features, rois, self.pooled_size, self.spatial_scale, self.sampling_ratio, self.aligned
        )

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        feat, rois = input_shape
        return (rois[0], *self.pooled_size, feat[-1])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pooled_size": self.pooled_size,
            "spatial_scale": self.spatial_scale,
            "sampling_ratio": self.sampling_ratio,
            "aligned": self.aligned,
        }


def spatial_pyramid_pool(
    features: Any,
    rois: Any = None,
    levels: tuple[int, ...] = (1, 2, 4),
    spatial_scale: float = 1.0,
) -> Any:
    """SPP-net pyramid max pooling of the whole map, or of each RoI's window on it (SPP-net's detector).

    Level ``n`` splits the region into ``n x n`` bins by the RoI pooling rule (``roi_pool``) and
    max-pools each; the levels are concatenated (order: level, row-major bin, channel).

    Args:
        features: ``[B, H, W, C]`` feature map (static ``H``, ``W``).
        rois: None (the whole map of every image: ``[B, ...]`` out) or ``[R, 5]`` rows
            ``(batch_index, x1, y1, x2, y2)`` in input pixels (``[R, ...]`` out).
        levels: pyramid grid sizes.
        spatial_scale: feature cells per input pixel (ignored for the whole map).

    Returns:
        ``[B or R, C * sum(n * n for n in levels)]``.

    Example:
        >>> spatial_pyramid_pool(np.ones((1, 6, 6, 8), "float32"), np.array([[0, 0, 0, 47, 47.]]), (1, 2), 1 / 16)
    """
    features = ops.convert_to_tensor(features)
    if rois is None:
        height, width = _static_hw(features, "SpatialPyramidPooling")
        idx = ops.cast(ops.arange(ops.shape(features)[0]), "float32")[:, None]
        zero = ops.zeros_like(idx)
        rois = ops.concatenate(
            [idx, zero, zero, ops.full_like(idx, width - 1.0), ops.full_like(idx, height - 1.0)], axis=1
        )
        spatial_scale = 1.0
    rois = ops.cast(ops.convert_to_tensor(rois), "float32")
    channels = features.shape[-1]
    parts = [ops.reshape(roi_pool(features, rois, n, spatial_scale), (-1, n * n * channels)) for n in levels]
    return ops.concatenate(parts, axis=1)


@keras.saving.register_keras_serializable(package="zoo")
class SpatialPyramidPooling(keras.layers.Layer):
    """SPP-net pyramid max pooling: ``[B, H, W, C] -> [B, C * sum(n * n for n in levels)]``, or of
    each RoI's window: ``[features, rois [R, 5]] -> [R, C * sum(n * n)]`` (SPP-net's detector).

    Level ``n`` splits the whole map (or the window) into ``n x n`` bins, bin ``i`` covering cells
    ``[floor(i * H / n), ceil((i + 1) * H / n))`` (the RoI pooling rule, ``roi_pool``), max-pooled.
    Output order: level, then row-major bin, then channel.

    Args:
        levels: pyramid grid sizes, default ``(1, 2, 4)`` (21 bins).
        spatial_scale: feature cells per input pixel, for RoI windows (1/16 for VGG16 conv5_3).

    Example:
        >>> SpatialPyramidPooling((1, 2, 4))(keras.Input((13, 13, 256))).shape
        (None, 5376)
        >>> SpatialPyramidPooling((1, 2, 4), 1 / 16)([features, rois])  # [R, 21 * C]
    """

    def __init__(self, levels: tuple[int, ...] = (1, 2, 4), spatial_scale: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        levels = tuple(int(n) for n in levels)
        if not levels or min(levels) < 1:
            raise ValueError(f"levels must be positive ints, got {levels!r}")
        self.levels = levels
        self.spatial_scale = float(spatial_scale)

    def call(self, inputs: Any) -> Any:
        if isinstance(inputs, (list, tuple)):
            features, rois = inputs
            _check_rois(ops.convert_to_tensor(rois), "SpatialPyramidPooling")
            return spatial_pyramid_pool(features, rois, self.levels, self.spatial_scale)
        return spatial_pyramid_pool(inputs, None, self.levels)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            return (input_shape[1][0], input_shape[0][-1] * sum(n * n for n in self.levels))
        return (input_shape[0], input_shape[-1] * sum(n * n for n in self.levels))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "levels": self.levels, "spatial_scale": self.spatial_scale}


def _bilinear_sample(table: Any, base: Any, height: Any, width: Any, ys: Any, xs: Any) -> Any:
    """Bilinear samples of a flattened feature table at per-RoI grid points (``roi_align``'s rule).

    Args:
        table: [N, C] feature vectors; the map of RoI r starts at row ``base[r]`` and is
            ``height[r] x width[r]`` cells, row-major.
        base, height, width: [R] int32.
        ys: [R, P] and xs: [R, Q] sample coordinates in cells of that map.

    Returns:
        [R, P, Q, C]; a point outside (-1, size] contributes 0.
    """
    hf = ops.cast(height, "float32")[:, None]
    wf = ops.cast(width, "float32")[:, None]

    def corners(coord: Any, size_f: Any) -> tuple[Any, Any, Any, Any]:
        ok = ops.logical_and(coord >= -1.0, coord <= size_f)
        c = ops.maximum(coord, 0.0)
        low = ops.floor(c)
        at_end = low >= size_f - 1.0
        low = ops.where(at_end, size_f - 1.0, low)
        high = ops.where(at_end, low, low + 1.0)
        c = ops.where(at_end, low, c)
        return ops.cast(low, "int32"), ops.cast(high, "int32"), c - low, ok

    y_lo, y_hi, ly, y_ok = corners(ys, hf)
    x_lo, x_hi, lx, x_ok = corners(xs, wf)
    ok = ops.cast(ops.logical_and(y_ok[:, :, None], x_ok[:, None, :]), "float32")
    w = ops.cast(width, "int32")[:, None, None]
    b = ops.cast(base, "int32")[:, None, None]
    r, p, q = ops.shape(ys)[0], ys.shape[1], xs.shape[1]
    out = None
    for yy, wy in ((y_lo, 1.0 - ly), (y_hi, ly)):
        for xx, wx in ((x_lo, 1.0 - lx), (x_hi, lx)):
            index = ops.reshape(b + yy[:, :, None] * w + xx[:, None, :], (-1,))
            weight = (wy[:, :, None] * wx[:, None, :] * ok)[..., None]
            values = ops.reshape(ops.take(table, index, axis=0), (r, p, q, table.shape[-1]))
            out = values * weight if out is None else out + values * weight
    return out


def fpn_levels(
    boxes: Any,
    min_level: int = 2,
    max_level: int = 5,
    canonical_scale: float = 224.0,
    canonical_level: int = 4,
) -> Any:
    """Pyramid level of each box by Lin et al. (FPN) eq. 1, as torchvision's ``LevelMapper``.

    ``k = floor(k0 + log2(sqrt(w h) / 224) + 1e-6)`` clamped to ``[min_level, max_level]``.

    Args:
        boxes: [..., 4] xyxy pixels.

    Returns:
        [...] int32 levels (``min_level`` .. ``max_level``).

    Example:
        >>> fpn_levels(np.array([[0, 0, 224, 224], [0, 0, 32, 32]], "float32"))  # -> [4, 2]
    """
    boxes = ops.cast(ops.convert_to_tensor(boxes), "float32")
    area = ops.maximum(boxes[..., 2] - boxes[..., 0], 0.0) * ops.maximum(boxes[..., 3] - boxes[..., 1], 0.0)
    scale = ops.sqrt(area)
    level = ops.floor(canonical_level + ops.log(scale / canonical_scale) / math.log(2.0) + 1e-6)
    level = ops.where(scale > 0, level, float(min_level))
    return ops.cast(ops.clip(level, float(min_level), float(max_level)), "int32")


def multiscale_roi_align(
    features: list[Any],
    rois: Any,
    pooled_size: int | tuple[int, int] = 7,
    spatial_scales: tuple[float, ...] = (1 / 4, 1 / 8, 1 / 16, 1 / 32),
    sampling_ratio: int = 2,
    min_level: int = 2,
    canonical_scale: float = 224.0,
    canonical_level: int = 4,
    aligned: bool = False,
) -> Any:
    """RoIAlign of each RoI on the pyramid level that ``fpn_levels`` assigns it (torchvision's
    ``MultiScaleRoIAlign``: ``aligned=False``, sampling ratio 2, levels 2-5 for P2-P5).

    Every RoI is sampled once, on its own level: the levels are flattened into one table and the
    bilinear corners gathered from it, so the cost does not grow with the number of levels.

    Args:
        features: per level ``[B, H_l, W_l, C]`` (finest first; static H, W).
        rois: ``[R, 5]`` = ``(batch_index, x1, y1, x2, y2)`` in input pixels.
        pooled_size: output grid.
        spatial_scales: cells per input pixel of each level (1/4 for P2 ...).
        sampling_ratio: bilinear points per bin side (>= 1).
        min_level: the level of ``features[0]`` (2 for P2).
        canonical_scale, canonical_level: eq. 1's 224 and k0 = 4.
        aligned: half-pixel offset (Detectron2's RoIAlignV2); torchvision's FPN models use False.

    Returns:
        ``[R, PH, PW, C]``.

    Example:
        >>> pooled = multiscale_roi_align([p2, p3, p4, p5], rois, 7)  # [R, 7, 7, 256]
    """
    ph_n, pw_n = _pair(pooled_size, "pooled_size")
    s = int(sampling_ratio)
    if s < 1:
        raise ValueError(f"sampling_ratio must be >= 1, got {sampling_ratio}")
    if len(features) != len(spatial_scales) or not features:
        raise ValueError(
            f"multiscale_roi_align needs one spatial scale per feature map, got {len(features)} maps and "
            f"{len(spatial_scales)} scales"
        )
    rois = ops.cast(ops.convert_to_tensor(rois), "float32")
    _check_rois(rois, "MultiScaleRoIAlign")
    channels = features[0].shape[-1]
    batch = ops.shape(features[0])[0]
    sizes = [_static_hw(f, "MultiScaleRoIAlign") for f in features]
    tables, offsets, start = [], [], 0
    for f, (h, w) in zip(features, sizes):
        if f.shape[-1] != channels:
            raise ValueError("multiscale_roi_align: every level must have the same number of channels")
        tables.append(ops.reshape(ops.cast(f, "float32"), (-1, channels)))
        offsets.append(start)
        start = start + batch * (h * w)
    table = ops.concatenate(tables, axis=0)
    max_level = min_level + len(features) - 1
    level = fpn_levels(rois[:, 1:], min_level, max_level, canonical_scale, canonical_level) - min_level
    pick = lambda values: ops.take(ops.convert_to_tensor(values), level, axis=0)  # noqa: E731
    offsets_t = ops.cast(ops.stack([ops.convert_to_tensor(o) for o in offsets]), "int32")
    heights = pick(np.array([h for h, _ in sizes], "int32"))
    widths = pick(np.array([w for _, w in sizes], "int32"))
    scale = pick(np.array(spatial_scales, "float32"))
    base = ops.take(offsets_t, level, axis=0) + ops.cast(rois[:, 0], "int32") * heights * widths
    ys, xs = _sample_grid(rois, scale, ph_n, pw_n, s, aligned)
    samples = _bilinear_sample(table, base, heights, widths, ys, xs)
    return ops.mean(ops.reshape(samples, (-1, ph_n, s, pw_n, s, channels)), axis=(2, 4))


@keras.saving.register_keras_serializable(package="zoo")
class MultiScaleRoIAlign(keras.layers.Layer):
    """FPN RoIAlign layer: ``[features_0, ..., features_L, rois] -> [R, PH, PW, C]`` (see
    :func:`multiscale_roi_align`; each RoI pooled on its eq.-1 level).

    Args:
        pooled_size: output grid (7 box head, 14 mask and keypoint heads).
        spatial_scales: cells per input pixel of each level, finest first.
        sampling_ratio, min_level, canonical_scale, canonical_level, aligned: as the function.

    Example:
        >>> pooled = MultiScaleRoIAlign(7)([p2, p3, p4, p5, rois])
    """

    def __init__(
        self,
        pooled_size: int | tuple[int, int] = 7,
        spatial_scales: tuple[float, ...] = (1 / 4, 1 / 8, 1 / 16, 1 / 32),
        sampling_ratio: int = 2,
        min_level: int = 2,
        canonical_scale: float = 224.0,
        canonical_level: int = 4,
        aligned: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.pooled_size = _pair(pooled_size, "pooled_size")
        self.spatial_scales = tuple(float(v) for v in spatial_scales)
        if not self.spatial_scales or min(self.spatial_scales) <= 0:
            raise ValueError(f"spatial_scales must be positive, got {spatial_scales!r}")
        if int(sampling_ratio) < 1:
            raise ValueError(f"sampling_ratio must be >= 1, got {sampling_ratio}")
        self.sampling_ratio = int(sampling_ratio)
        self.min_level = int(min_level)
        self.canonical_scale = float(canonical_scale)
        self.canonical_level = int(canonical_level)
        self.aligned = bool(aligned)

    def call(self, inputs: Any) -> Any:
        *features, rois = inputs
        return multiscale_roi_align(
            list(features),
            rois,
            self.pooled_size,
            self.spatial_scales,
            self.sampling_ratio,
            self.min_level,
            self.canonical_scale,
            self.canonical_level,
            self.aligned,
        )

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[-1][0], *self.pooled_size, input_shape[0][-1])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pooled_size": self.pooled_size,
            "spatial_scales": self.spatial_scales,
            "sampling_ratio": self.sampling_ratio,
            "min_level": self.min_level,
            "canonical_scale": self.canonical_scale,
            "canonical_level": self.canonical_level,
            "aligned": self.aligned,
        }


def _ps_bin_edges(
    rois: Any, pooled: tuple[int, int], spatial_scale: float, size: tuple[int, int], torchvision_clip: bool
) -> tuple[Any, Any, Any, Any]:
    """Integer cell edges (h0, h1 [R, PH]; w0, w1 [R, PW]) of each position-sensitive bin, ``[lo, hi)``."""
    x1 = _round_half_away(rois[:, 1] * spatial_scale)
    y1 = _round_half_away(rois[:, 2] * spatial_scale)
    roi_w = ops.maximum(_round_half_away(rois[:, 3] * spatial_scale) - x1, 1.0)
    roi_h = ops.maximum(_round_half_away(rois[:, 4] * spatial_scale) - y1, 1.0)

    def edges(start: Any, extent: Any, n: int, limit: int) -> tuple[Any, Any]:
        # exact integer floor(i * extent / n) and ceil((i + 1) * extent / n): no float rounding per backend
        i = ops.arange(n, dtype="int32")[None, :]
        start, extent = ops.cast(start, "int32")[:, None], ops.cast(extent, "int32")[:, None]
        lo = ops.clip(ops.floor_divide(i * extent, n) + start, 0, limit)
        hi = ops.clip(-ops.floor_divide(-(i + 1) * extent, n) + start, 0, limit)
        return lo, hi  # [R, n]

    cut = 1 if torchvision_clip else 0
    h0, h1 = edges(y1, roi_h, pooled[0], size[0] - cut)
    w0, w1 = edges(x1, roi_w, pooled[1], size[1] - cut)
    return h0, h1, w0, w1


def ps_roi_covered(
    rois: Any,
    feature_size: tuple[int, int],
    pooled_size: int | tuple[int, int] = 3,
    spatial_scale: float = 1.0 / 16,
    torchvision_clip: bool = False,
) -> Any:
    """Which RoIs have at least one non-empty bin under :func:`ps_roi_pool`'s rule: ``[R]`` bool.

    An RoI whose every bin is empty (e.g. a thin box on the image's right or bottom edge, whose
    rounded start falls on the map's border) pools all zeros, whatever the score maps hold: its
    averaged votes are 0 for every class, a uniform softmax no training can change.

    Example:
        >>> ps_roi_covered(np.array([[0, 0, 0, 32, 32], [0, 90, 0, 96, 96]], "float32"), (6, 6))
        # -> [True, False]: the second box starts at cell round(90 / 16) = 6, outside the 6 x 6 map
    """
    ph_n, pw_n = _pair(pooled_size, "pooled_size")
    rois = ops.cast(ops.convert_to_tensor(rois), "float32")
    _check_rois(rois, "ps_roi_covered")
    h0, h1, w0, w1 = _ps_bin_edges(rois, (ph_n, pw_n), spatial_scale, tuple(feature_size), torchvision_clip)
    return ops.any(h1 > h0, axis=1) & ops.any(w1 > w0, axis=1)


def ps_roi_pool(
    features: Any,
    rois: Any,
    pooled_size: int | tuple[int, int] = 3,
    spatial_scale: float = 1.0 / 16,
    torchvision_clip: bool = False,
) -> Any:
    """R-FCN position-sensitive RoI average pooling (torchvision ``ps_roi_pool``'s bin rule).

    Args:
        features: ``[B, H, W, C * PH * PW]`` score maps (static ``H``, ``W``); channel
            ``(c * PH + ph) * PW + pw`` belongs to output channel ``c`` and bin ``(ph, pw)``.
        rois: ``[R, 5]`` rows ``(batch_index, x1, y1, x2, y2)``, boxes xyxy in input pixels.
        pooled_size: bins ``(PH, PW)`` or one int (``k``; 3 in R-FCN, 7 in its ResNet-101 model).
        spatial_scale: feature cells per input pixel.
        torchvision_clip: clip bin edges to ``H - 1`` / ``W - 1`` as ``torchvision.ops.ps_roi_pool``
            (for parity with it); False (default) lets bins reach the map's last row and column.

    Returns:
        ``[R, PH, PW, C]``: each bin averaged over its own channel group.

    Example:
        >>> maps = np.ones((1, 8, 8, 2 * 3 * 3), "float32")
        >>> ps_roi_pool(maps, np.array([[0, 0, 0, 64, 64]], "float32"), 3, 1 / 8).shape
        (1, 3, 3, 2)
    """
    ph_n, pw_n = _pair(pooled_size, "pooled_size")
    features = ops.convert_to_tensor(features)
    rois = ops.cast(ops.convert_to_tensor(rois), "float32")
    _check_rois(rois, "PSRoIPooling")
    height, width = _static_hw(features, "PSRoIPooling")
    total = features.shape[-1]
    if total is None or total % (ph_n * pw_n):
        raise ValueError(
            f"PSRoIPooling needs C * {ph_n} * {pw_n} input channels (one score map per output channel "
            f"and bin); got {total}. Give the score-map convolution k * k * C filters."
        )
    channels = total // (ph_n * pw_n)

    batch_idx = ops.cast(rois[:, 0], "int32")
    h0, h1, w0, w1 = _ps_bin_edges(rois, (ph_n, pw_n), spatial_scale, (height, width), torchvision_clip)

    # Integral image with a zero first row/column: sum of [y0, y1) x [x0, x1) from four corners.
    x = ops.cast(features, "float32")
    integral = ops.cumsum(ops.cumsum(x, axis=1), axis=2)
    integral = ops.pad(integral, [[0, 0], [1, 0], [1, 0], [0, 0]])
    # [B, H+1, W+1, C, PH, PW] -> [B, H+1, W+1, PH, PW, C], flattened to rows of C
    integral = ops.reshape(integral, (-1, height + 1, width + 1, channels, ph_n, pw_n))
    flat = ops.reshape(ops.transpose(integral, (0, 1, 2, 4, 5, 3)), (-1, channels))
    ph = ops.arange(ph_n, dtype="int32")[None, :, None]
    pw = ops.arange(pw_n, dtype="int32")[None, None, :]
    base = batch_idx[:, None, None] * (height + 1)

    def gather(rows: Any, cols: Any) -> Any:
        idx = (((base + rows[:, :, None]) * (width + 1) + cols[:, None, :]) * ph_n + ph) * pw_n + pw
        return ops.reshape(ops.take(flat, ops.reshape(idx, (-1,)), axis=0), (-1, ph_n, pw_n, channels))

    sums = gather(h1, w1) - gather(h0, w1) - gather(h1, w0) + gather(h0, w0)
    area = ops.cast((h1 - h0)[:, :, None] * (w1 - w0)[:, None, :], "float32")[..., None]
    return ops.where(area > 0, sums / ops.maximum(area, 1.0), ops.zeros_like(sums))


@keras.saving.register_keras_serializable(package="zoo")
class PSRoIPooling(keras.layers.Layer):
    """R-FCN position-sensitive RoI average pooling: ``[score_maps, rois] -> [R, PH, PW, C]``.

    ``score_maps`` has ``C * PH * PW`` channels; ``rois`` is ``[R, 5]`` =
    ``(batch_index, x1, y1, x2, y2)``, boxes xyxy in input-image pixels (see :func:`ps_roi_pool`).
    R-FCN's "voting" is the mean of the output over ``(PH, PW)``.

    Args:
        pooled_size: bins ``k x k`` (or ``(PH, PW)``), 3 by default.
        spatial_scale: feature cells per input pixel (1/16 for a stride-16 body).
        torchvision_clip: torchvision's bin clipping (see :func:`ps_roi_pool`).

    Example:
        >>> votes = PSRoIPooling(3, 1 / 16)([cls_maps, rois])  # [R, 3, 3, num_classes]
        >>> logits = keras.ops.mean(votes, axis=(1, 2))
    """

    def __init__(
        self,
        pooled_size: int | tuple[int, int] = 3,
        spatial_scale: float = 1.0 / 16,
        torchvision_clip: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.pooled_size = _pair(pooled_size, "pooled_size")
        if not spatial_scale > 0:
            raise ValueError(f"spatial_scale must be positive, got {spatial_scale}")
        self.spatial_scale = float(spatial_scale)
        self.torchvision_clip = bool(torchvision_clip)

    def call(self, inputs: Any) -> Any:
        features, rois = inputs
        return ps_roi_pool(features, rois, self.pooled_size, self.spatial_scale, self.torchvision_clip)

    def covered(self, rois: Any, feature_size: tuple[int, int]) -> Any:
        """``[R]`` bool: the RoIs with at least one non-empty bin (:func:`ps_roi_covered`)."""
        return ps_roi_covered(rois, feature_size, self.pooled_size, self.spatial_scale, self.torchvision_clip)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        feat, rois = input_shape
        groups = self.pooled_size[0] * self.pooled_size[1]
        return (rois[0], *self.pooled_size, None if feat[-1] is None else feat[-1] // groups)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pooled_size": self.pooled_size,
            "spatial_scale": self.spatial_scale,
            "torchvision_clip": self.torchvision_clip,
        }
