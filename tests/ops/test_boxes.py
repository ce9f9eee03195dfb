"""Tests of zoo.ops.boxes against hand-computed values and NumPy references."""

import math

import keras
import numpy as np
import pytest

from zoo.ops import boxes as B


def np_iou(a, b):
    """Plain NumPy reference IoU (loops)."""
    out = np.zeros((len(a), len(b)), np.float64)
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = iw * ih
            ua = (
                max(0.0, p[2] - p[0]) * max(0.0, p[3] - p[1])
                + max(0.0, q[2] - q[0]) * max(0.0, q[3] - q[1])
                - inter
            )
            out[i, j] = inter / ua if ua > 0 else 0.0
    return out


def random_boxes(rng, n, size=100.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], -1).astype(np.float32)


def test_convert_format_hand_values():
    xyxy = np.array([[10.0, 20.0, 30.0, 60.0]], np.float32)
    np.testing.assert_allclose(B.convert_format(xyxy, "xyxy", "yxyx"), [[20, 10, 60, 30]])
    np.testing.assert_allclose(B.convert_format(xyxy, "xyxy", "xywh"), [[10, 20, 20, 40]])
    np.testing.assert_allclose(B.convert_format(xyxy, "xyxy", "center_xywh"), [[20, 40, 20, 40]])
    np.testing.assert_allclose(
        B.convert_format(xyxy, "xyxy", "rel_xyxy", height=100, width=200), [[0.05, 0.2, 0.15, 0.6]], rtol=1e-6
    )
    np.testing.assert_allclose(
        B.convert_format(xyxy, "xyxy", "rel_center_xywh", height=100, width=200),
        [[0.1, 0.4, 0.1, 0.4]],
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "fmt", ["yxyx", "xywh", "center_xywh", "rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh"]
)
def test_convert_format_round_trip(fmt):
    boxes = random_boxes(np.random.default_rng(0), 7).reshape(1, 7, 4)
    there = B.convert_format(boxes, "xyxy", fmt, height=120, width=90)
    back = B.convert_format(there, fmt, "xyxy", height=120, width=90)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back), boxes, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("fmt", ["yxyx", "xywh", "center_xywh", "rel_xyxy", "rel_yxyx"])
def test_convert_format_agrees_with_keras_bounding_boxes(fmt):
    boxes = random_boxes(np.random.default_rng(1), 5)
    ours = keras.ops.convert_to_numpy(B.convert_format(boxes, "xyxy", fmt, height=120, width=90))
    ref = keras.ops.convert_to_numpy(
        keras.utils.bounding_boxes.convert_format(boxes, "xyxy", fmt, height=120, width=90)
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4)


def test_convert_format_errors():
    with pytest.raises(ValueError, match="Unknown box format"):
        B.convert_format(np.zeros((1, 4)), "xyxy", "cxcywh")
    with pytest.raises(ValueError, match="height and width"):
        B.convert_format(np.zeros((1, 4)), "xyxy", "rel_xyxy")
    with pytest.raises(ValueError, match="last dimension of 4"):
        B.convert_format(np.zeros((1, 3)), "xyxy", "xywh")


@pytest.mark.multibackend
def test_area_iou_hand_values_and_degenerate():
    a = np.array([[0, 0, 2, 2], [0, 0, 0, 0], [5, 5, 3, 3]], np.float32)  # normal, zero-area, inverted
    b = np.array([[1, 0, 3, 2], [0, 0, 0, 0], [0, 0, 2, 2]], np.float32)
    np.testing.assert_allclose(B.box_area(a), [4, 0, 0])
    iou = keras.ops.convert_to_numpy(B.box_iou(a, b))
    np.testing.assert_allclose(iou, [[1 / 3, 0, 1], [0, 0, 0], [0, 0, 0]], atol=1e-6)
    assert np.all(np.isfinite(iou))


