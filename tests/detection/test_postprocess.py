"""The detector contract's post-processing against a NumPy reference, and the two bugs of issue 12.

``np_detections`` is the paper's inference written plainly: softmax, box decoding (SSD variances
0.1/0.2 or Faster R-CNN's 10/10/5/5), clipping, per-class greedy NMS over the best ``pre_nms_top_k``
boxes above the score threshold, then the best ``max_detections`` over all classes.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from zoo.detection.base import PostprocessConfig
from zoo.detection.faster_rcnn import FasterRCNN
from zoo.detection.postprocess import detect, detection_model
from zoo.detection.ssd import SSD
from zoo.detection.train import DetectorTrainConfig, evaluate_detector

SSD_TINY = dict(num_classes=4, input_shape=(64, 64, 3), width=0.125)
FRCNN_TINY = dict(
    num_classes=4, input_shape=(64, 64, 3), width=0.0625, anchor_sizes=(16.0, 32.0), test_proposals=(100, 12)
)
MAX_LOG = np.log(1000.0 / 16.0)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def np_iou(a, b):
    x1, y1 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x2, y2 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)


def np_decode(deltas, anchors, weights):
    wa, ha = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    cxa, cya = anchors[..., 0] + 0.5 * wa, anchors[..., 1] + 0.5 * ha
    cx = cxa + deltas[..., 0] / weights[0] * wa
    cy = cya + deltas[..., 1] / weights[1] * ha
    w = wa * np.exp(np.minimum(deltas[..., 2] / weights[2], MAX_LOG))
    h = ha * np.exp(np.minimum(deltas[..., 3] / weights[3], MAX_LOG))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def np_detections(logits, deltas, anchors, image_size, weights, score, iou, max_det, top_k):
    """One image: list of (score, class, box) sorted by descending score."""
    z = np.exp(logits - logits.max(-1, keepdims=True))
    probs = z / z.sum(-1, keepdims=True)
    if deltas.ndim == 3:  # per-class deltas [N, C, 4]
        boxes = np_decode(deltas, anchors[:, None, :], weights)
    else:
        boxes = np.repeat(np_decode(deltas, anchors, weights)[:, None], probs.shape[1], axis=1)
    h, w = image_size
    boxes = np.clip(boxes, 0, [w, h, w, h])
    found = []
    for c in range(1, probs.shape[1]):
        order = np.argsort(-probs[:, c], kind="stable")[: top_k or len(probs)]
        order = [i for i in order if probs[i, c] > score]
        kept = []
        for i in order:
            if all(np_iou(boxes[i, c], boxes[[j], c])[0] <= iou for j in kept):
                kept.append(i)
        found += [(probs[i, c], c, boxes[i, c]) for i in kept[:max_det]]
    return sorted(found, key=lambda t: -t[0])[:max_det]


def _check(dets, reference, b=0):
    k = int(dets["num_detections"][b])
    assert k == len(reference)
    np.testing.assert_allclose(dets["scores"][b, :k], [r[0] for r in reference], rtol=1e-5, atol=1e-6)
    assert list(dets["classes"][b, :k]) == [r[1] for r in reference]
    np.testing.assert_allclose(
        dets["boxes"][b, :k], np.array([r[2] for r in reference]).reshape(-1, 4), atol=1e-3
    )


def _ssd_reference(model, x, **settings):
    raw = {k: _np(v) for k, v in model(x).items()}
    s = model.postprocess.replace(**settings)
    return [
        np_detections(
            raw["class_logits"][b], raw["box_deltas"][b], model.default_boxes, model.image_size,
            model.box_weights, s.score_threshold, s.iou_threshold, s.max_detections, s.pre_nms_top_k,
        )
        for b in range(len(x))
    ]  # fmt: skip


@pytest.fixture(scope="module")
def ssd():
    keras.utils.set_random_seed(0)
    return zoo.get("ssd_vgg16", **SSD_TINY)


def _images(n=2, seed=1, size=64):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


@pytest.mark.multibackend
def test_ssd_detect_batch_and_predict_match_numpy_decoding_and_per_class_nms(ssd):
    x = _images()
    settings = dict(score_threshold=0.2, iou_threshold=0.3, max_detections=8, pre_nms_top_k=50)
    ref = _ssd_reference(ssd, x, **settings)
    dets = ssd.detect_batch(x, **settings)
    for b in range(2):
        _check(dets, ref[b], b)
    # model.predict decodes with the model's own settings (the same compiled path)
    ssd.postprocess = settings
    try:
        predicted = ssd.predict(x, verbose=0)
        infer = detection_model(ssd).predict(x, verbose=0)
    finally:
        ssd.postprocess = None
    for b in range(2):
        _check(predicted, ref[b], b)
        _check(infer, ref[b], b)


def test_faster_rcnn_detections_match_numpy_reference():
    keras.utils.set_random_seed(0)
    model = zoo.get("faster_rcnn_vgg16", **FRCNN_TINY)
    x = _images(1, seed=3)
    raw = {k: _np(v) for k, v in model(x).items()}
    s = FasterRCNN.POSTPROCESS.replace(score_threshold=0.2, max_detections=6)
    dets = model.detect_batch(x, score_threshold=0.2, max_detections=6)
    ref = np_detections(
        raw["class_logits"][0], raw["box_deltas"][0], raw["proposals"][0], model.image_size,
        model.box_weights, s.score_threshold, s.iou_threshold, s.max_detections, s.pre_nms_top_k,
    )  # fmt: skip
    _check(dets, ref)


def test_detect_takes_the_models_own_defaults():
    """Bug: detect() passed SSD's 0.01 / 0.45 to every model; Faster R-CNN promises 0.05 / 0.3."""
    assert (FasterRCNN.POSTPROCESS.score_threshold, FasterRCNN.POSTPROCESS.iou_threshold) == (0.05, 0.3)
    assert (SSD.POSTPROCESS.score_threshold, SSD.POSTPROCESS.iou_threshold) == (0.01, 0.45)
    keras.utils.set_random_seed(0)
    model = zoo.get("faster_rcnn_vgg16", **FRCNN_TINY)
    assert model.postprocess == FasterRCNN.POSTPROCESS
    model.postprocess = dict(score_threshold=0.26, iou_threshold=0.05)
    x = _images(2, seed=4)
    own = model.detect_batch(x)
    ssd_like = model.detect_batch(x, score_threshold=0.01, iou_threshold=0.45)
    assert own["num_detections"].sum() < ssd_like["num_detections"].sum()  # the settings matter here
    got = detect(model, list(x))
    np.testing.assert_array_equal(got["num_detections"], own["num_detections"])
    np.testing.assert_allclose(got["scores"], own["scores"], atol=1e-6)
    # ... and so does training-time evaluation (zoo.detection.train)
    assert DetectorTrainConfig().score_threshold is None and DetectorTrainConfig().iou_threshold is None
    seen = []
    detect_batch = model.detect_batch

    def spy(images, **kw):
        out = detect_batch(images, **kw)
        seen.append(int(out["num_detections"].sum()))
        return out

    model.detect_batch = spy
    targets = {
        "boxes": np.array([[[5, 5, 30, 30]]] * 2, "float32"),
        "classes": np.array([[1]] * 2, "int32"),
        "valid": np.array([[True]] * 2),
    }
    evaluate_detector(model, [(x, targets)], ["bg", "a", "b", "c"], progress=False)
    assert seen == [int(own["num_detections"].sum())]


