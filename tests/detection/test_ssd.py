"""SSD-VGG16: architecture against the paper (maps, default boxes, parameter count), outputs, loss, weights."""

import math

import h5py
import keras
import numpy as np
import pytest

import zoo
from zoo.detection import ssd as ssd_module
from zoo.detection.postprocess import detect, rescale_detections
from zoo.detection.ssd import SSD, default_boxes_for
from zoo.weights import WeightsError

TINY = dict(num_classes=4, input_shape=(64, 64, 3), width=0.125)


def _paper_box(image, fsize, k_map, cell, box, scales_count=6, s_min=0.2, s_max=0.9, six=False):
    """The paper's formula, written out for one box (NumPy reference)."""
    s = [s_min + (s_max - s_min) * k / (scales_count - 1) for k in range(scales_count + 1)]
    ratios = [1.0, "extra", 2.0, 0.5] + ([3.0, 1 / 3] if six else [])
    r = ratios[box]
    if r == "extra":
        w = h = math.sqrt(s[k_map] * s[k_map + 1])
    else:
        w, h = s[k_map] * math.sqrt(r), s[k_map] / math.sqrt(r)
    row, col = divmod(cell, fsize)
    cx, cy = (col + 0.5) / fsize * image, (row + 0.5) / fsize * image
    return [cx - w * image / 2, cy - h * image / 2, cx + w * image / 2, cy + h * image / 2]


def test_ssd300_paper_architecture():
    model = zoo.get("ssd_vgg16", num_classes=91, input_shape=(300, 300, 3))
    assert model.feature_sizes == [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    assert model.default_boxes.shape == (8732, 4)
    # torchvision's ssd300_vgg16 (same architecture, 91 COCO classes) has 35,641,826 parameters.
    assert model.count_params() == 35_641_826
    assert model.output["class_logits"].shape[1:] == (8732, 91)
    assert model.output["box_deltas"].shape[1:] == (8732, 4)
    fc6 = model.get_layer("fc6")
    assert fc6.dilation_rate == (6, 6) and fc6.kernel_size == (3, 3) and fc6.filters == 1024
    assert model.get_layer("fc7").kernel_size == (1, 1)
    assert model.get_layer("pool5").pool_size == (3, 3) and model.get_layer("pool5").strides == (1, 1)
    norm = model.get_layer("conv4_3_norm")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.gamma), 20.0)
    boxes = model.default_boxes
    # first box of conv4_3 (s=0.2), the extra box of fc7's first cell, the last box of conv11_2 (ratio 1/2)
    np.testing.assert_allclose(boxes[0], _paper_box(300, 38, 0, 0, 0), atol=1e-3)
    start_fc7 = 38 * 38 * 4
    np.testing.assert_allclose(boxes[start_fc7 + 1], _paper_box(300, 19, 1, 0, 1, six=True), atol=1e-3)
    np.testing.assert_allclose(boxes[-1], _paper_box(300, 1, 5, 0, 3), atol=1e-3)
    assert default_boxes_for(model) is model.default_boxes


