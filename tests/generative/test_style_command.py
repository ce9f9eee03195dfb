"""``python -m zoo style``: Gatys and fast style transfer from files, ImageNet VGG19 from the Keras cache, bad input."""

import hashlib
import json
import re

import h5py
import keras
import numpy as np
import pytest
from PIL import Image

from zoo import weights as W
from zoo.cli import main
from zoo.generative.fast_style import fast_style_transfer


def _png(path, shape, seed=0):
    rgb = np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return str(path)


@pytest.fixture
def pair(tmp_path):
    return _png(tmp_path / "content.png", (32, 36, 3)), _png(tmp_path / "style.png", (40, 34, 3), seed=1)


def test_gatys_writes_image_side_by_side_and_report(tmp_path, pair, capsys):
    out = tmp_path / "out" / "result.png"
    args = [*pair, "-o", str(out), "--weights", "none", "--iterations", "2"]
    assert main(["style", *args]) == 0
    assert "RANDOM VGG19 WEIGHTS" in capsys.readouterr().err
    assert np.asarray(Image.open(out)).shape == (32, 36, 3)
    side = np.asarray(Image.open(tmp_path / "out" / "result_side_by_side.png"))
    assert side.shape[1] > 2 * side.shape[0]  # three panels in a row
    report = json.loads((tmp_path / "out" / "result.json").read_text())
    assert report["method"] == "gatys" and report["size"] == [32, 36]
    assert report["last"]["total"] < report["first"]["total"]  # the optimisation did something


@pytest.mark.parametrize("kind", [".keras", ".weights.h5"])
def test_fast_uses_a_trained_network_in_one_pass(tmp_path, kind, capsys):
    keras.utils.set_random_seed(0)
    net = fast_style_transfer(filters=4, num_residual=1)
    path = tmp_path / f"transform{kind}"
    net.save(path) if kind == ".keras" else net.save_weights(path)
    content = _png(tmp_path / "c.png", (30, 37, 3))
    style = _png(tmp_path / "s.png", (8, 8, 3), seed=1)  # fast: the style is only shown, any size
    out = tmp_path / "fast.png"
    extra = ["--filters", "4", "--num-residual", "1"] if kind == ".weights.h5" else []
    assert main(["style", content, style, "-o", str(out), "--transform", str(path), *extra]) == 0
    got = np.asarray(Image.open(out))
    assert got.shape == (28, 36, 3)  # cropped to multiples of 4
    x = np.asarray(Image.open(content), np.float32)[None, :28, :36]
    want = np.clip(keras.ops.convert_to_numpy(net(x)), 0, 255).round()[0]
    assert np.abs(got.astype(np.float32) - want).max() <= 1
    assert json.loads((tmp_path / "fast.json").read_text())["method"] == "fast"
    assert (tmp_path / "fast_side_by_side.png").is_file()


def test_fast_weights_of_another_size_are_refused(tmp_path, pair, capsys):
    path = tmp_path / "t.weights.h5"
    fast_style_transfer(filters=4, num_residual=1).save_weights(path)
    assert main(["style", *pair, "-o", str(tmp_path / "o.png"), "--transform", str(path)]) == 2
    assert "does not fit a transformation network with filters=32" in capsys.readouterr().err


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing content", "content image .*nope.png.* not found"),
        ("missing style", "style image .*nope.png.* not found"),
        ("tiny content", "content image is 20x24 pixels, smaller than VGG19 can describe"),
        ("unreadable", "Cannot read image"),
        ("not png", "output must be a .png file"),
        ("missing transform", "transformation network .*t.keras.* not found"),
        ("bad transform", "must be a .keras or .weights.h5 file"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, pair, capsys, case, message):
    content, style = pair
    out = str(tmp_path / "o.png")
    extra: list[str] = ["--weights", "none", "--iterations", "1"]
    if case == "missing content":
        content = str(tmp_path / "nope.png")
    elif case == "missing style":
        style = str(tmp_path / "nope.png")
    elif case == "tiny content":
        content = _png(tmp_path / "tiny.png", (20, 24, 3))
    elif case == "unreadable":
        (tmp_path / "bad.jpg").write_bytes(b"not an image")
        content = str(tmp_path / "bad.jpg")
    elif case == "not png":
        out = str(tmp_path / "o.jpg")
    elif case == "missing transform":
        extra = ["--transform", str(tmp_path / "t.keras")]
    elif case == "bad transform":
        (tmp_path / "t.onnx").write_bytes(b"x")
        extra = ["--transform", str(tmp_path / "t.onnx")]
    assert main(["style", content, style, "-o", out, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not (tmp_path / "o.png").exists()


def _vgg19_cache(tmp_path, monkeypatch, write: bool):
    """A private Keras cache; with ``write`` it holds keras.applications' VGG19 notop file (random init,
    the official file name) and the registry points at its hash, as the real file would be found offline."""
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    top, notop = W.IMAGENET["vgg19"]
    ref = None
    md5 = "0" * 32
    if write:
        from keras.src.legacy.saving import legacy_h5_format

        keras.utils.set_random_seed(3)
        ref = keras.applications.VGG19(weights=None, include_top=False, input_shape=(None, None, 3))
        with h5py.File(home / "models" / notop.fname, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, ref)
        md5 = hashlib.md5((home / "models" / notop.fname).read_bytes()).hexdigest()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setitem(W.IMAGENET, "vgg19", (top, W.WeightFile(notop.fname, "http://127.0.0.1:9/x.h5", md5)))
    return ref


def test_imagenet_weights_offline_with_empty_cache_say_where_to_put_the_file(
    tmp_path, pair, monkeypatch, capsys
):
    _vgg19_cache(tmp_path, monkeypatch, write=False)
    assert main(["style", *pair, "-o", str(tmp_path / "o.png"), "--iterations", "1"]) == 2
    err = capsys.readouterr().err
    assert "vgg19" in err and "Copy the file into" in err and "keras_home" in err


@pytest.mark.slow  # two VGG19 builds and an 80 MB file: ~12 s on the loaded 2-core machine
def test_imagenet_weights_come_from_the_keras_cache(tmp_path, pair, monkeypatch, capsys):
    from zoo.generative.style import CONTENT_LAYER, features, vgg19_features

    ref = _vgg19_cache(tmp_path, monkeypatch, write=True)
    ours = vgg19_features("imagenet")
    x = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    tap = keras.Model(ref.input, ref.get_layer(CONTENT_LAYER).output)
    want = keras.ops.convert_to_numpy(tap(keras.applications.vgg19.preprocess_input(x.copy())))
    got = keras.ops.convert_to_numpy(features(ours, x)[CONTENT_LAYER])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    assert main(["style", *pair, "-o", str(tmp_path / "o.png"), "--iterations", "1"]) == 0
    assert json.loads((tmp_path / "o.json").read_text())["weights"] == "imagenet"
