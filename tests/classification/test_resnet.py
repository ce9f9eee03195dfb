"""ResNet 18/34/50/101/152: reference parameter counts, shortcut options, small forward passes,
keras.applications layer compatibility and ImageNet weight-file equivalence, clear errors."""

import hashlib

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import zoo
import zoo.weights
from zoo.classification import resnet  # noqa: F401  (registers the models)
from zoo.classification.resnet import RESNET_CONFIGS, default_cfgs
from zoo.weights import WeightFile


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _bn_channels(model):
    return sum(
        layer.weights[0].shape[0]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )


# torchvision's published counts (trainable parameters: torchvision does not count BN running statistics).
TORCHVISION = {"resnet18": 11_689_512, "resnet34": 21_797_672}
# keras.applications' counts (all parameters, top included); also checked against a fresh build below.
KERAS_APPLICATIONS = {"resnet50": 25_636_712, "resnet101": 44_707_176, "resnet152": 60_419_944}


@pytest.mark.parametrize("name", ["resnet18", "resnet34"])
def test_basic_resnets_match_torchvision_counts(name):
    model = zoo.get(name)
    assert _trainable(model) == TORCHVISION[name] == default_cfgs[name].references["num_params"]
    # Keras additionally counts two moving statistics per BN channel; no convolution has a bias.
    assert model.count_params() == TORCHVISION[name] + 2 * _bn_channels(model)
    assert not any(layer.use_bias for layer in model.layers if isinstance(layer, keras.layers.Conv2D))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, reference",
    [("resnet101", keras.applications.ResNet101), ("resnet152", keras.applications.ResNet152)],
)
def test_deep_resnets_match_keras_applications(name, reference):
    ours = zoo.get(name)
    ref = reference(weights=None)
    assert ours.count_params() == ref.count_params() == KERAS_APPLICATIONS[name]
    assert [la.name for la in ours.layers[1:]] == [la.name for la in ref.layers[1:]]


def _projection_params(block):
    """All parameters of the option-B projections (conv + BN), from the paper's stage widths."""
    widths = [64, 128, 256, 512] if block == "basic" else [256, 512, 1024, 2048]
    inputs = [64, *widths[:-1]]
    bias = 0 if block == "basic" else 1  # keras.applications' bottleneck convolutions have biases
    return sum(cin * cout + bias * cout + 4 * cout for cin, cout in zip(inputs, widths) if cin != cout)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_shortcut_a_is_parameter_free(name):
    """Option A = the reference model (option B) without its projections; no layer has weights added."""
    block = RESNET_CONFIGS[name][0]
    a = zoo.get(name, shortcut="A")
    reference = {**TORCHVISION, **KERAS_APPLICATIONS}[name]
    if block == "basic":  # torchvision's count is trainable only: add B's moving statistics back
        reference += 2 * (_bn_channels(a) + 128 + 256 + 512)
    assert a.count_params() == reference - _projection_params(block)
    assert not any(layer.name.endswith("_0_conv") for layer in a.layers)
    assert a.get_layer("conv3_block1_0_pad").output.shape == a.get_layer("conv3_block1_add").output.shape


@pytest.mark.parametrize("shortcut", [pytest.param("A", marks=pytest.mark.multibackend), "B"])
def test_resnet18_small_forward_pass(shortcut, rng):
    model = zoo.get("resnet18", classes=10, input_shape=(32, 32, 3), shortcut=shortcut)
    # predict compiles the whole graph once (op-by-op eager calls are slow on JAX)
    out = np.asarray(model.predict(rng.uniform(0, 1, (2, 32, 32, 3)).astype("float32"), verbose=0))
    assert out.shape == (2, 10)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)


def test_variable_input_size_without_top(rng):
    model = zoo.get("resnet18", include_top=False, pooling="max")
    assert model.input_shape == (None, None, None, 3)
    for size in (32, 48):
        assert np.asarray(model(rng.uniform(0, 1, (1, size, size, 3)).astype("float32"))).shape == (1, 512)


def _randomize(model, seed=1):
    """Random non-trivial weights (positive BN variances) so that equal outputs mean equal weights."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.normal(0.0, 0.05, w.shape)
        if "variance" in w.path:
            value = rng.uniform(0.5, 1.5, w.shape)
        elif "gamma" in w.path:
            value = rng.uniform(0.8, 1.2, w.shape)
        w.assign(value.astype("float32"))


def _cache_imagenet_file(monkeypatch, tmp_path, arch, include_top, write):
    """Writes a legacy weight file into a tmp Keras cache and points zoo.weights.IMAGENET at it."""
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    fname = f"{arch}_test_{'top' if include_top else 'notop'}.h5"
    path = home / "models" / fname
    with h5py.File(path, "w") as f:
        write(f)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(home))  # Keras reads KERAS_HOME at import
    entry = WeightFile(fname, "https://invalid.example/no-network-in-tests.h5", md5)
    monkeypatch.setitem(zoo.weights.IMAGENET, arch, (entry, entry))
    return path


def test_resnet50_is_keras_applications_and_loads_its_weight_file(monkeypatch, tmp_path, rng):
    """Same layers (names, order, shapes), same count, and the same outputs from the same weight file."""
    shape = (64, 64, 3)  # the count does not depend on the input size (global pooling before the top)
    ref = keras.applications.ResNet50(weights=None, input_shape=shape)
    _randomize(ref)
    _cache_imagenet_file(
        monkeypatch, tmp_path, "resnet50", True, lambda f: legacy_h5_format.save_weights_to_hdf5_group(f, ref)
    )
    ours = zoo.get("resnet50", weights="imagenet", input_shape=shape)
    assert ours.count_params() == ref.count_params() == KERAS_APPLICATIONS["resnet50"]
    assert [(la.name, [w.shape for w in la.weights]) for la in ours.layers[1:]] == [
        (la.name, [w.shape for w in la.weights]) for la in ref.layers[1:]
    ]  # the input layer's name aside
    assert ours.get_layer("conv4_block6_out").output.shape == (None, 4, 4, 1024)
    x = rng.uniform(-100, 100, (2, *shape)).astype("float32")
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(ref(x)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_shape=(16, 16, 3)), "too small"),
        (dict(weights="imagenet", classes=10), "classes=1000"),
        (dict(classes=10, num_classes=5), "disagree"),
        (dict(shortcut="C"), "shortcut must be"),
        (dict(weights="imagenet", shortcut="A"), "shortcut='B'"),
        (dict(input_shape=(64, 64, 5)), "channels"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.get("resnet50", **kwargs)


def test_no_imagenet_weights_for_resnet18():
    with pytest.raises(ValueError, match="no official ImageNet weights"):
        zoo.get("resnet18", weights="imagenet")


def test_registry_metadata():
    info = zoo.registry.entry("resnet50")
    # keras.applications' file, then torchvision's sets (issue 13)
    assert info.weights == ("imagenet", "torchvision", "IMAGENET1K_V1", "IMAGENET1K_V2")
    assert info.preprocess == "caffe"
    assert zoo.registry.entry("resnet18").preprocess == "torch"
    for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        refs = zoo.registry.entry(name).references
        assert refs["num_params_source"] and refs["imagenet_top1_source"]
