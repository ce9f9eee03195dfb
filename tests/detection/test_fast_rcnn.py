"""Fast R-CNN: Faster R-CNN's second stage on given proposals (sampling, fit step, padding, save/load)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.detection.test_faster_rcnn import _batch, _np
from zoo.detection.fast_rcnn import FastRCNN, fast_rcnn_vgg16, proposal_batch
from zoo.ops.boxes import box_iou

TINY = dict(num_classes=4, input_shape=(64, 64, 3), width=0.0625, seed=0)


def _inputs():
    images, targets = _batch()
    rng = np.random.default_rng(1)
    props = []
    for n in (30, 7):  # ragged: image 1 has 7 proposals, padded to 30
        xy = rng.uniform(0, 40, (n, 2))
        props.append(np.concatenate([xy, xy + rng.uniform(8, 24, (n, 2))], 1))
    return {"images": images, "proposals": proposal_batch(props, 30)}, targets, props


def test_sampling_uses_the_given_proposals_64_rois_25_percent_foreground():
    model = fast_rcnn_vgg16(**TINY)
    assert model.roi_batch == 64 and model.rpn is None
    x, targets, props = _inputs()
    y_pred = model(x)
    parts, r, _ = model.detection_losses(x, targets, y_pred)
    assert set(parts) == {"cls_loss", "box_loss"}
    rois, classes, valid = _np(r["rois"]), _np(r["classes"]), _np(r["valid"])
    assert rois.shape == (2, 32, 4)  # min(64, P + G) slots
    for b in range(2):
        fg = classes[b] > 0
        assert fg.sum() <= 16
        # every sampled RoI is one of this image's proposals or ground-truth boxes
        pool = np.concatenate([props[b], targets["boxes"][b][targets["valid"][b]]])
        dist = np.abs(rois[b][valid[b]][:, None] - pool[None]).max(-1).min(-1)
        assert np.all(dist < 1e-4)
        iou = _np(box_iou(rois[b][fg], targets["boxes"][b][targets["valid"][b]])).max(-1)
        assert np.all(iou >= 0.5)
    assert valid[1].sum() <= 7 + 1  # padding rows never sampled: 7 proposals + 1 ground truth


def test_padding_rows_are_background_and_detections_come_from_proposals():
    model = fast_rcnn_vgg16(**TINY)
    x, _, _ = _inputs()
    out = model(x)
    probs = _np(keras.ops.softmax(out["class_logits"]))
    np.testing.assert_allclose(probs[1, 7:, 0], 1.0)
    dets = model.detect_batch(x, score_threshold=0.0, max_detections=5)
    assert tuple(dets["boxes"].shape) == (2, 5, 4)
    with pytest.raises(ValueError, match="proposals"):
        model(x["images"])


@pytest.mark.slow  # ~60 s on the loaded 2-core machine (a compiled VGG two-stage train step)
@pytest.mark.multibackend
def test_one_fit_step_updates_every_trainable_weight_and_round_trips(tmp_path):
    model = fast_rcnn_vgg16(**TINY)
    x, targets, _ = _inputs()
    assert not any("rpn" in v.path for v in model.weights)
    before = [_np(v).copy() for v in model.trainable_variables]
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    hist = model.fit(x, targets, batch_size=2, epochs=1, verbose=0)
    assert set(hist.history) == {"loss", "cls_loss", "box_loss"}
    assert np.isfinite(hist.history["loss"][0])
    unchanged = [v.path for v, b in zip(model.trainable_variables, before) if np.array_equal(_np(v), b)]
    assert not unchanged, f"no gradient reached {unchanged}"
    model.save(tmp_path / "fast.keras")
    loaded = keras.models.load_model(tmp_path / "fast.keras")
    assert isinstance(loaded, FastRCNN) and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        _np(model(x)["class_logits"]), _np(loaded(x)["class_logits"]), rtol=1e-4, atol=1e-4
    )
