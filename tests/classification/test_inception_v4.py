"""Inception-v4, Inception-ResNet-v1/v2: reference parameter counts, the paper's block structure,
keras.applications InceptionResNetV2 weight-file equivalence (random weights), small inputs."""

import hashlib

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import zoo
import zoo.weights
from zoo.classification import inception_v4  # noqa: F401  (registers the models)
from zoo.weights import WeightFile

OSMR_INCEPTION_V4 = 42_679_816  # osmr/imgclsmob InceptionV4 (trainable, affine BN); keras-hub preset
KERAS_INCEPTION_RESNET_V2 = 55_873_736  # keras.applications, with the top
OSMR_INCEPTION_RESNET_V2 = 55_843_464  # osmr/imgclsmob InceptionResNetV2 (trainable, affine BN)


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _bn_channels(model):
    return sum(la.beta.shape[0] for la in model.layers if isinstance(la, keras.layers.BatchNormalization))


def _paper_resnet_v1_count():
    """Inception-ResNet-v1 from the paper's Figures 14, 10, 7, 11, 12, 13 (Keras accounting:
    conv without bias + BN beta, moving mean and variance; linear 1x1 projections with bias)."""

    def c(kh, kw, cin, cout):
        return kh * kw * cin * cout + 3 * cout

    def up(cin, cout):
        return cin * cout + cout

    stem = c(3, 3, 3, 32) + c(3, 3, 32, 32) + c(3, 3, 32, 64) + c(1, 1, 64, 80) + c(3, 3, 80, 192)
    stem += c(3, 3, 192, 256)
    a = 3 * c(1, 1, 256, 32) + 3 * c(3, 3, 32, 32) + up(96, 256)
    red_a = c(3, 3, 256, 384) + c(1, 1, 256, 192) + c(3, 3, 192, 192) + c(3, 3, 192, 256)  # k,l,m,n
    b = 2 * c(1, 1, 896, 128) + c(1, 7, 128, 128) + c(7, 1, 128, 128) + up(256, 896)
    red_b = 3 * c(1, 1, 896, 256) + c(3, 3, 256, 384) + 3 * c(3, 3, 256, 256)
    cc = 2 * c(1, 1, 1792, 192) + c(1, 3, 192, 192) + c(3, 1, 192, 192) + up(384, 1792)
    return stem + 5 * a + red_a + 10 * b + red_b + 5 * cc + 1792 * 1000 + 1000


def test_inception_v4_count_and_structure():
    model = zoo.get("inception_v4")
    # PyTorch counts BN's gamma and beta, Keras (scale=False) beta and the two moving statistics.
    assert _trainable(model) + _bn_channels(model) == OSMR_INCEPTION_V4
    assert model.count_params() == OSMR_INCEPTION_V4 + _bn_channels(model) == 42_711_400
    assert zoo.registry.entry("inception_v4").references["num_params"] == 42_711_400
    shapes = {n: model.get_layer(n).output.shape[1:] for n in ("mixed_5a", "reduction_a", "reduction_b")}
    assert shapes == {"mixed_5a": (35, 35, 384), "reduction_a": (17, 17, 1024), "reduction_b": (8, 8, 1536)}
    names = [la.name for la in model.layers]
    assert [sum(n == f"inception_{k}_{i}" for n in names for i in range(1, 9)) for k in "abc"] == [4, 7, 3]
    assert model.get_layer("dropout").rate == 0.2  # keep 0.8


def test_inception_resnet_v1_count_matches_paper_figures():
    model = zoo.get("inception_resnet_v1")
    assert model.count_params() == _paper_resnet_v1_count() == 22_769_848
    assert zoo.registry.entry("inception_resnet_v1").references["num_params"] == 22_769_848
    assert model.get_layer("block8_5").output.shape[1:] == (8, 8, 1792)
    scales = {la.name.split("_")[0]: la.scale for la in model.layers if la.name.endswith("_scale")}
    assert scales == {"block35": 0.17, "block17": 0.10, "block8": 0.20}  # section 3.3: 0.1 - 0.3


