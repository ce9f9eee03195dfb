"""R-CNN / SPP-net stages: context warping, the SVM, hard negative mining, regression, the pipeline."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.detection import rcnn as R
from zoo.detection.base import VGG_MEAN_RGB
from zoo.layers.roi import SpatialPyramidPooling


def test_context_boxes_paper_case():
    # a 195 px box warped to 227 with p = 16: 16 px of context each side (195 + 32 = 227)
    got = R.context_boxes(np.array([[10, 10, 205, 205.0]]), 227, 16)
    np.testing.assert_allclose(got, [[-6, -6, 221, 221]], atol=1e-4)
    with pytest.raises(ValueError, match="padding"):
        R.context_boxes(np.array([[0, 0, 1, 1.0]]), 32, 16)


def test_warp_regions_context_is_mean_outside_the_image():
    image = np.full((16, 16, 3), 200.0, np.float32)
    image[:, 8:] = 50.0
    # box = the whole image, 4 px of context at 24 px: the scale is exactly 1, the image sits at [4, 20)
    crop = R.warp_regions(image, np.array([[0, 0, 16, 16.0]]), warp_size=24, padding=4)[0]
    np.testing.assert_allclose(crop[4:20, 4:12], 200.0, atol=1e-3)
    np.testing.assert_allclose(crop[4:20, 12:20], 50.0, atol=1e-3)
    np.testing.assert_allclose(crop[:3, :], np.broadcast_to(VGG_MEAN_RGB, (3, 24, 3)), atol=1e-3)
    np.testing.assert_allclose(crop[:, 21:], np.broadcast_to(VGG_MEAN_RGB, (24, 3, 3)), atol=1e-3)


def test_linear_svm_max_margin_by_hand():
    # separable 1-D points with support vectors at +-1: the max-margin hyperplane is x = 0, w = 1
    w, b = R.train_linear_svm(np.array([[1.0], [2.0]]), np.array([[-1.0], [-3.0]]), C=100.0, pos_weight=1.0)
    np.testing.assert_allclose(w, [1.0], atol=0.02)
    assert abs(b) < 0.02


def test_hard_negative_mining_by_hand():
    calls = []

    def train(pos, neg):  # fixed scorer z = x, recording what each training saw
        calls.append(sorted(neg[:, 0].tolist()))
        return np.array([1.0], np.float32), 0.0

    negs = [
        np.array([[-5.0], [-0.5], [0.25]]),
        np.array([[-1.125], [-0.875], [2.0]]),
        np.array([[-3.0], [0.5]]),
    ]
    w, b, info = R.mine_hard_negatives(np.array([[1.0]]), negs, train, retrain_limit=1)
    # image 0: all negatives cached (first time), trained, -5 evicted (< -1.2);
    # image 1: -0.875 and 2.0 are hard (> -1.0001), -1.125 is not; 2 added > limit 1: retrained;
    # image 2: 0.5 is hard; the last image: retrained
    assert calls == [[-5.0, -0.5, 0.25], [-0.875, -0.5, 0.25, 2.0], [-0.875, -0.5, 0.25, 0.5, 2.0]]
    assert info["cache"] == [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1)] and info["trainings"] == 3
    # a second pass adds nothing twice
    calls.clear()
    _, _, again = R.mine_hard_negatives(np.array([[1.0]]), negs, train, retrain_limit=1, epochs=2)
    assert again["cache"] == info["cache"] and calls[-1] == [-0.875, -0.5, 0.25, 0.5, 2.0]


def test_region_svm_detector_learns_a_toy_problem(tmp_path):
    """Features that reveal the class (overlap with each class's box) and the deltas to it: the
    SVMs rank the right proposal first and the ridge regression moves it onto the ground truth."""
    gt = {1: np.array([10, 10, 30, 30.0]), 2: np.array([40, 40, 60, 70.0])}

    def features(image, boxes):
        from zoo.ops.boxes import box_iou, encode_boxes, to_numpy

        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        g = np.stack([gt[1], gt[2]]).astype(np.float32)
        iou = to_numpy(box_iou(boxes, g))
        near = g[iou.argmax(1)]
        d = to_numpy(encode_boxes(near, boxes)) * (iou.max(1, keepdims=True) > 0.3)
        return np.concatenate([iou, d, np.ones((len(boxes), 1))], axis=1).astype(np.float32)

    rng = np.random.default_rng(0)
    props = []
    for _ in range(4):
        jitter = [b + rng.uniform(-3, 3, 4) for b in gt.values() for _ in range(3)]
        props.append(
            np.concatenate(
                [
                    np.stack(jitter),
                    rng.uniform(0, 20, (6, 2)) @ [[1, 0, 1, 0], [0, 1, 0, 1]] + [70, 0, 85, 15],
                ]
            )
        )
    images = [np.zeros((96, 96, 3), np.float32)] * 4
    det = R.RegionSVMDetector(features, num_classes=3, C=10.0, reg_alpha=1e-4)
    info = det.fit(images, [np.stack([gt[1], gt[2]])] * 4, [np.array([1, 2])] * 4, props, progress=False)
    assert info["classes"][1]["positives"] == 4 and info["classes"][2]["regression_samples"] > 0
    out = det.detect(images[0], props[0])
    top = {
        int(c): out["boxes"][i] for i, c in reversed(list(enumerate(out["classes"][: out["num_detections"]])))
    }
    np.testing.assert_allclose(top[1], gt[1], atol=0.5)
    np.testing.assert_allclose(top[2], gt[2], atol=0.5)
    assert {"features", "classification", "train_svm", "train_features"} <= set(det.timings)
    det.save(tmp_path / "svm.npz")
    again = R.RegionSVMDetector(features, num_classes=3).load(tmp_path / "svm.npz")
    np.testing.assert_allclose(again.detect(images[0], props[0])["scores"], out["scores"], rtol=1e-5)


def _tiny_body(size=32):
    x = inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="c1")(x)
    x = keras.layers.Conv2D(5, 3, strides=2, padding="same", name="c2")(x)
    return keras.Model(inputs, x)


def test_rcnn_and_sppnet_features_agree_on_the_whole_image():
    """A box that warps to exactly the image (R-CNN) and a window that covers exactly the map
    (SPP-net) both give the whole-map pyramid pooling of the body's map."""
    body = _tiny_body()
    image = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    want = keras.ops.convert_to_numpy(SpatialPyramidPooling((1, 2))(body.predict_on_batch(image[None])))[0]
    warped = R.WarpedRegionFeatures(body, warp_size=32, padding=0, levels=(1, 2))
    window = R.WindowRegionFeatures(body, stride=4, levels=(1, 2))
    np.testing.assert_allclose(warped(image, np.array([[0, 0, 32, 32.0]]))[0], want, atol=1e-4)
    # RoI pooling rounds 28 / 4 = 7 -> cells 0..7 inclusive: the whole 8 x 8 map
    np.testing.assert_allclose(window(image, np.array([[0, 0, 28, 28.0]]))[0], want, atol=1e-5)
    # R-CNN's body is rebuilt at another warp size with the same weights
    small = R._body_at(body, 16)
    assert tuple(small.output.shape) == (None, 4, 4, 5)
    for a, b in zip(small.get_weights(), body.get_weights()):
        np.testing.assert_array_equal(a, b)
