"""Mask R-CNN: mask pasting against a NumPy loop, one fit step with the mask loss, masks at inference."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import zoo
from zoo.detection.mask_rcnn import MaskRCNN, mask_rcnn_resnet50, paste_masks


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def np_paste(mask, box, h, w):
    """Bilinear paste of an M x M mask into box (xyxy pixels), one pixel centre at a time."""
    m = mask.shape[0]
    out = np.zeros((h, w), np.float32)
    x1, y1, x2, y2 = box
    for yy in range(h):
        v = (yy + 0.5 - y1) / (y2 - y1) * m - 0.5
        for xx in range(w):
            u = (xx + 0.5 - x1) / (x2 - x1) * m - 0.5
            if not (-0.5 <= u <= m - 0.5 and -0.5 <= v <= m - 0.5):
                continue
            uc, vc = min(max(u, 0.0), m - 1.0), min(max(v, 0.0), m - 1.0)
            u0, v0 = int(math.floor(uc)), int(math.floor(vc))
            u1, v1 = min(u0 + 1, m - 1), min(v0 + 1, m - 1)
            fu, fv = uc - u0, vc - v0
            out[yy, xx] = (1 - fv) * ((1 - fu) * mask[v0, u0] + fu * mask[v0, u1]) + fv * (
                (1 - fu) * mask[v1, u0] + fu * mask[v1, u1]
            )
    return out


@pytest.mark.multibackend
def test_paste_masks_matches_numpy_loop():
    rng = np.random.default_rng(0)
    masks = rng.uniform(size=(1, 3, 4, 4)).astype(np.float32)
    boxes = np.array([[[2.0, 3.0, 13.5, 9.0], [0.0, 0.0, 16.0, 12.0], [10.2, 1.1, 11.0, 2.0]]], np.float32)
    got = _np(paste_masks(masks, boxes, (12, 16)))
    for k in range(3):
        np.testing.assert_allclose(got[0, k], np_paste(masks[0, k], boxes[0, k], 12, 16), atol=1e-5)
    ones = _np(
        paste_masks(np.ones((1, 1, 28, 28), np.float32), np.array([[[10, 10, 30, 20]]], np.float32), (40, 40))
    )
    assert ones[0, 0, 10:20, 10:30].min() == pytest.approx(1.0) and ones[0, 0].sum() == pytest.approx(200.0)


def _tiny():
    return MaskRCNN(
        arch="vgg16",
        num_classes=4,
        image_shape=(64, 64, 3),
        width=0.0625,
        anchor_sizes=(16.0, 32.0),
        train_proposals=(100, 24),
        test_proposals=(100, 12),
        rpn_batch=32,
        roi_batch=16,
        mask_channels=8,
        seed=0,
    )


def _batch():
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    masks = np.zeros((2, 2, 64, 64), np.uint8)
    masks[0, 0, 5:30, 5:30] = 1
    masks[0, 1, 30:50, 30:60] = 1
    masks[1, 0, 20:60, 10:40] = 1
    targets = {
        "boxes": np.array([[[5, 5, 30, 30], [30, 30, 60, 50]], [[10, 20, 40, 60], [0, 0, 0, 0]]], np.float32),
        "classes": np.array([[1, 2], [3, -1]], np.int32),
        "valid": np.array([[True, True], [True, False]]),
        "masks": masks,
    }
    return images, targets


def test_fit_step_trains_the_mask_branch_and_detects_masks(tmp_path):
    model = _tiny()
    images, targets = _batch()
    before = {v.path: _np(v).copy() for v in model.mask_head.trainable_variables}
    # eager on TensorFlow: tracing the two-stage train step costs several times the step; the
    # compiled step runs in tests/detection/test_train.py (the Mask R-CNN recipe, a Faster R-CNN subclass)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=keras.backend.backend() == "tensorflow")
    hist = model.fit(images, targets, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(hist.history["mask_loss"][0]) and hist.history["mask_loss"][0] > 0
    assert all(not np.array_equal(_np(v), before[v.path]) for v in model.mask_head.trainable_variables)
    dets = model.detect_batch(images, score_threshold=0.0, max_detections=5)
    assert tuple(dets["masks"].shape) == (2, 5, 64, 64)
    assert set(np.unique(_np(dets["masks"]))) <= {0, 1}
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_config() == model.get_config()
    with pytest.raises(ValueError, match="masks"):
        model.compute_loss(
            images, {k: v for k, v in targets.items() if k != "masks"}, model(images, training=True)
        )


def test_mask_rcnn_resnet50_builds():
    model = mask_rcnn_resnet50(num_classes=3, input_shape=(64, 64, 3), mask_channels=16)
    # He et al. 2017, Sec. 3.1 (Inference): "the proposal number is 300 for the C4 backbone" (1000
    # tripled the box head's RoIs and the inference memory)
    assert model.test_proposals == (6000, 300)
    model.test_proposals = (16, 4)  # a cheap forward pass
    out = model(np.zeros((1, 64, 64, 3), np.float32))
    assert tuple(out["class_logits"].shape) == (1, 4, 3)
    assert model.mask_head.output.shape[1:] == (28, 28, 3)


def test_mask_rcnn_vgg16_is_the_vgg_faster_rcnn_plus_a_scaled_mask_branch():
    kw = dict(num_classes=4, input_shape=(64, 64, 3), width=0.125, test_proposals=(16, 4))
    model = zoo.get("mask_rcnn_vgg16", **kw)
    frcnn = zoo.get("faster_rcnn_vgg16", **kw)
    assert isinstance(model, MaskRCNN) and model.name == "mask_rcnn_vgg16"
    assert (model.arch, model.width, model.mask_channels) == ("vgg16", 0.125, 32)  # 256 * width
    assert model.backbone.count_params() == frcnn.backbone.count_params()
    assert model.head.count_params() == frcnn.head.count_params()
    assert model.mask_head.output.shape[1:] == (28, 28, 4)
    assert zoo.get("mask_rcnn_vgg16", mask_channels=8, **kw).mask_channels == 8
    info = zoo.registry.entry("mask_rcnn_vgg16")
    assert info.task == "detection" and "Mask R-CNN" in info.paper and info.preprocess == "none"


@pytest.mark.multibackend
def test_masks_of_kept_detections_only_equal_the_graph_path(monkeypatch):
    """detect_batch / predict run the mask branch on the kept detections only (their class's map
    only, pasted only for them); the masks equal the graph path's, which runs it on all K slots."""
    model = _tiny()
    images, _ = _batch()
    settings = model.postprocess.replace(score_threshold=0.0, max_detections=6)
    reference = {k: _np(v) for k, v in model.detections(images, settings).items()}  # in-graph masks
    calls = []
    real = MaskRCNN._class_masks

    def spy(self, features, rois, classes):
        calls.append(len(rois))
        return real(self, features, rois, classes)

    monkeypatch.setattr(MaskRCNN, "_class_masks", spy)
    got = model.detect_batch(images, score_threshold=0.0, max_detections=6)
    n = reference["num_detections"]
    assert 0 < n.sum() and calls == [int(n.sum())]  # only the kept boxes went through the mask branch
    assert "features" not in got and got["masks"].dtype == np.uint8
    np.testing.assert_array_equal(got["classes"], reference["classes"])
    np.testing.assert_array_equal(got["masks"], reference["masks"])
    assert reference["masks"].any()  # some mask pixels to compare
    predicted = model.predict(images, verbose=0)  # model.predict: the same path
    assert predicted["masks"].shape == (2, model.postprocess.max_detections, 64, 64)
