"""RoI pooling / RoIAlign / SPP against direct NumPy loops written from the papers' reference code."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from zoo.layers.roi import RoIAlign, RoIPooling, SpatialPyramidPooling


def _c_round(v: float) -> int:
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


def np_roi_pool(feat, rois, ph, pw, scale):
    """Fast R-CNN Caffe roi_pooling_layer forward, one loop per RoI / bin / cell."""
    _, h, w, c = feat.shape
    out = np.zeros((len(rois), ph, pw, c), np.float32)
    for r, (b, x1, y1, x2, y2) in enumerate(rois):
        sw, sh, ew, eh = (_c_round(v * scale) for v in (x1, y1, x2, y2))
        rw, rh = max(ew - sw + 1, 1), max(eh - sh + 1, 1)
        bh, bw = rh / ph, rw / pw
        for i in range(ph):
            for j in range(pw):
                hs = min(max(int(math.floor(i * bh)) + sh, 0), h)
                he = min(max(int(math.ceil((i + 1) * bh)) + sh, 0), h)
                ws = min(max(int(math.floor(j * bw)) + sw, 0), w)
                we = min(max(int(math.ceil((j + 1) * bw)) + sw, 0), w)
                if he <= hs or we <= ws:
                    continue
                best = np.full((c,), -np.inf, np.float32)
                for y in range(hs, he):
                    for x in range(ws, we):
                        best = np.maximum(best, feat[int(b), y, x])
                out[r, i, j] = best
    return out


def _bilinear(img, y, x):
    h, w, _ = img.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return np.zeros(img.shape[-1], np.float32)
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return (
        (1 - ly) * (1 - lx) * img[y0, x0]
        + (1 - ly) * lx * img[y0, x1]
        + ly * (1 - lx) * img[y1, x0]
        + ly * lx * img[y1, x1]
    )


def np_roi_align(feat, rois, ph, pw, scale, ratio, aligned):
    """Detectron/torchvision roi_align forward with a fixed sampling ratio."""
    out = np.zeros((len(rois), ph, pw, feat.shape[-1]), np.float32)
    off = 0.5 if aligned else 0.0
    for r, (b, x1, y1, x2, y2) in enumerate(rois):
        sx, sy = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sx, y2 * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        for i in range(ph):
            for j in range(pw):
                acc = np.zeros(feat.shape[-1], np.float64)
                for iy in range(ratio):
                    y = sy + i * bh + (iy + 0.5) * bh / ratio
                    for ix in range(ratio):
                        x = sx + j * bw + (ix + 0.5) * bw / ratio
                        acc += _bilinear(feat[int(b)], y, x)
                out[r, i, j] = acc / (ratio * ratio)
    return out


def _rois(rng, n, size, batch):
    """Random boxes plus hand-picked ones: at every border, beyond it, tiny (smaller than a bin), degenerate."""
    pts = rng.uniform(-10, size + 10, (n, 4))
    boxes = np.concatenate([np.minimum(pts[:, :2], pts[:, 2:]), np.maximum(pts[:, :2], pts[:, 2:])], 1)
    special = np.array(
        [
            [0, 0, size - 1, size - 1],
            [0, 0, size, size],
            [size - 9, size - 9, size + 20, size + 20],
            [-30, -30, 5, 5],
            [10.2, 11.7, 12.1, 12.9],  # far smaller than one bin
            [20, 20, 20, 20],  # a point
            [3.5, 7.5, 27.5, 8.5],  # exact halves (round-half-away)
            [size + 5, size + 5, size + 30, size + 30],  # outside
        ],
        np.float64,
    )
    boxes = np.concatenate([boxes, special], 0)
    idx = rng.integers(0, batch, (len(boxes), 1))
    return np.concatenate([idx, boxes], 1).astype(np.float32)


@pytest.mark.parametrize("pooled", [pytest.param((2, 3), marks=pytest.mark.multibackend), (7, 7)])
def test_roi_pool_matches_numpy_reference(pooled):
    rng = np.random.default_rng(0)
    feat = rng.normal(size=(2, 9, 11, 3)).astype(np.float32)
    rois = _rois(rng, 20, 64, 2)
    got = keras.ops.convert_to_numpy(RoIPooling(pooled, spatial_scale=1 / 8)([feat, rois]))
    want = np_roi_pool(feat, rois, *pooled, 1 / 8)
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize(
    "ratio,aligned",
    [pytest.param(2, True, marks=pytest.mark.multibackend), (1, True), (2, False), (1, False)],
)
def test_roi_align_matches_numpy_reference(ratio, aligned):
    rng = np.random.default_rng(1)
    feat = rng.normal(size=(2, 9, 11, 3)).astype(np.float32)
    rois = _rois(rng, 20, 64, 2)
    got = keras.ops.convert_to_numpy(RoIAlign((3, 4), 1 / 8, ratio, aligned)([feat, rois]))
    want = np_roi_align(feat, rois, 3, 4, 1 / 8, ratio, aligned)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_spp_matches_adaptive_max_pool():
    rng = np.random.default_rng(2)
    feat = rng.normal(size=(2, 13, 10, 4)).astype(np.float32)
    got = keras.ops.convert_to_numpy(SpatialPyramidPooling((1, 2, 4))(feat))
    parts = []
    for n in (1, 2, 4):
        level = np.zeros((2, n, n, 4), np.float32)
        for i in range(n):
            for j in range(n):
                ys = slice(math.floor(i * 13 / n), math.ceil((i + 1) * 13 / n))
                xs = slice(math.floor(j * 10 / n), math.ceil((j + 1) * 10 / n))
                level[:, i, j] = feat[:, ys, xs].max(axis=(1, 2))
        parts.append(level.reshape(2, -1))
    np.testing.assert_allclose(got, np.concatenate(parts, 1), atol=1e-6)
    assert got.shape == (2, 21 * 4)


@pytest.mark.multibackend
def test_spp_of_roi_windows_matches_numpy_roi_pool_levels():
    """SPP-net's detector: each window pooled at every level by the Caffe RoI pooling rule (NumPy loops)."""
    rng = np.random.default_rng(3)
    feat = rng.normal(size=(2, 7, 9, 3)).astype(np.float32)
    rois = _rois(rng, 12, 120, 2)
    layer = SpatialPyramidPooling((1, 2, 3), spatial_scale=1 / 16)
    got = keras.ops.convert_to_numpy(layer([feat, rois]))
    want = np.concatenate(
        [np_roi_pool(feat, rois, n, n, 1 / 16).reshape(len(rois), -1) for n in (1, 2, 3)], axis=1
    )
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert layer.compute_output_shape([(2, 7, 9, 3), (12, 5)]) == (12, 14 * 3)
    assert SpatialPyramidPooling.from_config(layer.get_config()).spatial_scale == 1 / 16


