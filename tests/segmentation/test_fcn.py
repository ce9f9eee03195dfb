"""FCN-32s/16s/8s: parameter counts of the authors' models, shapes, skips, upsampling, weights."""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest

import zoo
from zoo.layers import BilinearUpsampling
from zoo.layers.unpooling import bilinear_kernel

VGG16_BODY = 14_714_688  # keras.applications VGG16(include_top=False)
FC = 7 * 7 * 512 * 4096 + 4096 + 4096 * 4096 + 4096


def _authors_count(skips: int, classes: int = 21) -> int:
    """voc-fcn*s layer list: body, fc6/fc7, scores (1x1 + bias), deconvolutions without bias."""
    score = lambda cin: cin * classes + classes  # noqa: E731
    deconv = lambda k: k * k * classes * classes  # noqa: E731
    total = VGG16_BODY + FC + score(4096)
    if skips == 0:
        return total + deconv(64)
    total += deconv(4) + score(512)
    if skips == 1:
        return total + deconv(32)
    return total + deconv(4) + score(256) + deconv(16)


def test_fcn8s_parameter_count_matches_the_authors_model():
    model = zoo.get("fcn8s_vgg16")
    assert model.count_params() == _authors_count(2) == 134_489_759
    assert zoo.info("fcn8s_vgg16", measure=False)["references"]["num_params"] == 134_489_759
    # Paper Table 1: 134M parameters for the convolutionalised VGG16.
    assert round((VGG16_BODY + FC) / 1e6) == 134


@pytest.mark.slow
@pytest.mark.parametrize("name,skips", [("fcn32s_vgg16", 0), ("fcn16s_vgg16", 1)])
def test_fcn32s_fcn16s_parameter_counts(name, skips):
    model = zoo.get(name)
    assert (
        model.count_params()
        == _authors_count(skips)
        == zoo.info(name, measure=False)["references"]["num_params"]
    )


@pytest.mark.multibackend
def test_fcn8s_logits_at_input_resolution_for_a_size_divisible_by_32():
    model = zoo.get("fcn8s_vgg16", num_classes=3, input_shape=(None, None, 3), fc_units=8)
    out = keras.ops.convert_to_numpy(model(np.zeros((1, 64, 96, 3), "float32")))
    assert out.shape == (1, 64, 96, 3)


@pytest.mark.parametrize("name", ["fcn32s_vgg16", "fcn16s_vgg16"])
def test_fcn32s_fcn16s_logits_at_input_resolution(name):
    model = zoo.get(name, num_classes=3, input_shape=(64, 96, 3), fc_units=8)
    assert keras.ops.convert_to_numpy(model(np.zeros((1, 64, 96, 3), "float32"))).shape == (1, 64, 96, 3)


def test_skip_structure_and_upsampling_setup():
    model = zoo.get("fcn8s_vgg16", num_classes=4, input_shape=(64, 64, 3), fc_units=8)
    names = {layer.name for layer in model.layers}
    assert {
        "fc6",
        "fc7",
        "score_fr",
        "upscore2",
        "score_pool4",
        "fuse_pool4",
        "upscore_pool4",
        "score_pool3",
        "fuse_pool3",
        "upscore8",
    } <= names
    assert model.get_layer("fc6").kernel.shape == (7, 7, 512, 8)
    assert model.get_layer("fuse_pool4").output.shape[1:3] == (4, 4)  # stride 16
    assert model.get_layer("fuse_pool3").output.shape[1:3] == (8, 8)  # stride 8
    final = model.get_layer("upscore8")
    assert isinstance(final, BilinearUpsampling) and not final.trainable
    assert model.get_layer("upscore2").trainable
    np.testing.assert_allclose(np.asarray(final.kernel)[:, :, 1, 1], bilinear_kernel(16))
    assert not np.any(np.asarray(model.get_layer("score_pool3").kernel))  # zero-initialised
    learned = zoo.get(
        "fcn16s_vgg16", num_classes=4, input_shape=(64, 64, 3), fc_units=8, upsampling="learned"
    )
    assert learned.get_layer("upscore16").trainable