def test_inception_resnet_v2_counts_match_keras_and_osmr():
    model = zoo.get("inception_resnet_v2")
    assert model.count_params() == KERAS_INCEPTION_RESNET_V2
    assert _trainable(model) + _bn_channels(model) == OSMR_INCEPTION_RESNET_V2
    assert model.get_layer("conv_7b_ac").output.shape[1:] == (8, 8, 1536)
    weighted = [la.name for la in model.layers if la.weights]
    assert weighted[0] == "conv2d_1" and "conv2d_203" in weighted and "conv2d_204" not in weighted
    assert model.get_layer("block8_10_scale").scale == 1.0 and "block8_10_ac" not in [
        la.name for la in model.layers
    ]


def _keras2_mapping(model):
    """keras.applications' unnamed conv/BN layers -> their Keras 2 weight-file names. Keras 2 numbered
    them from 1 in creation order; Keras 3 names them conv2d, conv2d_1, ... (offset by earlier
    builds): rank them by that creation number."""

    def number(name):
        tail = name.rsplit("_", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    mapping = {}
    for cls, prefix in (
        (keras.layers.Conv2D, "conv2d"),
        (keras.layers.BatchNormalization, "batch_normalization"),
    ):
        unnamed = [
            la for la in model.layers if isinstance(la, cls) and not la.name.startswith(("block", "conv_7b"))
        ]
        unnamed.sort(key=lambda la: number(la.name))
        mapping.update({la.name: f"{prefix}_{i}" for i, la in enumerate(unnamed, start=1)})
    return mapping


def _write_keras_applications_file(path, model):
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
        mapping = _keras2_mapping(model)
        for old, new in mapping.items():
            f.move(old, f"tmp_{new}")
        for new in mapping.values():
            f.move(f"tmp_{new}", new)
        f.attrs["layer_names"] = [mapping.get(la.name, la.name).encode("utf8") for la in model.layers]


@pytest.mark.slow
def test_inception_resnet_v2_loads_keras_applications_file_through_the_cache(monkeypatch, tmp_path, rng):
    shape = (75, 75, 3)
    ref = keras.applications.InceptionResNetV2(weights=None, input_shape=shape)
    assert ref.count_params() == KERAS_INCEPTION_RESNET_V2
    r = np.random.default_rng(1)
    for w in ref.weights:
        value = r.uniform(0.5, 1.5, w.shape) if "variance" in w.path else r.normal(0.0, 0.05, w.shape)
        w.assign(value.astype("float32"))
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    official = zoo.weights.IMAGENET["inception_resnet_v2"][0]
    assert official.fname == "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5"
    path = home / "models" / official.fname
    _write_keras_applications_file(path, ref)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(home))
    entry = WeightFile(official.fname, "https://invalid.example/no-network-in-tests.h5", md5)
    monkeypatch.setitem(zoo.weights.IMAGENET, "inception_resnet_v2", (entry, entry))
    ours = zoo.get("inception_resnet_v2", weights="imagenet", input_shape=shape)
    x = rng.uniform(-1, 1, (2, *shape)).astype("float32")
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(ref(x)), rtol=1e-4, atol=1e-6)
    # Keras' own loader goes by layer order: the order is keras.applications' too.
    again = zoo.get("inception_resnet_v2", input_shape=shape)
    again.load_weights(path)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(ref(x)), rtol=1e-4, atol=1e-6)


@pytest.mark.slow  # ~10 s each; test_sweep.py runs all three at 75x75 under -m slow too (HEAVY); counts run by default
@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v1"])
def test_small_input_forward_pass_and_pooling(name, rng):
    model = zoo.get(name, include_top=False, pooling="avg", input_shape=(75, 75, 3))
    out = np.asarray(model.predict(rng.uniform(-1, 1, (1, 75, 75, 3)).astype("float32"), verbose=0))
    assert out.shape == (1, 1536 if name == "inception_v4" else 1792) and np.all(np.isfinite(out))


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("inception_v4", dict(input_shape=(64, 64, 3)), "at least 75x75"),
        ("inception_v4", dict(weights="imagenet"), "no official ImageNet weights"),
        ("inception_resnet_v1", dict(weights="imagenet"), "no official ImageNet weights"),
        ("inception_resnet_v2", dict(weights="imagenet", classes=10), "classes=1000"),
        ("inception_resnet_v2", dict(pooling="mean", include_top=False), "pooling"),
    ],
)
def test_bad_arguments_give_clear_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.get(name, **kwargs)
