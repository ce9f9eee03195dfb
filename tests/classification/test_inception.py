"""GoogLeNet and Inception v3: reference parameter counts, auxiliary classifiers, small forward
passes, keras.applications ImageNet weight-file equivalence, clear errors."""

import hashlib
import re

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import zoo
import zoo.weights
from zoo.classification import inception  # noqa: F401  (registers the models)
from zoo.classification.inception import (
    GOOGLENET_AUX_LOSS_WEIGHT,
    GOOGLENET_LOSS_WEIGHTS,
    inference_model,
)
from zoo.weights import WeightFile


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# --- GoogLeNet -------------------------------------------------------------------------------

# The paper's Table 1, typed in again here: name, input channels, #1x1, #3x3 reduce, #3x3,
# #5x5 reduce, #5x5, pool proj, and the table's "params" column (K = 1,024 weights).
PAPER_TABLE = [
    ("3a", 192, 64, 96, 128, 16, 32, 32, 159),
    ("3b", 256, 128, 128, 192, 32, 96, 64, 380),
    ("4a", 480, 192, 96, 208, 16, 48, 64, 364),
    ("4b", 512, 160, 112, 224, 24, 64, 64, 437),
    ("4c", 512, 128, 128, 256, 24, 64, 64, 463),
    ("4d", 512, 112, 144, 288, 32, 64, 64, 580),
    ("4e", 528, 256, 160, 320, 32, 128, 128, 840),
    ("5a", 832, 256, 160, 320, 32, 128, 128, 1072),
    ("5b", 832, 384, 192, 384, 48, 128, 128, 1388),
]
PAPER_STEM_K = 2.7 + 112  # conv1, conv2
PAPER_LINEAR_K = 1000
TORCHVISION_GOOGLENET = 6_624_904  # trainable, no aux; its "5x5" branches are 3x3 convolutions
TORCHVISION_GOOGLENET_AUX = 13_004_888  # trainable, with both auxiliary classifiers


def _paper_counts(bias=True):
    """(weights + biases, weights only) of the paper's GoogLeNet from the table's filter numbers."""

    def conv(k, cin, cout):
        return k * k * cin * cout + (cout if bias else 0)

    total = conv(7, 3, 64) + conv(1, 64, 64) + conv(3, 64, 192)
    for _, cin, n1, r3, n3, r5, n5, proj, _ in PAPER_TABLE:
        assert n1 + n3 + n5 + proj in (256, 480, 512, 528, 832, 1024)
        total += conv(1, cin, n1) + conv(1, cin, r3) + conv(3, r3, n3) + conv(1, cin, r5)
        total += conv(5, r5, n5) + conv(1, cin, proj)
    return total + 1024 * 1000 + (1000 if bias else 0)


def test_googlenet_count_matches_paper_table():
    model = zoo.get("googlenet")
    assert model.count_params() == _trainable(model) == _paper_counts(bias=True) == 6_998_552
    assert zoo.registry.entry("googlenet").references["num_params"] == 6_998_552
    # The table's params column (weights, K = 1,024) sums to within 0.5% of the weights here.
    paper_k = PAPER_STEM_K + sum(row[-1] for row in PAPER_TABLE) + PAPER_LINEAR_K
    assert abs(_paper_counts(bias=False) / 1024 - paper_k) / paper_k < 0.005
    names = [layer.name for layer in model.layers]
    assert names.index("pool1_norm1") == names.index("pool1_3x3_s2") + 1
    assert names.index("conv2_norm2") == names.index("conv2_3x3") + 1
    assert model.get_layer("inception_3a_5x5").kernel_size == (5, 5)
    assert model.get_layer("inception_5b_output").output.shape == (None, 7, 7, 1024)
    assert model.get_layer("dropout").rate == 0.4


