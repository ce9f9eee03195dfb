"""FPN detectors: anchors, keypoint targets and training, against the papers' / torchvision's formulas in NumPy.

Parity of the networks with torchvision itself is in tests/torch/test_fpn_parity.py (``make test-torch``).
"""

import math
import re

import keras
import numpy as np
import pytest

import zoo
from zoo.detection.fpn_rcnn import fpn_anchors, keypoint_targets

TINY = dict(input_shape=(64, 64, 3), rpn_pre_nms_top_n=(64, 64), rpn_post_nms_top_n=(32, 32), roi_batch=16)


def test_fpn_anchors_follow_torchvision_anchor_generator():
    (level,) = fpn_anchors((64, 96), [(16, 24)], sizes=(32,))
    assert level.shape == (16 * 24 * 3, 4)
    # ratio 0.5: h = 32 sqrt(0.5), w = 32 / sqrt(0.5); base = round([-w, -h, w, h] / 2)
    h, w = 32 * math.sqrt(0.5), 32 / math.sqrt(0.5)
    np.testing.assert_array_equal(level[0], np.round([-w / 2, -h / 2, w / 2, h / 2]))
    np.testing.assert_array_equal(level[1], [-16, -16, 16, 16])  # ratio 1
    # cell (row 1, column 2) at stride 64 // 16 = 4 and 96 // 24 = 4: centre (8, 4), same three base anchors
    cell = (1 * 24 + 2) * 3
    np.testing.assert_array_equal(level[cell + 1], [8 - 16, 4 - 16, 8 + 16, 4 + 16])
    # stride is image side // map side (torchvision), e.g. 800 // 13 = 61 for P6 of an 800 px input
    (p6,) = fpn_anchors((800, 1344), [(13, 21)], sizes=(512,))
    assert p6[3 * 1, 1] - p6[0, 1] == 0 and p6[3 * 21, 1] - p6[0, 1] == 61


def _numpy_keypoint_targets(rois, kps, size):
    """torchvision's keypoints_to_heatmap, written out in NumPy."""
    x = np.floor((kps[..., 0] - rois[:, None, 0]) * (size / (rois[:, None, 2] - rois[:, None, 0])))
    y = np.floor((kps[..., 1] - rois[:, None, 1]) * (size / (rois[:, None, 3] - rois[:, None, 1])))
    x[kps[..., 0] == rois[:, None, 2]] = size - 1
    y[kps[..., 1] == rois[:, None, 3]] = size - 1
    valid = (x >= 0) & (y >= 0) & (x < size) & (y < size) & (kps[..., 2] > 0)
    return (y * size + x) * valid, valid


def test_keypoint_targets_match_keypoints_to_heatmap(rng):
    rois = np.array([[10, 20, 60, 90], [0, 0, 56, 56], [5, 5, 30, 40]], "float32")
    kps = rng.uniform(-10, 100, (3, 17, 3)).astype("float32")
    kps[..., 2] = rng.integers(0, 3, (3, 17))
    kps[1, 0] = (56, 56, 2)  # on the right/bottom edge: the last cell
    index, valid = keypoint_targets(rois, kps, 56)
    ref_index, ref_valid = _numpy_keypoint_targets(rois, kps, 56)
    np.testing.assert_array_equal(np.asarray(valid), ref_valid)
    np.testing.assert_array_equal(np.asarray(index)[ref_valid], ref_index[ref_valid])
    assert np.asarray(index)[1, 0] == 56 * 56 - 1


def _targets(rng, batch=2, size=64, keypoints=False):
    boxes = np.array([[[8, 8, 40, 44], [30, 20, 60, 60]]] * batch, "float32")
    y = {"boxes": boxes, "classes": np.ones((batch, 2), "int32"), "valid": np.ones((batch, 2), bool)}
    masks = np.zeros((batch, 2, size, size), "float32")
    masks[:, 0, 8:44, 8:40] = 1
    masks[:, 1, 20:60, 30:60] = 1
    y["masks"] = masks
    if keypoints:
        kp = np.concatenate([rng.uniform(10, 38, (batch, 2, 17, 2)), np.ones((batch, 2, 17, 1))], -1)
        y["keypoints"] = kp.astype("float32")
    return y


@pytest.mark.slow  # 20-40 s each (ResNet-50 cannot shrink); `make test-slow`
@pytest.mark.parametrize("name", ["maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn"])
def test_fpn_detectors_train_a_step(name, rng):
    model = zoo.get(name, num_classes=2, **TINY)
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    images = rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    y = _targets(rng, keypoints=name.startswith("keypoint"))
    head = model.get_layer("cls_score").get_weights()[0].copy()
    logs = model.train_on_batch(images, y, return_dict=True)
    extra = "mask_loss" if name.startswith("mask") else "keypoint_loss"
    for key in ("rpn_cls_loss", "rpn_reg_loss", "cls_loss", "box_loss", extra):
        assert np.isfinite(logs[key]), (key, logs)
    assert logs[extra] > 0
    assert not np.allclose(model.get_layer("cls_score").get_weights()[0], head)
    # the frozen stem and BatchNorm keep their values
    assert (
        not model.backbone.get_layer("conv1_conv").trainable
        and not model.backbone.get_layer("conv3_block1_1_bn").trainable
    )


