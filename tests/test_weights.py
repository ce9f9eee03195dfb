"""Weight loading through the real code paths, offline: Keras cache, legacy .h5, .weights.h5."""

import hashlib

import h5py
import keras
import numpy as np
import pytest

import zoo
from zoo import weights as W


def _legacy_h5(model, path):
    """Writes ``model``'s weights in the keras.applications (legacy HDF5) layout."""
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def vgg16_notop_cache(tmp_path, monkeypatch):
    """keras.applications VGG16 (random init) weights, placed in a private Keras cache
    under the official file name, with the registry pointing at their hash."""
    ref = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    top, notop = W.IMAGENET["vgg16"]
    path = _legacy_h5(ref, home / "models" / notop.fname)
    fake = W.WeightFile(notop.fname, "http://127.0.0.1:9/unreachable.h5", _md5(path))
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setitem(W.IMAGENET, "vgg16", (top, fake))
    return ref, path


def test_imagenet_weights_load_from_cache_and_match_keras_applications(vgg16_notop_cache, rng):
    ref, _ = vgg16_notop_cache
    ours = zoo.get("vgg16", weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    x = rng.uniform(-100, 100, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_imagenet_offline_with_empty_cache_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    top, notop = W.IMAGENET["vgg16"]
    monkeypatch.setitem(
        W.IMAGENET, "vgg16", (top, W.WeightFile(notop.fname, "http://127.0.0.1:9/x.h5", "0" * 32))
    )
    with pytest.raises(W.WeightsError, match="Copy the file into"):
        zoo.get("vgg16", weights="imagenet", include_top=False, input_shape=(32, 32, 3))


def test_weights_h5_path_round_trip(tmp_path, rng):
    src = zoo.get("vgg11", classes=5, input_shape=(32, 32, 3))
    path = tmp_path / "vgg11.weights.h5"
    src.save_weights(path)
    dst = zoo.get("vgg11", classes=5, input_shape=(32, 32, 3), weights=str(path))
    x = rng.uniform(0, 1, (1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(dst.predict(x, verbose=0), src.predict(x, verbose=0), rtol=1e-6)


def test_weights_file_carries_its_preprocessing_to_the_model(tmp_path):
    """A converted torchvision file says "torch"; export must not fall back to the registry's mode."""
    from zoo.export.spec import infer_spec

    src = zoo.get("vgg16", classes=5, input_shape=(32, 32, 3))
    plain, marked = tmp_path / "plain.weights.h5", tmp_path / "marked.weights.h5"
    src.save_weights(plain)
    src.save_weights(marked)
    W.mark_preprocessing(marked, "torch")
    a = zoo.get("vgg16", classes=5, input_shape=(32, 32, 3), weights=str(plain))
    b = zoo.get("vgg16", classes=5, input_shape=(32, 32, 3), weights=str(marked))
    assert getattr(a, "zoo_preprocess", None) is None
    assert b.zoo_preprocess == "torch"
    assert infer_spec(b, "vgg16").preprocess == "torch"  # not the registry's "caffe"
    assert infer_spec(a, "vgg16").preprocess != "torch"


def test_keras_applications_weights_h5_loads_into_zoo_model(tmp_path, rng):
    ref = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / "ka.weights.h5"
    ref.save_weights(path)
    ours = zoo.get("vgg16", include_top=False, input_shape=(32, 32, 3), weights=path)
    x = rng.uniform(-50, 50, (1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_missing_file(tmp_path):
    with pytest.raises(W.WeightsError, match="not found.*nope.weights.h5"):
        zoo.get("vgg11", classes=5, input_shape=(32, 32, 3), weights=tmp_path / "nope.weights.h5")


def test_truncated_file_names_the_file(tmp_path):
    src = zoo.get("vgg11", classes=5, input_shape=(32, 32, 3))
    path = tmp_path / "cut.weights.h5"
    src.save_weights(path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(W.WeightsError, match="cut.weights.h5.*(unreadable|truncated)"):
        zoo.get("vgg11", classes=5, input_shape=(32, 32, 3), weights=path)


def test_mismatched_file_names_first_mismatching_layer(tmp_path):
    src = zoo.get("vgg11", classes=5, input_shape=(32, 32, 3))
    path = tmp_path / "five.weights.h5"
    src.save_weights(path)
    with pytest.raises(W.WeightsError, match="five.weights.h5.*first mismatching layer 'predictions'"):
        zoo.get("vgg11", classes=7, input_shape=(32, 32, 3), weights=path)


def test_legacy_file_mismatch_names_layer(tmp_path):
    src = zoo.get("vgg11", include_top=False, input_shape=(32, 32, 3))
    path = _legacy_h5(src, tmp_path / "legacy.h5")
    dst = zoo.get("vgg13", include_top=False, input_shape=(32, 32, 3))
    with pytest.raises(W.WeightsError, match="legacy.h5.*'block1_conv2' is not in the file"):
        W.load_by_name(dst, path, strict=True)
    # Non-strict: the common layers load; a body takes a classifier's weights.
    loaded = W.load_by_name(dst, path, strict=False)
    assert "block1_conv1" in loaded and "block1_conv2" not in loaded


def test_unknown_arch_has_no_imagenet_file():
    with pytest.raises(W.WeightsError, match="No ImageNet weights"):
        W.imagenet_file("alexnet")
