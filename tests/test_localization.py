"""Classification + localization: data, both attachment points, the two-phase training, bad boxes."""

import keras
import numpy as np
import pytest

import zoo
from tests.model_helpers import tiny_conv_body as _tiny_body
from zoo.data.localization import check_relative_boxes, single_object_arrays
from zoo.localization import build_localizer, evaluate_localizer, paired_iou, train_two_phase


def test_single_object_data_is_deterministic_and_inside_the_image():
    a, b = single_object_arrays(6, 48, seed=3), single_object_arrays(6, 48, seed=3)
    assert a["images"].shape == (6, 48, 48, 3) and a["boxes"].shape == (6, 4)
    np.testing.assert_array_equal(a["images"], b["images"])
    assert set(a["classes"]) <= {0, 1, 2}
    assert np.all((a["boxes"] >= 0) & (a["boxes"] <= 1))


def test_boxes_outside_the_image_are_refused():
    with pytest.raises(ValueError, match="Box 1 .* not a box inside the image"):
        check_relative_boxes([[0.1, 0.1, 0.5, 0.5], [0.5, 0.5, 1.2, 0.9]])
    with pytest.raises(ValueError, match="Box 0"):
        check_relative_boxes([[0.5, 0.1, 0.4, 0.5]])


def test_paired_iou_against_hand_values():
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1], [0, 0, 1, 1.0]])
    b = np.array([[1, 0, 3, 2], [0, 0, 1, 1], [2, 2, 3, 3.0]])
    np.testing.assert_allclose(paired_iou(a, b), [1 / 3, 1.0, 0.0])


@pytest.mark.parametrize("attach", ["conv", "fc"])
def test_two_phase_training_trains_only_the_box_head_second(attach):
    body = _tiny_body()
    clf, loc = build_localizer(body, num_classes=3, attach=attach, fc_units=16)
    assert clf.output_shape == (None, 3) and tuple(loc.get_layer("box").output.shape) == (None, 4)
    shared_box = attach == "fc"
    assert (loc.get_layer("box").input is loc.get_layer("cls_fc2").output) == shared_box
    data = single_object_arrays(16, 32)
    x = data["images"].astype("float32")
    before = {w.path: np.array(w) for w in loc.weights}
    hist = train_two_phase(
        clf, loc, x, data["classes"], data["boxes"], class_epochs=1, box_epochs=1, verbose=0
    )
    assert len(hist["class_loss"]) == 1 and np.isfinite(hist["box_loss"][0])
    body_w = body.layers[2].kernel
    assert not np.allclose(np.array(body_w), before[body_w.path])  # moved in phase 1
    metrics = evaluate_localizer(loc, x, data["classes"], data["boxes"])
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["mean_iou"] <= 1


def test_phase_two_freezes_the_classifier():
    clf, loc = build_localizer(_tiny_body(), num_classes=3, fc_units=8)
    data = single_object_arrays(8, 32)
    x = data["images"].astype("float32")
    train_two_phase(clf, loc, x, data["classes"], data["boxes"], class_epochs=1, box_epochs=0, verbose=0)
    after_phase1 = {w.path: np.array(w) for w in loc.weights}
    train_two_phase(clf, loc, x, data["classes"], data["boxes"], class_epochs=0, box_epochs=1, verbose=0)
    moved = {w.path for w in loc.weights if not np.allclose(np.array(w), after_phase1[w.path])}
    assert moved and all(p.startswith(("box", "box_fc1")) for p in moved), moved


def test_bad_attach_and_body():
    body = zoo.get("vgg11", include_top=False, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="attach must be one of"):
        build_localizer(body, 3, attach="middle")
    with pytest.raises(ValueError, match="4-D feature map"):
        build_localizer(keras.Model(body.input, keras.layers.GlobalAveragePooling2D()(body.output)), 3)


def test_zoo_body_builds_with_both_heads():
    body = zoo.get("vgg11", include_top=False, input_shape=(32, 32, 3))
    for attach in ("conv", "fc"):
        clf, loc = build_localizer(body, num_classes=5, attach=attach, fc_units=8)
        out = loc(np.zeros((1, 32, 32, 3), "float32"))
        assert out["class"].shape == (1, 5) and out["box"].shape == (1, 4)
