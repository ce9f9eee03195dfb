"""zoo.transfer: cutting, head swapping, freezing, sklearn heads, feature caching, data loading."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import zoo
from zoo import transfer as T
from zoo.experiments.digits_transfer import array_dataset, small_cnn


def _stripes(n, size=16, seed=0):
    """Two easy classes: a bright horizontal (class 0) or vertical (class 1) stripe, in [0, 1]."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int32)
    x = rng.normal(0.2, 0.05, (n, size, size, 1)).astype(np.float32)
    for i in range(n):
        k = rng.integers(2, size - 4)
        if y[i] == 0:
            x[i, k : k + 3, :, 0] = 0.9
        else:
            x[i, :, k : k + 3, 0] = 0.9
    return np.clip(x, 0, 1), y


def _tiny_body():
    return T.cut(small_cnn((16, 16, 1), num_classes=3, width=4), "last_pool")


def test_cut_last_pool_and_named_layer():
    net = small_cnn((32, 32, 1), num_classes=5, width=4)
    body = T.cut(net)
    assert body.output.shape[1:] == (4, 4, 16) and body.layers[-1].name == "block3_pool"
    assert T.cut(net, "block2_pool").output.shape[1:] == (8, 8, 8)
    vgg = zoo.get("vgg11", weights=None, include_top=True, classes=7, input_shape=(32, 32, 3))
    assert T.cut(vgg, "last_pool").layers[-1].name == "block5_pool"
    seq = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.MaxPooling2D()])
    assert T.cut(seq).output.shape[1:] == (3, 3, 2)


def test_cut_bad_layer_name_lists_candidates():
    net = small_cnn((32, 32, 1), width=4)
    with pytest.raises(ValueError) as e:
        T.cut(net, "blok3_pool")
    msg = str(e.value)
    assert "no layer named 'blok3_pool'" in msg and "Did you mean: block3_pool" in msg
    assert "block1_pool" in msg and "fc1" in msg
    flat = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    with pytest.raises(ValueError, match="no pooling layer"):
        T.cut(flat)


def test_blocks_and_unfreeze_top():
    body = T.cut(small_cnn((32, 32, 1), width=4))
    blocks = T.layer_blocks(body)
    assert [b[0].name for b in blocks] == ["block1_conv1", "block2_conv1", "block3_conv1"]
    T.freeze(body)
    assert not body.trainable_weights
    opened = T.unfreeze_top(body, 1)
    assert opened == ["block3_conv1"]  # batch norm stays frozen
    assert not body.get_layer("block3_bn1").trainable and not body.get_layer("block2_conv1").trainable
    with pytest.raises(ValueError, match="num_blocks"):
        T.unfreeze_top(body, 4)


def test_head_swap_variants():
    body = _tiny_body()
    mlp = T.head_swap(body, "mlp", num_classes=5, hidden=(8,))
    assert mlp.output.shape[-1] == 5
    custom = T.head_swap(body, [keras.layers.Flatten(), keras.layers.Dense(6, activation="softmax")], 6)
    assert custom.output.shape[-1] == 6 and custom.layers[-1].name.startswith("dense")
    assert isinstance(T.head_swap(body, "random_forest"), T.SklearnHead)
    with pytest.raises(ValueError, match="Unknown head"):
        T.head_swap(body, "svm", 3)
    with pytest.raises(ValueError, match="num_classes"):
        T.head_swap(body, "mlp")


@pytest.mark.multibackend
def test_two_phases_accuracy_rises_and_bn_inference(tmp_path):
    x, y = _stripes(96)
    body = _tiny_body()
    model = T.head_swap(body, "mlp", num_classes=2, pooling="flatten", hidden=(16,), dropout=0.1)
    bn = body.get_layer("block3_bn1")
    moving = keras.ops.convert_to_numpy(bn.moving_mean).copy()
    conv1 = keras.ops.convert_to_numpy(body.get_layer("block1_conv1").kernel).copy()
    conv3 = keras.ops.convert_to_numpy(body.get_layer("block3_conv1").kernel).copy()
    hist = T.train_head_swap(
        model, body, array_dataset(x, y, 16, 0), workdir=tmp_path, head_epochs=4, fine_tune_epochs=1,
        fine_tune_blocks=1, learning_rate=1e-2, steps_per_epoch=10, verbose=0,
    )  # fmt: skip
    assert set(hist) == {"phase1", "phase2"}
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(
        1e-3
    )  # 10x lower
    np.testing.assert_array_equal(moving, keras.ops.convert_to_numpy(bn.moving_mean))  # inference mode
    np.testing.assert_array_equal(conv1, keras.ops.convert_to_numpy(body.get_layer("block1_conv1").kernel))
    assert not np.allclose(conv3, keras.ops.convert_to_numpy(body.get_layer("block3_conv1").kernel))
    xt, yt = _stripes(64, seed=1)
    assert T.evaluate_accuracy(model, xt, yt) > 0.7  # chance: 0.5
    # a finished phase is not trained again: rerunning loads its weights
    model2 = T.head_swap(body, "mlp", num_classes=2, pooling="flatten", hidden=(16,), dropout=0.1)
    T.train_head_swap(model2, body, None, workdir=tmp_path, head_epochs=4, fine_tune_epochs=1, verbose=0)
    assert T.evaluate_accuracy(model2, xt, yt) == pytest.approx(T.evaluate_accuracy(model, xt, yt))