def test_ssd512_paper_architecture():
    model = zoo.get("ssd512_vgg16", num_classes=21)
    assert model.feature_sizes == [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    assert model.default_boxes.shape == (24564, 4)


def test_ssd512_is_data_on_the_same_code():
    model = zoo.get("ssd512_vgg16", num_classes=3, input_shape=(128, 128, 3), width=0.125)
    assert len(model.feature_sizes) == 7
    assert model.get_layer("conv12_2").kernel_size == (4, 4)
    assert model.default_boxes.shape[0] == model.output["class_logits"].shape[1]


@pytest.mark.parametrize(
    "size, maps, count",
    [
        (96, [(12, 12), (6, 6), (3, 3), (2, 2), (2, 2), (2, 2)], 902),
        (64, [(8, 8), (4, 4), (2, 2), (1, 1), (1, 1), (1, 1)], 390),
    ],
)
def test_smaller_inputs_follow_the_map_sizes(size, maps, count):
    model = zoo.get("ssd_vgg16", num_classes=3, input_shape=(size, size, 3), width=0.125)
    assert model.feature_sizes == maps
    assert model.default_boxes.shape == (count, 4)
    assert np.all(np.isfinite(model.default_boxes))


def test_non_square_input():
    model = zoo.get("ssd_vgg16", num_classes=3, input_shape=(64, 96, 3), width=0.125)
    assert model.feature_sizes[0] == (8, 12)
    assert model.default_boxes.shape[0] == model.output["box_deltas"].shape[1]


def test_bad_arguments():
    with pytest.raises(ValueError, match="too small"):
        zoo.get("ssd_vgg16", input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="fixed height and width"):
        zoo.get("ssd_vgg16", input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        zoo.get("ssd_vgg16", input_shape=(64, 64, 1))
    with pytest.raises(ValueError, match="num_classes"):
        zoo.get("ssd_vgg16", num_classes=1, input_shape=(64, 64, 3))
    with pytest.raises(TypeError, match="unknown keyword"):
        zoo.get("ssd_vgg16", clases=3)
    with pytest.raises(WeightsError, match="imagenet_backbone"):
        zoo.get("ssd_vgg16", weights="imagenet", **TINY)


def _raw(model, x):
    return {k: keras.ops.convert_to_numpy(v) for k, v in model(x).items()}


def test_outputs_and_detections_on_images_of_other_sizes():
    model = zoo.get("ssd_vgg16", **TINY)
    n = model.default_boxes.shape[0]
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    out = _raw(model, x)  # model(x): raw outputs; model.predict(x): detections
    assert out["class_logits"].shape == (2, n, 4) and out["box_deltas"].shape == (2, n, 4)
    images = [np.full((120, 200, 3), 90, "uint8"), x[0]]
    dets = detect(model, images, score_threshold=0.0, max_detections=10)
    assert dets["boxes"].shape == (2, 10, 4) and dets["classes"].dtype == np.int32
    k = dets["num_detections"][0]
    assert k > 0
    b = dets["boxes"][0, :k]
    assert b[:, 0].min() >= 0 and b[:, 2].max() <= 200 and b[:, 3].max() <= 120
    # the same as detecting the resized image and scaling x by 200/64, y by 120/64
    resized = keras.ops.image.resize(images[0].astype("float32"), (64, 64))
    direct = model.detect_batch(keras.ops.expand_dims(resized, 0), score_threshold=0.0, max_detections=10)
    direct = rescale_detections(direct, (64, 64), np.array([[120, 200]]))
    np.testing.assert_allclose(dets["boxes"][0], direct["boxes"][0], rtol=1e-4, atol=1e-2)
    assert set(dets["classes"][0, :k]) <= {1, 2, 3}


def test_detect_rejects_bad_images():
    model = zoo.get("ssd_vgg16", **TINY)
    with pytest.raises(ValueError, match="RGB"):
        detect(model, np.zeros((32, 32, 1)))
    with pytest.raises(ValueError, match="NaN"):
        detect(model, np.full((32, 32, 3), np.nan, "float32"))
    with pytest.raises(ValueError, match="empty"):
        detect(model, [])


def test_rescale_detections_reference():
    dets = {
        "boxes": np.array([[[10, 20, 30, 40], [0, 0, 0, 0]]], "float32"),
        "scores": np.array([[0.9, 0.0]], "float32"),
        "classes": np.array([[2, -1]], "int32"),
        "num_detections": np.array([1], "int32"),
    }
    out = rescale_detections(dets, (100, 50), np.array([[200, 25]]))
    np.testing.assert_allclose(out["boxes"][0, 0], [5, 40, 15, 80])
    np.testing.assert_allclose(out["boxes"][0, 1], 0)


def test_save_load_round_trip(tmp_path):  # the .keras format is the same on every backend
    model = zoo.get("ssd_vgg16", **TINY)
    x = np.random.default_rng(2).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    path = tmp_path / "ssd.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, SSD)
    np.testing.assert_allclose(loaded.default_boxes, model.default_boxes)
    a, b = _raw(model, x), _raw(loaded, x)
    np.testing.assert_allclose(a["class_logits"], b["class_logits"], rtol=1e-5, atol=1e-5)


def test_weights_path_and_errors(tmp_path):
    model = zoo.get("ssd_vgg16", **TINY)
    path = tmp_path / "ssd.weights.h5"
    model.save_weights(path)
    again = zoo.get("ssd_vgg16", weights=str(path), **TINY)
    x = np.random.default_rng(3).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(_raw(model, x)["box_deltas"], _raw(again, x)["box_deltas"])
    with pytest.raises(WeightsError, match="not found"):
        zoo.get("ssd_vgg16", weights=str(tmp_path / "missing.weights.h5"), **TINY)
    with pytest.raises(WeightsError):
        zoo.get("ssd_vgg16", weights=str(path), num_classes=5, input_shape=(64, 64, 3), width=0.125)


def _write_legacy_vgg16_notop(path):
    """A keras.applications-style legacy .h5 VGG16 notop file with random weights."""
    rng = np.random.default_rng(0)
    spec = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256)]
    spec += [(256, 512)] + [(512, 512)] * 5
    names = []
    values = {}
    idx = 0
    for b, n in enumerate([2, 2, 3, 3, 3], start=1):
        for i in range(1, n + 1):
            cin, cout = spec[idx]
            idx += 1
            name = f"block{b}_conv{i}"
            names.append(name)
            values[name] = [
                rng.normal(size=(3, 3, cin, cout)).astype("float32"),
                rng.normal(size=cout).astype("float32"),
            ]
        names.append(f"block{b}_pool")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in names]
        for n in names:
            g = f.create_group(n)
            ws = values.get(n, [])
            g.attrs["weight_names"] = [f"{n}/{k}:0".encode() for k in ("kernel", "bias")[: len(ws)]]
            for k, w in zip(("kernel", "bias"), ws):
                g.create_dataset(f"{n}/{k}:0", data=w)
    return values


def test_imagenet_backbone_loads_vgg16_notop_by_name(tmp_path, monkeypatch):
    path = tmp_path / "vgg16_notop.h5"
    values = _write_legacy_vgg16_notop(path)
    monkeypatch.setattr(ssd_module, "imagenet_file", lambda arch, include_top=True: path)
    model = zoo.get("ssd_vgg16", num_classes=3, input_shape=(64, 64, 3), weights="imagenet_backbone")
    np.testing.assert_array_equal(model.get_layer("block5_conv3").get_weights()[0], values["block5_conv3"][0])
    # keras.applications' BGR input order is turned into the model's RGB order
    np.testing.assert_array_equal(
        model.get_layer("block1_conv1").get_weights()[0], values["block1_conv1"][0][:, :, ::-1]
    )
    with pytest.raises(WeightsError, match="width=1.0"):
        zoo.get("ssd_vgg16", weights="imagenet_backbone", **TINY)
