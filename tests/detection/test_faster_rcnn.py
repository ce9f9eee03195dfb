"""Faster R-CNN: output shapes, one fit step reaching every weight, save/load, detections, errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.detection.faster_rcnn import FasterRCNN, faster_rcnn_resnet50, faster_rcnn_vgg16

TINY = dict(
    num_classes=4,
    input_shape=(64, 64, 3),
    width=0.0625,
    anchor_sizes=(16.0, 32.0),
    train_proposals=(100, 24),
    test_proposals=(100, 12),
    rpn_batch=32,
    roi_batch=16,
    seed=0,
)


def _batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    targets = {
        "boxes": np.array([[[5, 5, 30, 30], [30, 30, 60, 50]], [[10, 20, 40, 60], [0, 0, 0, 0]]], np.float32),
        "classes": np.array([[1, 2], [3, -1]], np.int32),
        "valid": np.array([[True, True], [True, False]]),
    }
    return images, targets


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def test_outputs_and_detections_shapes():
    model = faster_rcnn_vgg16(**TINY)
    images, _ = _batch()
    out = model(images)
    assert tuple(out["rpn_logits"].shape) == (2, 4 * 4 * 6)
    assert tuple(out["rpn_deltas"].shape) == (2, 96, 4)
    assert tuple(out["proposals"].shape) == (2, 12, 4)
    assert tuple(out["class_logits"].shape) == (2, 12, 4)
    assert tuple(out["box_deltas"].shape) == (2, 12, 4, 4)
    dets = model.detect_batch(images, score_threshold=0.0, max_detections=7)
    assert tuple(dets["boxes"].shape) == (2, 7, 4) and tuple(dets["classes"].shape) == (2, 7)
    boxes = _np(dets["boxes"])
    assert boxes.min() >= 0 and boxes.max() <= 64
    assert set(np.unique(_np(dets["classes"]))) <= {-1, 1, 2, 3}


@pytest.mark.multibackend
def test_one_fit_step_updates_every_trainable_weight():
    model = faster_rcnn_vgg16(**TINY)
    images, targets = _batch()
    before = [_np(v).copy() for v in model.trainable_variables]
    # eager on TensorFlow: tracing the two-stage train step costs several times the step; the
    # compiled step runs in tests/detection/test_train.py (the Mask R-CNN recipe, a Faster R-CNN subclass)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=keras.backend.backend() == "tensorflow")
    hist = model.fit(images, targets, batch_size=2, epochs=1, verbose=0)
    for name in ("loss", "rpn_cls_loss", "rpn_reg_loss", "cls_loss", "box_loss"):
        assert np.isfinite(hist.history[name][0]), name
    unchanged = [v.path for v, b in zip(model.trainable_variables, before) if np.array_equal(_np(v), b)]
    assert not unchanged, f"no gradient reached {unchanged}"


@pytest.mark.slow
def test_loss_decreases_on_one_batch():
    model = faster_rcnn_vgg16(**{**TINY, "width": 0.125})
    images, targets = _batch()
    model.compile(optimizer=keras.optimizers.Adam(3e-4))
    hist = model.fit(images, targets, batch_size=2, epochs=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_save_load_round_trip(tmp_path):
    model = faster_rcnn_vgg16(**TINY)
    images, _ = _batch()
    path = tmp_path / "frcnn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, FasterRCNN) and loaded.get_config() == model.get_config()
    a, b = model(images), loaded(images)
    np.testing.assert_allclose(_np(a["class_logits"]), _np(b["class_logits"]), rtol=1e-4, atol=1e-4)
    model.save_weights(tmp_path / "w.weights.h5")
    again = faster_rcnn_vgg16(**TINY, weights=str(tmp_path / "w.weights.h5"))
    np.testing.assert_allclose(_np(again(images)["rpn_logits"]), _np(a["rpn_logits"]), rtol=1e-5, atol=1e-5)


def test_resnet50_c4_builds_and_runs():
    model = faster_rcnn_resnet50(
        num_classes=3,
        input_shape=(64, 64, 3),
        anchor_sizes=(32.0,),
        anchor_ratios=(1.0,),
        test_proposals=(16, 4),
    )
    out = model(np.zeros((1, 64, 64, 3), np.float32))
    assert tuple(out["class_logits"].shape) == (1, 4, 3)
    assert tuple(out["box_deltas"].shape) == (1, 4, 3, 4)
    assert model.roi_pooler.pooled_size == (14, 14)
    assert model.head.get_layer("conv5_block3_out").output.shape[1:] == (7, 7, 2048)


def test_full_size_vgg16_parameter_count():
    model = faster_rcnn_vgg16(num_classes=21)
    vgg16_notop = 14_714_688  # keras.applications VGG16(include_top=False)
    fc6_fc7 = 25088 * 4096 + 4096 + 4096 * 4096 + 4096
    rpn = 3 * 3 * 512 * 512 + 512 + 512 * 9 + 9 + 512 * 36 + 36
    heads = 4096 * 21 + 21 + 4096 * 84 + 84
    assert model.count_params() == vgg16_notop + fc6_fc7 + rpn + heads
    assert len(model.anchors) == 37 * 50 * 9  # 600 x 800 -> conv5_3 37 x 50


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_classes"):
        faster_rcnn_vgg16(num_classes=1, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="fixed"):
        faster_rcnn_vgg16(input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="too small"):
        faster_rcnn_vgg16(input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="weights"):
        faster_rcnn_vgg16(input_shape=(64, 64, 3), weights=3)
    model = faster_rcnn_vgg16(**TINY)
    images, _ = _batch()
    with pytest.raises(ValueError, match="targets must be a dict"):
        model.compute_loss(images, np.zeros((2, 3)), model(images, training=True))


def test_legacy_h5_weights_load_by_layer_name(tmp_path):
    import h5py

    source = faster_rcnn_vgg16(**{**TINY, "seed": 1})
    layers = {
        layer.name: layer.get_weights()
        for part in (source.backbone, source.head)
        for layer in part.layers
        if layer.weights and layer.name.startswith(("block", "fc"))
    }
    path = tmp_path / "vgg16_like.h5"
    with h5py.File(path, "w") as f:  # keras.applications' legacy layout: layer_names / weight_names
        f.attrs["layer_names"] = [n.encode() for n in layers]
        for name, values in layers.items():
            group = f.create_group(name)
            names = [f"{name}/w{i}" for i in range(len(values))]
            group.attrs["weight_names"] = [n.encode() for n in names]
            for n, v in zip(names, values):
                group.create_dataset(n, data=v)
    model = faster_rcnn_vgg16(**TINY, weights=str(path))
    for name in ("block1_conv1", "block5_conv3"):
        np.testing.assert_array_equal(model.backbone.get_layer(name).get_weights()[0], layers[name][0])
    np.testing.assert_array_equal(model.head.get_layer("fc2").get_weights()[0], layers["fc2"][0])