@pytest.mark.multibackend
def test_sklearn_heads_and_feature_cache(tmp_path, monkeypatch):
    x, y = _stripes(80)
    xt, yt = _stripes(40, seed=1)
    body = _tiny_body()
    for name in ("logreg", "random_forest", "gboost"):
        head = T.head_swap(body, name, pooling="flatten", cache_dir=tmp_path)
        assert head.fit(x, y).score(xt, yt) > 0.7, name
    assert len(list(tmp_path.glob("features-*.npz"))) == 2  # train and test, computed once
    feats, labels = T.extract_features(body, x, y, pooling="flatten", cache_dir=tmp_path)

    def boom(*a, **k):
        raise AssertionError("the body ran although the features are cached")

    monkeypatch.setattr(body, "predict", boom)
    again, labels2 = T.extract_features(body, x, y, pooling="flatten", cache_dir=tmp_path)
    np.testing.assert_array_equal(feats, again)
    np.testing.assert_array_equal(labels, labels2)
    monkeypatch.undo()
    other = _tiny_body()  # other weights -> other key
    T.extract_features(other, x, y, pooling="flatten", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("features-*.npz"))) == 3
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporary files
    head.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "head.pkl").is_file() and (tmp_path / "saved" / "body.keras").is_file()


def _write_png(path, value):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((12, 12, 3), value, np.uint8)).save(path)


def test_image_folder_loading_and_errors(tmp_path):
    with pytest.raises(T.TransferDataError, match="does not exist"):
        T.load_image_folder(tmp_path / "missing", (8, 8))
    (tmp_path / "empty").mkdir()
    with pytest.raises(T.TransferDataError, match="no class sub-folders"):
        T.load_image_folder(tmp_path / "empty", (8, 8))
    (tmp_path / "noimg" / "cats").mkdir(parents=True)
    with pytest.raises(T.TransferDataError, match="no images"):
        T.load_image_folder(tmp_path / "noimg", (8, 8))
    for i in range(4):
        _write_png(tmp_path / "ok" / "cats" / f"{i}.png", 10)
        _write_png(tmp_path / "ok" / "dogs" / f"{i}.png", 240)
    train, val, names = T.load_image_folder(tmp_path / "ok", (8, 8), batch_size=4, validation_split=0.25)
    assert names == ["cats", "dogs"]
    x, y = T.as_arrays(train)
    assert x.shape[1:] == (8, 8, 3) and set(y.tolist()) <= {0, 1}


def test_tfds_loading_offline(tmp_path):
    import tensorflow_datasets as tfds

    with pytest.raises(T.TransferDataError, match="not prepared|unknown"):
        T.load_tfds("mnist", data_dir=tmp_path, image_size=(8, 8))
    with tfds.testing.mock_data(num_examples=6):
        train, val, n = T.load_tfds("mnist", data_dir=tmp_path, image_size=(8, 8), batch_size=3)
        x, y = T.as_arrays(train)
    assert n == 10 and x.shape == (6, 8, 8, 3)


def test_recipe_cli_help_and_errors(tmp_path):
    out = subprocess.run(
        [sys.executable, "recipes/crocodile.py", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--fine-tune-blocks" in out.stdout and "--strategy" in out.stdout
    (tmp_path / "empty").mkdir()
    bad = subprocess.run(
        [sys.executable, "recipes/crocodile.py", "train", "--workdir", str(tmp_path / "w"), "--folder",
         str(tmp_path / "empty")], capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "no class sub-folders" in bad.stderr
