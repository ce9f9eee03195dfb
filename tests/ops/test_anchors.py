"""Tests of zoo.ops.anchors: counts from the paper, hand-computed coordinates, Caffe sizes."""

import math

import numpy as np
import pytest

from zoo.ops.anchors import SSD300, SSD512, grid_anchors, ssd_default_boxes, ssd_scales


def test_scales_formula():
    np.testing.assert_allclose(ssd_scales(6), [0.2, 0.34, 0.48, 0.62, 0.76, 0.9, 1.04], atol=1e-12)


@pytest.mark.parametrize("cfg", [SSD300, SSD512])
@pytest.mark.parametrize("caffe", [False, True])
def test_counts_8732_and_24564(cfg, caffe):
    kw = dict(sizes=cfg["caffe_sizes"], steps=cfg["steps"]) if caffe else {}
    boxes = ssd_default_boxes(
        cfg["image_size"], cfg["feature_sizes"], boxes_per_location=cfg["boxes_per_location"], **kw
    )
    assert boxes.shape == (cfg["num_boxes"], 4) and boxes.dtype == np.float32


def test_ssd300_paper_coordinates():
    boxes = ssd_default_boxes(300, SSD300["feature_sizes"], boxes_per_location=SSD300["boxes_per_location"])
    c = 0.5 / 38 * 300
    # first cell of conv4_3: ratio 1 (s = 0.2 -> 60 px), extra sqrt(0.2 * 0.34), ratio 2, ratio 1/2
    np.testing.assert_allclose(boxes[0], [c - 30, c - 30, c + 30, c + 30], rtol=1e-5)
    e = math.sqrt(0.2 * 0.34) * 300 / 2
    np.testing.assert_allclose(boxes[1], [c - e, c - e, c + e, c + e], rtol=1e-5)
    w, h = 60 * math.sqrt(2) / 2, 60 / math.sqrt(2) / 2
    np.testing.assert_allclose(boxes[2], [c - w, c - h, c + w, c + h], rtol=1e-5)
    np.testing.assert_allclose(boxes[3], [c - h, c - w, c + h, c + w], rtol=1e-5)
    # second cell is one column to the right (row-major)
    np.testing.assert_allclose(boxes[4, 0] - boxes[0, 0], 300 / 38, rtol=1e-5)
    # last map (1x1, s = 0.9) and its 4 boxes are the last rows
    np.testing.assert_allclose(boxes[-4], [15, 15, 285, 285], rtol=1e-5)
    # the 19x19 map starts after 38 * 38 * 4 boxes with s = 0.34 and 6 boxes per cell
    first19 = boxes[38 * 38 * 4]
    np.testing.assert_allclose(first19[2] - first19[0], 0.34 * 300, rtol=1e-5)


def test_ssd300_caffe_sizes():
    boxes = ssd_default_boxes(
        300,
        SSD300["feature_sizes"],
        boxes_per_location=SSD300["boxes_per_location"],
        sizes=SSD300["caffe_sizes"],
        steps=SSD300["steps"],
    )
    np.testing.assert_allclose(boxes[0], [4 - 15, 4 - 15, 4 + 15, 4 + 15], rtol=1e-5)  # 30 px at (4, 4)
    e = math.sqrt(30 * 60) / 2
    np.testing.assert_allclose(boxes[1], [4 - e, 4 - e, 4 + e, 4 + e], rtol=1e-5)
    np.testing.assert_allclose(boxes[-4], [150 - 132, 150 - 132, 150 + 132, 150 + 132], rtol=1e-5)


def test_non_square_explicit_ratios_and_clip():
    boxes = ssd_default_boxes((100, 200), [(2, 4)], aspect_ratios=[(1.0,)], s_min=0.5, s_max=0.9, clip=True)
    assert boxes.shape == (2 * 4 * 2, 4)
    assert boxes.min() >= 0 and boxes[:, 2].max() <= 200 and boxes[:, 3].max() <= 100


def test_default_box_errors():
    with pytest.raises(ValueError, match="boxes_per_location must be 4"):
        ssd_default_boxes(300, (38,), boxes_per_location=(5,))
    with pytest.raises(ValueError, match="entries for 2 feature maps"):
        ssd_default_boxes(300, (38, 19), boxes_per_location=(4,))
    with pytest.raises(ValueError, match="aspect_ratios"):
        ssd_default_boxes(300, (38,))


def test_grid_anchors_rpn():
    anchors = grid_anchors(3, 16)
    assert anchors.shape == (3 * 3 * 9, 4) and anchors.dtype == np.float32
    w = anchors[:, 2] - anchors[:, 0]
    h = anchors[:, 3] - anchors[:, 1]
    np.testing.assert_allclose(sorted(set(np.round(w * h))), [128**2, 256**2, 512**2], rtol=1e-4)
    # first anchor: cell (0, 0) centre (8, 8), ratio 0.5 (h / w), size 128
    np.testing.assert_allclose(
        anchors[0],
        [8 - 64 * math.sqrt(2), 8 - 32 * math.sqrt(2), 8 + 64 * math.sqrt(2), 8 + 32 * math.sqrt(2)],
        rtol=1e-5,
    )
    # anchor 9 is the next cell to the right
    np.testing.assert_allclose(anchors[9] - anchors[0], [16, 0, 16, 0], atol=1e-4)
    assert grid_anchors((2, 5), (16, 8)).shape == (90, 4)