def test_changed_default_boxes_are_used_by_the_next_detect(ssd):
    """Bug: the compiled graph copied the anchors; setting default_boxes afterwards was ignored."""
    x = _images(1, seed=5)
    original = ssd.default_boxes.copy()
    ssd.detect_batch(x, score_threshold=0.2)  # compiles with the original boxes
    detect(ssd, x)
    try:
        ssd.default_boxes = np.clip(original + np.array([6.0, -4.0, 10.0, 2.0], "float32"), 0, 64)
        assert not np.allclose(ssd.default_boxes, original)
        for settings in ({}, {"score_threshold": 0.2}):
            _check(ssd.detect_batch(x, **settings), _ssd_reference(ssd, x, **settings)[0])
        _check(detect(ssd, x), _ssd_reference(ssd, x)[0])
    finally:
        ssd.default_boxes = original
    with pytest.raises(ValueError, match="default_boxes must have shape"):
        ssd.default_boxes = original[:10]


def test_ssd_config_keeps_non_default_boxes(tmp_path):
    """Bug: SSD.get_config did not store the box configuration; a reloaded model had the paper's boxes."""
    model = zoo.get("ssd_vgg16", s_min=0.3, s_max=0.8, postprocess={"score_threshold": 0.3}, **SSD_TINY)
    paper = zoo.get("ssd_vgg16", **SSD_TINY)
    assert not np.allclose(model.default_boxes, paper.default_boxes)
    model.save(tmp_path / "a.keras")
    loaded = keras.models.load_model(tmp_path / "a.keras")
    np.testing.assert_allclose(loaded.default_boxes, model.default_boxes)
    assert loaded.postprocess == model.postprocess == SSD.POSTPROCESS.replace(score_threshold=0.3)
    # explicitly set boxes travel in the config too
    paper.default_boxes = paper.default_boxes * 0.5
    again = SSD.from_config(paper.get_config())
    np.testing.assert_allclose(again.default_boxes, paper.default_boxes)


def test_postprocess_config_and_builder_arguments():
    with pytest.raises(ValueError, match="Unknown post-processing"):
        PostprocessConfig().replace(nms=0.5)
    with pytest.raises(ValueError, match="iou_threshold"):
        PostprocessConfig(iou_threshold=2.0)
    model = zoo.get("ssd_vgg16", classes=4, input_shape=(64, 64, 3), width=0.125)  # either spelling
    assert model.num_classes == 4
    with pytest.raises(ValueError, match="disagree"):
        zoo.get("ssd_vgg16", classes=4, num_classes=5, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="class_names"):
        zoo.get("ssd_vgg16", class_names=("bg", "a"), **SSD_TINY)
    assert zoo.registry.entry("ssd300_vgg16").builder is zoo.registry.entry("ssd_vgg16").builder
    with pytest.raises(TypeError, match="nms"):
        model.detect_batch(_images(1), nms=0.5)


@pytest.mark.parametrize("value", [float("nan"), 1.0, 1.5, -0.1])
def test_score_threshold_outside_0_1_is_refused(value):
    """A NaN or >= 1 threshold used to return no detections silently (issue 20)."""
    with pytest.raises(ValueError, match="score_threshold must be in"):
        PostprocessConfig(score_threshold=value)
    with pytest.raises(ValueError, match="score_threshold must be in"):
        PostprocessConfig().replace(score_threshold=value)
