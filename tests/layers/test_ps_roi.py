"""Position-sensitive RoI pooling (R-FCN) against a direct NumPy loop over RoIs, bins and cells."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from tests.layers.test_roi import _c_round, _rois
from zoo.layers.roi import PSRoIPooling


def _bins(roi, ph, pw, h, w, scale, tv_clip=False):
    """torchvision ps_roi_pool_kernel: rounded corners, max(end - start, 1) cells, floor/ceil bins,
    clipped to [0, H] (R-FCN's Caffe layer) or, as torchvision, to [0, H - 1]."""
    h, w = (h - 1, w - 1) if tv_clip else (h, w)
    _, x1, y1, x2, y2 = roi
    sw, sh, ew, eh = (_c_round(v * scale) for v in (x1, y1, x2, y2))
    rw, rh = max(ew - sw, 1), max(eh - sh, 1)
    bh, bw = rh / ph, rw / pw
    for i in range(ph):
        for j in range(pw):
            hs = min(max(int(math.floor(i * bh)) + sh, 0), h)
            he = min(max(int(math.ceil((i + 1) * bh)) + sh, 0), h)
            ws = min(max(int(math.floor(j * bw)) + sw, 0), w)
            we = min(max(int(math.ceil((j + 1) * bw)) + sw, 0), w)
            yield i, j, hs, he, ws, we


def np_ps_roi_pool(feat, rois, ph, pw, scale, tv_clip=False):
    _, h, w, total = feat.shape
    c_out = total // (ph * pw)
    out = np.zeros((len(rois), ph, pw, c_out), np.float64)
    for r, roi in enumerate(rois):
        for i, j, hs, he, ws, we in _bins(roi, ph, pw, h, w, scale, tv_clip):
            if he <= hs or we <= ws:
                continue
            for c in range(c_out):
                out[r, i, j, c] = feat[int(roi[0]), hs:he, ws:we, (c * ph + i) * pw + j].mean()
    return out


def np_ps_roi_pool_grad(feat, rois, ph, pw, scale, upstream):
    """d sum(out * upstream) / d feat: each bin spreads its upstream value / area over its cells."""
    _, h, w, total = feat.shape
    grad = np.zeros_like(feat, np.float64)
    for r, roi in enumerate(rois):
        for i, j, hs, he, ws, we in _bins(roi, ph, pw, h, w, scale):
            if he <= hs or we <= ws:
                continue
            area = (he - hs) * (we - ws)
            for c in range(total // (ph * pw)):
                grad[int(roi[0]), hs:he, ws:we, (c * ph + i) * pw + j] += upstream[r, i, j, c] / area
    return grad


@pytest.mark.parametrize(
    "pooled,tv_clip",
    [pytest.param((3, 3), False, marks=pytest.mark.multibackend), ((2, 4), False), ((3, 3), True)],
)
def test_ps_roi_pool_matches_numpy_reference(pooled, tv_clip):
    rng = np.random.default_rng(0)
    feat = rng.normal(size=(2, 9, 11, 3 * pooled[0] * pooled[1])).astype(np.float32)
    rois = _rois(rng, 20, 64, 2)
    got = keras.ops.convert_to_numpy(PSRoIPooling(pooled, 1 / 8, tv_clip)([feat, rois]))
    np.testing.assert_allclose(got, np_ps_roi_pool(feat, rois, *pooled, 1 / 8, tv_clip), atol=1e-5)


@pytest.mark.multibackend
def test_ps_roi_pool_gradient_matches_numpy_reference():
    rng = np.random.default_rng(1)
    feat = rng.normal(size=(2, 7, 8, 2 * 9)).astype(np.float32)
    rois = _rois(rng, 6, 48, 2)
    upstream = rng.normal(size=(len(rois), 3, 3, 2)).astype(np.float32)
    layer = PSRoIPooling(3, 1 / 8)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        x = tf.constant(feat)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer([x, rois]) * upstream)
        grad = tape.gradient(y, x).numpy()
    elif keras.backend.backend() == "jax":
        import jax

        grad = np.asarray(jax.grad(lambda x: (layer([x, rois]) * upstream).sum())(feat))
    else:
        pytest.fail(f"no gradient check written for backend {keras.backend.backend()}")
    want = np_ps_roi_pool_grad(feat, rois, 3, 3, 1 / 8, upstream)
    assert np.abs(want).sum() > 0
    np.testing.assert_allclose(grad, want, atol=1e-5)


def test_ps_roi_pool_bad_channels_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="C \\* 3 \\* 3"):
        PSRoIPooling(3)([np.zeros((1, 4, 4, 10), "float32"), np.zeros((1, 5), "float32")])
    maps = keras.Input((6, 6, 18))
    rois = keras.Input((5,), batch_size=4)
    model = keras.Model([maps, rois], PSRoIPooling(3, 1 / 4, name="psroi")([maps, rois]))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer("psroi").pooled_size == (3, 3)
    assert loaded.get_layer("psroi").spatial_scale == 0.25
    assert tuple(loaded.output.shape) == (4, 3, 3, 2)


def test_ps_roi_covered_marks_rois_with_no_nonempty_bin():
    rng = np.random.default_rng(2)
    rois = np.concatenate(
        [
            _rois(rng, 12, 64, 1),
            # thin boxes on the right / bottom edge: rounded starts on the 8 x 8 map's border
            np.array([[0, 60, 5, 64, 40], [0, 5, 61, 30, 64], [0, 63, 63, 64, 64]], np.float32),
        ]
    )
    for tv_clip in (False, True):
        want = [
            any(he > hs and we > ws for _, _, hs, he, ws, we in _bins(r, 3, 3, 8, 8, 1 / 8, tv_clip))
            for r in rois
        ]
        got = keras.ops.convert_to_numpy(PSRoIPooling(3, 1 / 8, tv_clip).covered(rois, (8, 8)))
        np.testing.assert_array_equal(got, want)
        assert not got[-3:].any() and got.sum() > 0