def _grad_norms(layer, feat, rois):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(feat)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer([x, rois]) ** 2)
        return tape.gradient(y, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.jit(jax.grad(lambda x: (layer([x, rois]) ** 2).sum()))(feat))
    pytest.skip(f"no gradient check for backend {backend}")


@pytest.mark.multibackend
@pytest.mark.parametrize("layer", [RoIPooling(2, 1 / 4), RoIAlign(2, 1 / 4, 2)], ids=["pool", "align"])
def test_gradients_reach_the_features_inside_the_roi(layer):
    rng = np.random.default_rng(3)
    feat = rng.normal(size=(2, 8, 8, 2)).astype(np.float32)
    rois = np.array([[1, 4, 4, 20, 20]], np.float32)
    grad = _grad_norms(layer, feat, rois)
    assert np.all(np.isfinite(grad))
    assert np.abs(grad[1]).sum() > 0  # the RoI's image gets gradient
    assert np.abs(grad[0]).sum() == 0  # the other image none
    assert np.abs(grad[1, 6:, 6:]).sum() == 0  # nothing outside the box


@pytest.mark.multibackend
def test_roi_align_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    feat = rng.normal(size=(1, 6, 6, 1)).astype(np.float32)
    rois = np.array([[0, 3.3, 5.1, 17.9, 20.2]], np.float32)
    layer = RoIAlign(2, 1 / 4, 2)
    grad = _grad_norms(layer, feat, rois)
    eps = 1e-2
    num = np.zeros_like(feat)
    for y in range(6):
        for x in range(6):
            d = np.zeros_like(feat)
            d[0, y, x, 0] = eps
            hi = (np_roi_align(feat + d, rois, 2, 2, 1 / 4, 2, True) ** 2).sum()
            lo = (np_roi_align(feat - d, rois, 2, 2, 1 / 4, 2, True) ** 2).sum()
            num[0, y, x, 0] = (hi - lo) / (2 * eps)
    np.testing.assert_allclose(grad, num, atol=1e-2)


def test_bad_inputs_raise_clear_errors():
    feat = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="rois of shape"):
        RoIPooling(2)([feat, np.zeros((3, 4), np.float32)])
    with pytest.raises(ValueError, match="sampling_ratio"):
        RoIAlign(2, sampling_ratio=0)
    with pytest.raises(ValueError, match="pooled_size"):
        RoIPooling(0)


@pytest.mark.parametrize(
    "layer",
    [RoIPooling((3, 2), 0.25, name="pool"), RoIAlign(3, 0.25, 1, False, name="align")],
    ids=["pool", "align"],
)
def test_save_load_round_trip(tmp_path, layer):
    feat_in = keras.Input((8, 8, 2), batch_size=2)
    rois_in = keras.Input((5,), batch_size=4)
    model = keras.Model([feat_in, rois_in], layer([feat_in, rois_in]))
    rng = np.random.default_rng(5)
    feat = rng.normal(size=(2, 8, 8, 2)).astype(np.float32)
    rois = _rois(rng, 4, 32, 2)[:4]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[-1].get_config() == model.layers[-1].get_config()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded([feat, rois])), keras.ops.convert_to_numpy(model([feat, rois]))
    )


def test_spp_save_load_round_trip(tmp_path):
    inp = keras.Input((7, 9, 3))
    model = keras.Model(inp, SpatialPyramidPooling((1, 3))(inp))
    assert model.output.shape == (None, 30)
    x = np.random.default_rng(6).normal(size=(2, 7, 9, 3)).astype(np.float32)
    model.save(tmp_path / "spp.keras")
    loaded = keras.models.load_model(tmp_path / "spp.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