def test_googlenet_bn_and_auxiliary_classifiers_match_torchvision():
    model = zoo.get("googlenet_bn", aux_logits=True)
    aux = sum(_trainable(la) for la in model.layers if la.name.startswith("aux"))
    five_by_five = sum(r5 * n5 for _, _, _, _, _, r5, n5, _, _ in PAPER_TABLE)
    # torchvision's auxiliary classifiers are the paper's (+ BN); its "5x5" convolutions are 3x3.
    assert aux == TORCHVISION_GOOGLENET_AUX - TORCHVISION_GOOGLENET
    assert _trainable(model) - aux == TORCHVISION_GOOGLENET + (25 - 9) * five_by_five == 7_005_832
    assert zoo.registry.entry("googlenet_bn").references["num_params"] == 7_005_832
    assert not any(isinstance(layer, inception.LocalResponseNormalization) for layer in model.layers)
    assert not any(layer.use_bias for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert [o.shape for o in model.outputs] == [(None, 1000)] * 3
    assert model.get_layer("aux1_pool").input.shape == (None, 14, 14, 512)  # after inception 4a
    assert model.get_layer("aux2_pool").input.shape == (None, 14, 14, 528)  # after inception 4d
    assert model.get_layer("aux1_pool").output.shape == (None, 4, 4, 512)  # 5x5/3 -> 4x4 (paper)
    assert model.get_layer("aux1_fc").units == 1024 and model.get_layer("aux1_dropout").rate == 0.7
    assert GOOGLENET_LOSS_WEIGHTS == (1.0, 0.3, 0.3) and GOOGLENET_AUX_LOSS_WEIGHT == 0.3


# Building under JAX compiles the weight initialiser once per distinct weight shape (~0.3 s of CPU
# each; GoogLeNet and Inception v3 have 60-100 of them), so their JAX forward passes are `slow`
# (run them with KERAS_BACKEND=jax pytest -m "multibackend and slow"); ResNet-18 covers the default run.
@pytest.mark.parametrize(
    "name, size",
    [
        pytest.param(
            "googlenet", 32, marks=[pytest.mark.multibackend, pytest.mark.slow], id="googlenet-32-any-backend"
        ),
        ("googlenet_bn", 64),  # the paper's googlenet runs (96 px) in the training-step test below
    ],
)
def test_googlenet_small_forward_pass(name, size, rng):
    model = zoo.get(name, classes=10, input_shape=(size, size, 3))
    # predict compiles the whole graph once (op-by-op eager calls are slow on JAX)
    out = np.asarray(model.predict(rng.uniform(0, 1, (2, size, size, 3)).astype("float32"), verbose=0))
    assert out.shape == (2, 10) and np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)


def test_googlenet_aux_training_step_and_inference_model(rng):
    model = zoo.get("googlenet", classes=5, input_shape=(96, 96, 3), aux_logits=True)
    model.compile(
        keras.optimizers.SGD(0.1),
        ["sparse_categorical_crossentropy"] * 3,
        loss_weights=list(GOOGLENET_LOSS_WEIGHTS),
        run_eagerly=True,  # no graph tracing: one step is enough here
    )
    x = rng.uniform(0, 1, (4, 96, 96, 3)).astype("float32")
    y = rng.integers(0, 5, (4,))
    before = {w.path: np.array(w) for w in model.trainable_weights}
    model.train_on_batch(x, [y, y, y])
    changed = {w.path for w in model.trainable_weights if not np.array_equal(np.array(w), before[w.path])}
    assert {
        "aux1_fc/kernel",
        "aux2_predictions/kernel",
        "predictions/kernel",
        "conv1_7x7_s2/kernel",
    } <= changed
    predictor = inference_model(model)
    assert len(predictor.outputs) == 1 and predictor.count_params() < model.count_params()
    assert predictor.get_layer("predictions") is model.get_layer("predictions")  # shared weights
    outputs = [np.asarray(o) for o in model(x)]
    assert [o.shape for o in outputs] == [(4, 5)] * 3 and all(np.all(np.isfinite(o)) for o in outputs)
    np.testing.assert_allclose(np.asarray(predictor(x)), outputs[0], rtol=1e-5, atol=1e-6)
    assert inference_model(predictor) is predictor


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("googlenet", dict(input_shape=(64, 64, 3), aux_logits=True), "at least 65x65"),
        ("googlenet", dict(include_top=False, aux_logits=True), "include_top=True"),
        ("googlenet", dict(input_shape=(16, 16, 3)), "too small"),
        ("googlenet", dict(weights="imagenet"), "no official ImageNet weights"),
        ("googlenet_bn", dict(classes=3, num_classes=4), "disagree"),
        ("inception_v3", dict(input_shape=(64, 64, 3)), "at least 75x75"),
        ("inception_v3", dict(weights="imagenet", classes=10), "classes=1000"),
        ("inception_v3", dict(include_top=False, aux_logits=True), "include_top=True"),
        ("inception_v3", dict(input_shape=(150, 150, 3), aux_logits=True), "at least 299x299"),
    ],
)
def test_bad_arguments_give_clear_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.get(name, **kwargs)


# --- Inception v3 ----------------------------------------------------------------------------

INCEPTION_V3_KERAS = 23_851_784  # keras.applications, top included, no auxiliary head
TORCHVISION_INCEPTION_V3 = (27_161_264, 23_834_568)  # trainable, with / without the auxiliary head


def _keras2_names(model):
    """keras.applications' InceptionV3 weight file names its layers as Keras 2 did, in creation order:
    conv2d_1 .. conv2d_94, batch_normalization_1 .. _94 (and predictions). Keras 3 builds name them
    conv2d, conv2d_1, ... (offset by earlier builds): rank them by their creation number."""

    def number(name):
        m = re.search(r"_(\d+)$", name)
        return int(m.group(1)) if m else 0

    mapping = {}
    for cls, prefix in [
        (keras.layers.Conv2D, "conv2d"),
        (keras.layers.BatchNormalization, "batch_normalization"),
    ]:
        layers = sorted((la for la in model.layers if isinstance(la, cls)), key=lambda la: number(la.name))
        mapping.update({la.name: f"{prefix}_{i}" for i, la in enumerate(layers, start=1)})
    return mapping


