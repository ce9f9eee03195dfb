"""OverFeat's convolutionalized classifier: each score-map cell against the original classifier."""

import keras
import numpy as np
import pytest

import zoo
from zoo.overfeat import convolutionalize, sliding_window_detect, window_boxes


def _head_on_window(model, feats, i, j, fh, fw):
    """The ORIGINAL classifier's top layers (its own Dense weights) on one window of a feature map."""
    x = feats[:, i : i + fh, j : j + fw, :].reshape(len(feats), -1)
    top = False
    for layer in model.layers:
        if isinstance(layer, keras.layers.Flatten):
            top = True
        elif top and isinstance(layer, keras.layers.Dense):
            x = keras.ops.convert_to_numpy(layer(x))
    return x


def test_valid_padding_classifier_cells_equal_the_classifier_on_crops(rng):
    model = keras.Sequential(
        [
            keras.Input((20, 20, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(6, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    net = convolutionalize(model)
    assert net.overfeat_stride == 4 and net.overfeat_window == (20, 20)
    image = rng.uniform(0, 1, (1, 36, 28, 3)).astype("float32")
    scores = keras.ops.convert_to_numpy(net(image))
    assert scores.shape == (1, 5, 3, 5)
    for k, (x1, y1, x2, y2) in enumerate(window_boxes(scores.shape[1:3], 4, (20, 20)).astype(int)):
        crop = image[:, y1:y2, x1:x2]
        want = keras.ops.convert_to_numpy(model(crop))
        np.testing.assert_allclose(scores[0, k // 3, k % 3], want[0], atol=1e-6)


@pytest.mark.parametrize(
    "name,kwargs,big,grid",
    [
        ("alexnet_lrn", dict(input_shape=(67, 67, 3)), 99, 2),  # stride 32: 67 -> 1x1, 99 -> 2x2
        ("vgg16", dict(input_shape=(32, 32, 3)), 64, 2),  # stride 32: 32 -> 1x1, 64 -> 2x2
    ],
)
def test_alexnet_vgg16_cells_equal_the_classifier_head_on_each_window(name, kwargs, big, grid, rng):
    model = zoo.get(name, classes=5, **kwargs)
    net = convolutionalize(model)
    assert net.overfeat_stride == 32
    small = rng.uniform(0, 255, (1, *kwargs["input_shape"])).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(net(small))[:, 0, 0], keras.ops.convert_to_numpy(model(small)), atol=1e-5
    )
    image = rng.uniform(0, 255, (1, big, big, 3)).astype("float32")
    scores = keras.ops.convert_to_numpy(net(image))
    assert scores.shape == (1, grid, grid, 5)
    first_conv = [layer for layer in net.layers if layer.name.endswith("_conv")][0]
    feats = keras.ops.convert_to_numpy(keras.Model(net.input, first_conv.input)(image))
    fh, fw = first_conv.kernel_size
    for i in range(grid):
        for j in range(grid):
            np.testing.assert_allclose(
                scores[0, i, j], _head_on_window(model, feats, i, j, fh, fw)[0], atol=1e-5
            )
    # the crop differs only through the body's zero padding: same prediction here, close scores
    crop = image[:, 32 : 32 + small.shape[1], 32 : 32 + small.shape[2]]
    assert np.abs(scores[0, 1, 1] - keras.ops.convert_to_numpy(model(crop))[0]).max() < 0.5


@pytest.mark.slow
def test_full_size_alexnet_and_vgg16_give_1x1_and_2x2_maps(rng):
    for name in ("alexnet", "vgg16"):
        keras.backend.clear_session()
        net = convolutionalize(zoo.get(name, classes=10, input_shape=(224, 224, 3)))
        assert net(np.zeros((1, 224, 224, 3), "float32")).shape == (1, 1, 1, 10)
        assert net(np.zeros((1, 256, 256, 3), "float32")).shape == (1, 2, 2, 10)


def test_bad_models_are_refused():
    with pytest.raises(ValueError, match="no Flatten"):
        convolutionalize(zoo.get("vgg16", include_top=False, input_shape=(32, 32, 3)))
    with pytest.raises(ValueError, match="adaptive pooling"):
        convolutionalize(zoo.get("alexnet", classes=3, input_shape=(96, 96, 3)))


def test_sliding_window_detect_merges_scales(rng):
    inp = keras.Input((None, None, 3))
    feat = keras.layers.Conv2D(2, 16, strides=16, name="body")(inp)
    scores = keras.layers.Conv2D(3, 1, activation="softmax", name="cls")(feat)
    boxes = keras.layers.Conv2D(4, 1, activation="sigmoid", name="box")(feat)
    net = keras.Model(inp, {"class": scores, "box": boxes})
    net.overfeat_stride, net.overfeat_window = 16, (16, 16)
    dets = sliding_window_detect(
        net, rng.uniform(0, 255, (2, 64, 64, 3)), scales=(1.0, 0.5), score_threshold=0.0
    )
    assert dets["boxes"].shape == (2, 20, 4) and np.all(dets["boxes"] <= 64)
    assert set(np.unique(dets["classes"])) <= {-1, 1, 2}


@pytest.mark.parametrize("attach", ["conv", "fc"])
def test_two_head_localizer_cells_equal_the_localizer_on_crops(attach, rng):
    """The branching zoo.localization top (class + box heads) becomes two score maps; with a
    valid-padding body each cell equals the localizer's answer on its crop."""
    from tests.model_helpers import tiny_conv_body
    from zoo.localization import build_localizer

    _, loc = build_localizer(tiny_conv_body(32), num_classes=4, attach=attach, fc_units=8)
    net = convolutionalize(loc)
    assert net.overfeat_stride == 4 and net.overfeat_window == (32, 32)
    image = rng.uniform(0, 255, (1, 40, 44, 3)).astype("float32")
    out = {k: keras.ops.convert_to_numpy(v) for k, v in net(image).items()}
    assert out["class"].shape == (1, 3, 4, 4) and out["box"].shape == (1, 3, 4, 4)
    for k, (x1, y1, x2, y2) in enumerate(window_boxes((3, 4), 4, (32, 32)).astype(int)):
        want = loc(image[:, y1:y2, x1:x2])
        for head in ("class", "box"):
            np.testing.assert_allclose(
                out[head][0, k // 4, k % 4], keras.ops.convert_to_numpy(want[head])[0], atol=1e-5
            )


def test_window_examples_label_centred_objects_and_background():
    from zoo.overfeat import window_examples

    image = np.zeros((1, 96, 96, 3), "uint8")
    boxes, classes = [np.array([[20.0, 20, 36, 36]])], [np.array([2])]  # centre (28, 28), side 16
    # tolerance 8: every positive window holds the whole box (no clipping), so it maps back exactly
    w = window_examples(image, boxes, classes, 32, 16, (1.0,), center_tolerance=8, background_ratio=10)
    pos = w["has_box"]
    assert set(w["classes"][pos]) == {2} and set(w["classes"][~pos]) <= {0} and (~pos).any()
    # every positive window's box, back in image pixels, is the object's box
    for rel in w["boxes"][pos]:
        origin = [20 - rel[0] * 32, 20 - rel[1] * 32] * 2
        np.testing.assert_allclose(rel * 32 + origin, boxes[0][0], atol=1e-4)
        assert np.all(np.abs((rel[:2] + rel[2:]) / 2 * 32 - 16) <= 8)
    with pytest.raises(ValueError, match="smaller than the 32 px window"):
        window_examples(image, boxes, classes, 32, 16, (0.3,))


@pytest.mark.slow  # tiny OverFeat experiment end to end (window cutting, two phases, detection, mAP, PNG)
def test_overfeat_experiment_writes_report_and_reloads(tmp_path):
    from zoo.overfeat import run_overfeat_experiment

    kwargs = dict(train_images=6, val_images=8, class_epochs=1, box_epochs=1, image_size=64, scales=(1.0, 1.5),
                  verbose=0)  # fmt: skip
    report = run_overfeat_experiment(tmp_path, **kwargs)
    assert report["stride"] == 16 and report["train_windows_with_object"] > 0
    assert 0 <= report["voc_map"] <= 1 and (tmp_path / "detections.png").exists()
    again = run_overfeat_experiment(tmp_path, **kwargs)  # both phases reloaded from their checkpoints
    assert again["heldout_window_accuracy"] == report["heldout_window_accuracy"]
