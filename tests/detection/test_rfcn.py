"""R-FCN: votes = mean of NumPy position-sensitive pooling of the score maps, fit step, save/load."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.detection.test_faster_rcnn import TINY, _batch, _np
from tests.layers.test_ps_roi import np_ps_roi_pool
from zoo.detection.rfcn import RFCN, rfcn_resnet50, rfcn_vgg16


def test_outputs_are_averaged_position_sensitive_votes():
    model = rfcn_vgg16(**TINY)
    images, _ = _batch()
    out = model(images)
    assert tuple(out["class_logits"].shape) == (2, 12, 4)
    assert tuple(out["box_deltas"].shape) == (2, 12, 4, 4)
    maps = model.rfcn_conv(model.head(out["features"]))
    props = _np(out["proposals"])
    rois = np.concatenate([np.repeat(np.arange(2.0), 12)[:, None], props.reshape(-1, 4)], 1)
    cls = np_ps_roi_pool(_np(model.rfcn_cls(maps)), rois, 3, 3, 1 / 16).mean(axis=(1, 2))
    box = np_ps_roi_pool(_np(model.rfcn_bbox(maps)), rois, 3, 3, 1 / 16).mean(axis=(1, 2))
    valid = _np(out["proposal_scores"]).reshape(-1) > -np.inf
    covered = np_ps_roi_pool(np.ones((2, 4, 4, 9), "float32"), rois, 3, 3, 1 / 16).max(axis=(1, 2, 3)) > 0
    cls[~covered] = [1e4, 0, 0, 0]  # no non-empty bin: certain background (see the next test)
    got_cls = _np(out["class_logits"]).reshape(-1, 4)
    np.testing.assert_allclose(got_cls[valid], cls[valid], rtol=1e-4, atol=1e-5)
    deltas = _np(out["box_deltas"]).reshape(-1, 4, 4)
    for c in range(4):  # class-agnostic: the same deltas for every class
        np.testing.assert_allclose(deltas[:, c], box, rtol=1e-4, atol=1e-6)
    dets = model.detect_batch(images, score_threshold=0.0, max_detections=5)
    assert tuple(dets["boxes"].shape) == (2, 5, 4)
    assert set(np.unique(_np(dets["classes"]))) <= {-1, 1, 2, 3}
    # no Faster R-CNN per-RoI head weights are left in the model
    assert not any("fc1" in v.path or "cls_score" in v.path for v in model.weights)

    # Regression (issue 17): a thin box on the right / bottom edge rounds its start onto the 4 x 4
    # map's border, so every position-sensitive bin is empty and votes 0 for every class. Before the
    # fix its softmax was uniform (0.25 per class, above the 0.05 score threshold for all three
    # objects), and an undertrained model's top detections were all such boxes (lineage mAP 0.000).
    boxes = np.array([[[4, 4, 40, 40], [58, 8, 64, 40], [8, 59, 40, 64], [60, 60, 64, 64]]], np.float32)
    logits, _ = model.roi_head(out["features"][:1], boxes)
    np.testing.assert_allclose(_np(keras.ops.softmax(logits))[0, 1:, 0], 1.0)  # certain background
    want = np_ps_roi_pool(_np(model.rfcn_cls(maps))[:1], np.array([[0, 4, 4, 40, 40]]), 3, 3, 1 / 16)
    np.testing.assert_allclose(_np(logits)[0, 0], want.mean(axis=(1, 2))[0], rtol=1e-4, atol=1e-5)


@pytest.mark.multibackend
def test_one_fit_step_updates_every_trainable_weight():
    model = rfcn_vgg16(**TINY)
    images, targets = _batch()
    before = [_np(v).copy() for v in model.trainable_variables]
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    hist = model.fit(images, targets, batch_size=2, epochs=1, verbose=0)
    for name in ("loss", "rpn_cls_loss", "rpn_reg_loss", "cls_loss", "box_loss"):
        assert np.isfinite(hist.history[name][0]), name
    unchanged = [v.path for v, b in zip(model.trainable_variables, before) if np.array_equal(_np(v), b)]
    assert not unchanged, f"no gradient reached {unchanged}"


def test_save_load_round_trip_and_resnet_variant(tmp_path):
    model = rfcn_vgg16(**TINY, k=2)
    images, _ = _batch()
    model.save(tmp_path / "rfcn.keras")
    loaded = keras.models.load_model(tmp_path / "rfcn.keras")
    assert isinstance(loaded, RFCN) and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        _np(model(images)["class_logits"]), _np(loaded(images)["class_logits"]), rtol=1e-4, atol=1e-4
    )
    res = rfcn_resnet50(num_classes=3, input_shape=(64, 64, 3), anchor_sizes=(32.0,), test_proposals=(16, 4))
    assert res.head.get_layer("conv5_block3_out").output.shape[1:] == (4, 4, 2048)  # stride 16 kept
    assert tuple(res(images[:1])["class_logits"].shape) == (1, 4, 3)


@pytest.mark.slow
def test_loss_decreases_on_one_batch():
    model = rfcn_vgg16(**{**TINY, "width": 0.125})
    images, targets = _batch()
    model.compile(optimizer=keras.optimizers.Adam(3e-4))
    hist = model.fit(images, targets, batch_size=2, epochs=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