@pytest.mark.multibackend
def test_iou_random_against_numpy_and_batched():
    rng = np.random.default_rng(2)
    a, b = random_boxes(rng, 13), random_boxes(rng, 9)
    np.testing.assert_allclose(B.box_iou(a, b), np_iou(a, b), atol=1e-5)
    batched = keras.ops.convert_to_numpy(B.box_iou(np.stack([a, a]), np.stack([b, b])))
    assert batched.shape == (2, 13, 9)
    np.testing.assert_allclose(batched[1], np_iou(a, b), atol=1e-5)


def test_clip():
    out = B.clip_boxes([[-5.0, 10.0, 120.0, 50.0]], height=40, width=100)
    np.testing.assert_allclose(out, [[0, 10, 100, 40]])


def test_encode_hand_values_ssd_variances():
    deltas = keras.ops.convert_to_numpy(
        B.encode_boxes([[0.0, 0.0, 20.0, 20.0]], [[0.0, 0.0, 10.0, 10.0]], B.SSD_WEIGHTS)
    )
    # center (10, 10) vs (5, 5), anchor size 10: dx = (5 / 10) / 0.1 = 5; dw = log(2) / 0.2.
    np.testing.assert_allclose(deltas, [[5.0, 5.0, math.log(2) / 0.2, math.log(2) / 0.2]], rtol=1e-6)


@pytest.mark.multibackend
@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), B.SSD_WEIGHTS, B.FASTER_RCNN_WEIGHTS])
def test_encode_decode_round_trip(weights):
    rng = np.random.default_rng(3)
    boxes, anchors = random_boxes(rng, 50), random_boxes(rng, 50)
    back = B.decode_boxes(B.encode_boxes(boxes, anchors, weights), anchors, weights)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back), boxes, rtol=1e-4, atol=1e-3)


def test_decode_clamps_scale_and_rejects_bad_weights():
    out = keras.ops.convert_to_numpy(B.decode_boxes([[0.0, 0.0, 1e4, 1e4]], [[0.0, 0.0, 10.0, 10.0]]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0, 2] - out[0, 0], 10 * 1000 / 16, rtol=1e-4)
    with pytest.raises(ValueError, match="positive"):
        B.encode_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1]], weights=(1, 1, 0, 1))


def test_validate_boxes_raise_names_the_problem():
    good = np.array([[1, 1, 10, 10]], np.float32)
    out, keep = B.validate_boxes(good, 32, 32)
    assert keep.all() and out.dtype == np.float32
    with pytest.raises(ValueError, match="box 1 .*non-finite"):
        B.validate_boxes([[1, 1, 10, 10], [np.nan, 1, 2, 3]], 32, 32)
    with pytest.raises(ValueError, match="x2 < x1"):
        B.validate_boxes([[10, 1, 5, 10]], 32, 32)
    with pytest.raises(ValueError, match="outside"):
        B.validate_boxes([[-1, 1, 5, 10]], 32, 32)
    with pytest.raises(ValueError, match="min_size"):
        B.validate_boxes([[1, 1, 1.5, 10]], 32, 32)
    with pytest.raises(ValueError, match=r"shape \[N, 4\]"):
        B.validate_boxes(np.zeros((2, 5)), 32, 32)
    with pytest.raises(ValueError, match="mode"):
        B.validate_boxes(good, 32, 32, mode="fix")


def test_validate_boxes_clip_mode_and_empty():
    boxes, keep = B.validate_boxes(
        [[-3, 5, 50, 40], [10, 10, 5, 20], [np.nan, 0, 1, 1], [40, 40, 60, 60]], 32, 48, mode="clip"
    )
    np.testing.assert_array_equal(keep, [True, False, False, False])
    np.testing.assert_allclose(boxes[0], [0, 5, 48, 32])
    boxes, keep = B.validate_boxes(np.zeros((0, 4)), 32, 32)
    assert boxes.shape == (0, 4) and keep.shape == (0,)
