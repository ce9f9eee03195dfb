"""VGG and AlexNet: the papers' and references' parameter counts, shapes, errors."""

import keras
import numpy as np
import pytest

import zoo
from zoo.classification.vgg import CONFIGS, VARIANTS, default_cfgs

# Paper Table 2 (millions of parameters, rounded) for configurations A, A-LRN, B, C, D, E.
PAPER_MILLIONS = {"vgg11": 133, "vgg11_lrn": 133, "vgg13": 133, "vgg16_c": 134, "vgg16": 138, "vgg19": 144}


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_vgg_reference_counts(name):
    model = zoo.get(name)
    expected = default_cfgs[name].references["num_params"]
    count = _trainable(model) if name.endswith("_bn") else model.count_params()
    assert count == expected
    if name in PAPER_MILLIONS:
        assert round(model.count_params() / 1e6) == PAPER_MILLIONS[name]


def test_vgg16_matches_keras_applications_layer_for_layer():
    ours = zoo.get("vgg16", include_top=False, input_shape=(32, 32, 3))
    ref = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    ours_w = {layer.name: [w.shape for w in layer.weights] for layer in ours.layers if layer.weights}
    ref_w = {layer.name: [w.shape for w in layer.weights] for layer in ref.layers if layer.weights}
    assert ours_w == ref_w


def test_config_c_uses_1x1_convolutions():
    model = zoo.get("vgg16_c", include_top=False, input_shape=(32, 32, 3))
    assert model.get_layer("block3_conv3").kernel_size == (1, 1)
    assert model.get_layer("block3_conv2").kernel_size == (3, 3)
    assert sum(isinstance(s, tuple) for block in CONFIGS["C"] for s in block) == 3


def test_vgg11_lrn_has_lrn_after_first_conv():
    model = zoo.get("vgg11_lrn", include_top=False, input_shape=(32, 32, 3))
    names = [layer.name for layer in model.layers]
    assert names.index("block1_lrn") == names.index("block1_conv1") + 1


@pytest.mark.multibackend
@pytest.mark.parametrize("name", ["vgg11", "vgg11_bn", "alexnet"])
def test_small_forward_pass(name, rng):
    size = 64 if name == "alexnet" else 32
    model = zoo.get(name, classes=7, input_shape=(size, size, 3))
    out = np.asarray(model.predict(rng.uniform(0, 1, (2, size, size, 3)).astype("float32"), verbose=0))
    assert out.shape == (2, 7)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)


def test_pooling_and_no_top():
    feats = zoo.get("vgg11", include_top=False, pooling="avg", input_shape=(32, 32, 3))
    assert feats.output_shape == (None, 512)
    fmap = zoo.get("vgg11", include_top=False, input_shape=(64, 64, 3))
    assert fmap.output_shape == (None, 2, 2, 512)
    with pytest.raises(ValueError, match="pooling"):
        zoo.get("vgg11", include_top=False, pooling="median")


def test_alexnet_counts():
    assert zoo.get("alexnet").count_params() == 61_100_840  # torchvision
    assert zoo.get("alexnet_lrn").count_params() == 60_965_224  # paper / Caffe, two towers
    assert zoo.get("alexnet_lrn", grouped=False).count_params() == 62_378_344


def test_alexnet_lrn_follows_paper_table():
    model = zoo.get("alexnet_lrn")
    assert model.input_shape == (None, 227, 227, 3)
    assert model.get_layer("conv1").kernel_size == (11, 11) and model.get_layer("conv1").strides == (4, 4)
    assert [model.get_layer(f"conv{i}").filters for i in range(1, 6)] == [96, 256, 384, 384, 256]
    assert model.get_layer("conv1").output.shape[1:3] == (55, 55)
    assert model.get_layer("pool1").pool_size == (3, 3) and model.get_layer("pool1").strides == (2, 2)
    assert model.get_layer("conv1_lrn").get_config()["beta"] == 0.75
    assert model.get_layer("fc6").units == 4096 and model.get_layer("fc6_dropout").rate == 0.5


def test_input_tensor_argument():
    inp = keras.Input((40, 40, 3))
    model = zoo.get("vgg11", include_top=False, input_tensor=inp, pooling="max")
    assert model.inputs[0] is inp
    assert model.output_shape == (None, 512)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_shape=(16, 16, 3)), "too small"),
        (dict(input_shape=(32, 32)), "height, width, channels"),
        (dict(weights="imagenet", classes=10), "classes=1000"),
        (dict(classes=10, num_classes=12), "disagree"),
        (dict(classes=0), "positive"),
        (dict(weights=3), "weights must be"),
        (dict(weights="imagenet", input_shape=(64, 64, 3)), "224, 224, 3"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.get("vgg16", **kwargs)


def test_no_imagenet_weights_for_vgg11():
    with pytest.raises(ValueError, match="no official ImageNet weights"):
        zoo.get("vgg11", weights="imagenet")