def _write_keras_applications_file(f, model):
    legacy_h5_format.save_weights_to_hdf5_group(f, model)
    mapping = _keras2_names(model)
    for old, new in mapping.items():
        f.move(old, f"tmp_{new}")
    for new in mapping.values():
        f.move(f"tmp_{new}", new)
    f.attrs["layer_names"] = [mapping.get(la.name, la.name).encode("utf8") for la in model.layers]


def _randomize(model, seed=1):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path else rng.normal(0.0, 0.05, w.shape)
        w.assign(value.astype("float32"))


def _cache_imagenet_file(monkeypatch, tmp_path, arch, write):
    """Writes a legacy weight file into a tmp Keras cache and points zoo.weights.IMAGENET at it."""
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    path = home / "models" / f"{arch}_test.h5"
    with h5py.File(path, "w") as f:
        write(f)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(home))  # Keras reads KERAS_HOME at import
    entry = WeightFile(path.name, "https://invalid.example/no-network-in-tests.h5", md5)
    monkeypatch.setitem(zoo.weights.IMAGENET, arch, (entry, entry))


def test_inception_v3_matches_keras_applications_and_loads_its_weight_file(monkeypatch, tmp_path, rng):
    shape = (75, 75, 3)
    ref = keras.applications.InceptionV3(weights=None, input_shape=shape)
    assert ref.count_params() == INCEPTION_V3_KERAS
    _randomize(ref)
    _cache_imagenet_file(
        monkeypatch, tmp_path, "inception_v3", lambda f: _write_keras_applications_file(f, ref)
    )
    ours = zoo.get("inception_v3", weights="imagenet", input_shape=shape)
    assert ours.count_params() == INCEPTION_V3_KERAS
    assert {la.name for la in ours.layers if la.weights} == {*_keras2_names(ref).values(), "predictions"}
    assert [f"mixed{i}" for i in range(11)] == [
        la.name for la in ours.layers if re.fullmatch(r"mixed\d+", la.name)
    ]
    x = rng.uniform(-1, 1, (2, *shape)).astype("float32")
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(ref(x)), rtol=1e-4, atol=1e-6)

    # With the auxiliary head, the body still takes the ImageNet file (the head stays random).
    aux = zoo.get("inception_v3", weights="imagenet", aux_logits=True)
    assert _trainable(aux) - _trainable(ours) == (
        TORCHVISION_INCEPTION_V3[0] - TORCHVISION_INCEPTION_V3[1] - (128 + 768)  # keras-style BN: no scale
    )
    np.testing.assert_array_equal(
        np.asarray(aux.get_layer("conv2d_94").kernel), np.asarray(ours.get_layer("conv2d_94").kernel)
    )
    assert aux.get_layer("aux_pool").input.shape == (None, 17, 17, 768)  # mixed7
    assert [o.shape for o in aux.outputs] == [(None, 1000), (None, 1000)]
    assert len(inference_model(aux).outputs) == 1


@pytest.mark.multibackend
@pytest.mark.slow  # on TensorFlow, the equivalence test above runs Inception v3 at 75x75 already
def test_inception_v3_small_forward_pass(rng):
    model = zoo.get("inception_v3", classes=10, input_shape=(75, 75, 3))
    out = np.asarray(model.predict(rng.uniform(-1, 1, (2, 75, 75, 3)).astype("float32"), verbose=0))
    assert out.shape == (2, 10) and np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_inception_v3_aux_weights_path_round_trip(tmp_path):
    model = zoo.get("inception_v3", classes=4, aux_logits=True)
    _randomize(model)
    path = tmp_path / "v3.weights.h5"
    model.save_weights(path)
    again = zoo.get("inception_v3", classes=4, aux_logits=True, weights=str(path))
    for name in ("conv2d_1", "aux_conv2_conv", "aux_predictions", "predictions"):
        for a, b in zip(model.get_layer(name).weights, again.get_layer(name).weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_registry_metadata():
    e = zoo.registry.entry("inception_v3")
    assert e.weights == ("imagenet", "torchvision", "IMAGENET1K_V1")  # + torchvision's set (issue 13)
    assert e.preprocess == "inception" and e.input_shape == (299, 299, 3)
    assert e.references["num_params"] == INCEPTION_V3_KERAS
    for name in ("googlenet", "googlenet_bn", "inception_v3"):
        refs = zoo.registry.entry(name).references
        assert refs["num_params_source"]