def test_input_size_errors_and_bad_arguments():
    with pytest.raises(ValueError, match="multiples of 32"):
        zoo.get("fcn8s_vgg16", input_shape=(100, 96, 3))
    with pytest.raises(ValueError, match="upsampling"):
        zoo.get("fcn8s_vgg16", upsampling="nearest")
    with pytest.raises(ValueError, match="fc_units=4096"):
        zoo.get("fcn32s_vgg16", weights="imagenet", fc_units=8)


def _legacy_h5(path, layers):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in layers]
        for name, arrays in layers.items():
            g = f.create_group(name)
            wnames = [f"{name}/w{i}:0".encode() for i in range(len(arrays))]
            g.attrs["weight_names"] = wnames
            for wn, a in zip(wnames, arrays):
                g.create_dataset(wn.decode(), data=a)


def test_imagenet_backbone_loads_by_layer_name(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(3, 3, 3, 64)).astype("float32"), rng.normal(size=64).astype("float32")
    path = tmp_path / "vgg16_notop.h5"
    _legacy_h5(path, {"block1_conv1": [kernel, bias]})
    seen = {}

    def fake_imagenet_file(arch, include_top=True):
        seen.update(arch=arch, include_top=include_top)
        return path

    monkeypatch.setattr("zoo.weights.imagenet_file", fake_imagenet_file)
    model = zoo.get(
        "fcn32s_vgg16", num_classes=2, input_shape=(32, 32, 3), fc_units=8, weights="imagenet_backbone"
    )
    assert seen == {"arch": "vgg16", "include_top": False}
    np.testing.assert_allclose(np.asarray(model.get_layer("block1_conv1").kernel), kernel)


def test_save_and_load_round_trip(tmp_path):
    model = zoo.get("fcn8s_vgg16", num_classes=3, input_shape=(32, 32, 3), fc_units=8)
    x = np.random.default_rng(0).random((1, 32, 32, 3)).astype("float32")
    model.get_layer("score_pool3").set_weights(
        [np.full((1, 1, 256, 3), 0.01, "float32"), np.zeros(3, "float32")]
    )
    model.save(tmp_path / "fcn.keras")
    loaded = keras.models.load_model(tmp_path / "fcn.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_imagenet_classifier_is_convolutionalised_into_fc6_fc7(tmp_path):
    from zoo.segmentation.fcn import load_convolutionalized_vgg16

    rng = np.random.default_rng(1)
    fc1 = rng.normal(size=(7 * 7 * 512, 8)).astype("float32")
    fc2 = rng.normal(size=(8, 8)).astype("float32")
    path = tmp_path / "vgg16_top.h5"
    _legacy_h5(
        path,
        {
            "block1_conv1": [np.ones((3, 3, 3, 64), "float32"), np.zeros(64, "float32")],
            "fc1": [fc1, np.ones(8, "float32")],
            "fc2": [fc2, np.zeros(8, "float32")],
            "predictions": [np.zeros((8, 1000), "float32"), np.zeros(1000, "float32")],
        },
    )
    model = zoo.get("fcn32s_vgg16", num_classes=2, input_shape=(224, 224, 3), fc_units=8)
    assert load_convolutionalized_vgg16(model, path) == ["block1_conv1", "fc6", "fc7"]
    # fc6 (same padding, ReLU) at the centre of a 7x7x512 map sees the whole map: it equals fc1 (ReLU)
    # on the map flattened as keras.layers.Flatten does (row by row, channels last).
    feature = rng.normal(size=(1, 7, 7, 512)).astype("float32")
    centre = keras.ops.convert_to_numpy(model.get_layer("fc6")(feature))[0, 3, 3]
    np.testing.assert_allclose(centre, np.maximum(feature.reshape(-1) @ fc1 + 1.0, 0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.asarray(model.get_layer("fc7").kernel)[0, 0], fc2)