@pytest.mark.slow
def test_fpn_model_saves_and_reloads(tmp_path, rng):
    model = zoo.get("fasterrcnn_resnet50_fpn_v2", num_classes=3, postprocess={"score_threshold": 0.2}, **TINY)
    path = tmp_path / "model.keras"
    model.save(path)
    again = keras.models.load_model(path)
    assert again.variant == "v2" and again.postprocess.score_threshold == 0.2
    images = rng.uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(again(images)["class_logits"]),
        np.asarray(model(images)["class_logits"]),
        rtol=1e-5,
        atol=1e-5,
    )


def test_fpn_input_sides_must_be_multiples_of_32():
    with pytest.raises(ValueError, match="multiples of 32"):
        zoo.get("fasterrcnn_resnet50_fpn", input_shape=(100, 128, 3))


@pytest.mark.slow
def test_fcn_resnet_trains_with_the_auxiliary_loss(rng):
    from zoo.segmentation.losses import SegmentationLoss

    model = zoo.get("fcn_resnet50", num_classes=3, input_shape=(64, 64, 3), aux=True)
    model.compile(optimizer="sgd", loss=SegmentationLoss("crossentropy"))
    x = rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    y = rng.integers(0, 3, (2, 64, 64)).astype("int32")
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert model.predict(x, verbose=0).shape == (2, 64, 64, 3)  # predict gives the main head only


@pytest.mark.slow
def test_fpn_detector_exports_to_litert_with_its_nms(tmp_path):
    """Faster R-CNN FPN -> float16 LiteRT with the in-graph NMS, run in the interpreter, against Keras."""
    from zoo.export import export_model

    model = zoo.get(
        "fasterrcnn_resnet50_fpn",
        num_classes=3,
        postprocess={"score_threshold": 0.0, "max_detections": 10},
        **TINY,
    )
    result = export_model(
        model, tmp_path / "fpn.tflite", quantize="float16", preprocess="none", num_verify=2, latency_runs=1
    )
    table = result.report.table()
    assert re.search(r"detections matched \(class, IoU>=0.5\)\s*\|\s*1\b", table), table
    assert "single subgraph" in table  # MediaPipe Tasks refuses the NMS while-loops (5 subgraphs)


@pytest.mark.slow  # ~2-4 min each on 2 shared cores
@pytest.mark.parametrize("quantize", ["none", "float16"])
def test_fpn_mask_rcnn_exports_its_masks_to_litert(tmp_path, quantize):
    """Mask R-CNN FPN -> LiteRT with a fifth output ``mask_probs`` [1, K, 28, 28], run in the interpreter:
    detections and the matched detections' masks against Keras."""
    from zoo.export import export_model
    from zoo.export.metadata import read_metadata

    model = zoo.get(
        "maskrcnn_resnet50_fpn",
        num_classes=3,
        postprocess={"score_threshold": 0.0, "max_detections": 10},
        **TINY,
    )
    path = tmp_path / f"mask_{quantize}.tflite"
    result = export_model(model, path, quantize=quantize, preprocess="none", num_verify=2, latency_runs=0)
    m = result.report.metrics
    print(result.report.table())  # the figures in docs/RESULTS.md (pytest -s)
    assert m["detections matched (class, IoU>=0.5)"] == 1.0, result.report.table()
    assert m["mask IoU at 0.5 (matched)"] > 0.98, result.report.table()
    assert m["max abs error (mask_probs, matched)"] < (1e-3 if quantize == "none" else 5e-2), (
        result.report.table()
    )
    assert any("[1, 10, 28, 28]" in o for o in result.report.outputs), result.report.outputs
    names = [t.name for t in read_metadata(path.read_bytes()).subgraphMetadata[0].outputTensorMetadata]
    expected = [
        b"location",
        b"category",
        b"score",
        b"number of detections",
        b"mask_probs",
    ]  # flatbuffer bytes
    assert sorted(names) == sorted(expected)
    # MediaPipe Tasks refuses it: several subgraphs (the NMS while-loops); 5 outputs would be refused next
    assert "single subgraph" in str(m.get("MediaPipe", "")), result.report.table()


def test_resnet_body_is_the_torchvision_layout_classifier_body():
    """One ResNet: the FPN / FCN body is ``resnet50(layout="torchvision")``'s, dilated as torchvision's
    ``replace_stride_with_dilation``; torchvision's resnet50 has 25,557,032 parameters, 2,049,000 in fc."""
    from zoo.detection.fpn import resnet_body

    image = keras.Input((64, 64, 3))
    taps = resnet_body(image, 50, dilation=(False, True, True), frozen_bn=False)
    body = keras.Model(image, taps)
    assert [t.shape[1] for t in taps] == [16, 8, 8, 8]  # output stride 8
    trainable = sum(int(np.prod(w.shape)) for w in body.trainable_weights)
    assert trainable == 25_557_032 - 2_049_000
    # layer4 (conv5_x): first block at the previous rate 2, the others at 4; no stride anywhere
    assert body.get_layer("conv5_block1_2_conv").dilation_rate == (2, 2)
    assert body.get_layer("conv5_block2_2_conv").dilation_rate == (4, 4)
    assert body.get_layer("conv5_block1_0_conv").strides == (1, 1)
    # every weighted layer is a target of the classifiers' torchvision rows (the mapping both use)
    rows = zoo.classification.resnet.torchvision_rules("bottleneck", (3, 4, 6, 3), "backbone.body.")
    assert {r.layer for r in rows} == {layer.name for layer in body.layers if layer.weights}
    with pytest.raises(ValueError, match="dilation needs torchvision-layout"):
        zoo.classification.resnet.resnet_stages(
            image, "bottleneck", (3, 4, 6, 3), dilation=(False, False, True)
        )
