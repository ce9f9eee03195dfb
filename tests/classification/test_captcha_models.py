"""Captcha models: both output layouts, joint / alternating training, metrics, resume, predict."""

import json
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo.data.captcha import save_captcha_folder
from zoo.experiments.captcha import (
    CaptchaTrainer,
    captcha_accuracy,
    captcha_metrics,
    char_accuracy,
    numpy_captcha_accuracy,
    predict_captchas,
    summarize_runs,
    train_captcha,
)

ALPHABET = "0123"


def _bar_captchas(n, length=2, height=16, width=24, seed=0):
    """Easy synthetic 'captchas': character c at position i is a bright band in rows 4c..4c+3."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(ALPHABET), size=(n, length)).astype(np.int32)
    images = np.full((n, height, width, 1), 0.1, np.float32)
    col = width // length
    for k in range(n):
        for i, c in enumerate(labels[k]):
            images[k, 4 * c : 4 * c + 4, i * col : (i + 1) * col] = 0.9
    images += rng.normal(0, 0.05, images.shape).astype(np.float32)
    return np.clip(images, 0, 1), labels


def test_builders_registered_and_shapes():
    multi = zoo.get("captcha_multihead", input_shape=(32, 80, 1), length=4, num_chars=10)
    assert [tuple(o.shape) for o in multi.outputs] == [(None, 10)] * 4
    assert [layer.name for layer in multi.layers if layer.name.startswith("char_")] == [
        f"char_{i}" for i in range(4)
    ]
    one = zoo.get("captcha_onevector", input_shape=(32, 80, 1), length=4, num_chars=10)
    assert tuple(one.output.shape) == (None, 40)
    with pytest.raises(ValueError, match="choose from"):
        CaptchaTrainer(multi, length=4, num_chars=10, mode="sometimes")
    with pytest.raises(ValueError, match="outputs 40 scores"):
        CaptchaTrainer(one, length=4, num_chars=36)


@pytest.mark.multibackend
def test_metrics_match_numpy_reference(rng):
    labels = rng.integers(0, 10, size=(32, 4))
    scores = rng.random((32, 4, 10)).astype(np.float32)
    scores[:8, :, :] = np.eye(10, dtype=np.float32)[labels[:8]]  # 8 fully right
    char_ref, whole_ref = numpy_captcha_accuracy(labels, scores)
    char = float(np.mean(keras.ops.convert_to_numpy(char_accuracy(labels, scores))))
    whole = float(np.mean(keras.ops.convert_to_numpy(captcha_accuracy(labels, scores))))
    assert char == pytest.approx(char_ref) and whole == pytest.approx(whole_ref)
    assert whole_ref >= 0.25


@pytest.mark.multibackend
def test_alternating_trains_one_head_per_step():
    net = zoo.get(
        "captcha_multihead", input_shape=(16, 24, 1), length=2, num_chars=4, config="tiny", fc_units=16
    )
    trainer = CaptchaTrainer(net, length=2, num_chars=4, mode="alternating")
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), metrics=captcha_metrics())
    x, y = _bar_captchas(8)
    before = [keras.ops.convert_to_numpy(net.get_layer(f"char_{i}").kernel).copy() for i in range(2)]
    trainer.fit(x, y, batch_size=8, epochs=1, verbose=0)  # one step: head 0 only
    after = [keras.ops.convert_to_numpy(net.get_layer(f"char_{i}").kernel) for i in range(2)]
    assert not np.allclose(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    trainer.fit(x, y, batch_size=4, epochs=1, verbose=0)  # two more steps: head 1, then head 0
    assert float(keras.ops.convert_to_numpy(trainer.head_step)) == 3.0
    assert not np.allclose(after[1], keras.ops.convert_to_numpy(net.get_layer("char_1").kernel))


@pytest.mark.parametrize("model,mode", [("captcha_multihead", "joint"), ("captcha_onevector", "alternating")])
def test_accuracy_rises_above_chance_and_predict(tmp_path, model, mode):
    x, y = _bar_captchas(96)
    save_captcha_folder(tmp_path / "caps", x, y, ALPHABET)
    report = train_captcha(
        tmp_path / "run", model=model, mode=mode, alphabet=ALPHABET, length=2, height=16, width=24,
        folder=tmp_path / "caps", val_fraction=0.25, config="tiny", batch_size=16, steps_per_epoch=15,
        epochs=3, learning_rate=3e-3, verbose=0,
    )  # fmt: skip
    assert report["val_char_acc"] > 0.5  # chance: 0.25
    assert (tmp_path / "run" / "model.keras").is_file() and (tmp_path / "run" / "report.json").is_file()
    from zoo.saving import read_model_info

    info = read_model_info(tmp_path / "run" / "model.keras")  # preprocessing and alphabet inside the file
    assert info["preprocess"] == "unit" and info["alphabet"] == ALPHABET and info["length"] == 2
    files = sorted((tmp_path / "caps").iterdir())[:4]
    texts = predict_captchas(tmp_path / "run" / "model.keras", files)
    assert len(texts) == 4 and all(len(t) == 2 and set(t) <= set(ALPHABET) for t in texts)


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("simulated interruption")


def test_checkpoint_resumes(tmp_path):
    x, y = _bar_captchas(40)
    save_captcha_folder(tmp_path / "caps", x, y, ALPHABET)
    kw = dict(
        alphabet=ALPHABET, length=2, height=16, width=24, folder=tmp_path / "caps", config="tiny",
        batch_size=8, steps_per_epoch=2, epochs=2, verbose=0,
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="simulated"):
        train_captcha(tmp_path / "run", callbacks=[_Interrupt()], **kw)
    assert (tmp_path / "run" / "backup").is_dir() and (tmp_path / "run" / "last.weights.h5").is_file()
    report = train_captcha(tmp_path / "run", **kw)
    assert report["epochs_run"] == 2  # epoch 1 came from the checkpoint, epoch 2 ran now
    assert not (tmp_path / "run" / "backup").exists()


def test_bad_data_paths_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        train_captcha(tmp_path / "run", folder=tmp_path / "nope", verbose=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        train_captcha(tmp_path / "run", folder=tmp_path / "empty", verbose=0)
    with pytest.raises(FileNotFoundError, match="no captcha model"):
        predict_captchas(tmp_path / "missing.keras", ["a.png"])


def test_recipe_cli_help_and_error(tmp_path, capsys):
    # in-process (two interpreter start-ups with TensorFlow cost ~30 s on a loaded machine)
    main = runpy.run_path(str(Path(__file__).resolve().parents[2] / "recipes" / "captcha.py"))["main"]
    with pytest.raises(SystemExit) as done:
        main(["train", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--mode" in out and "--strategy" in out
    code = main(["train", "--workdir", str(tmp_path / "run"), "--folder", str(tmp_path / "x")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


MIRRORED = textwrap.dedent(
    """
    import sys, json
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[2])
    from test_captcha_models import _bar_captchas
    from zoo.experiments.captcha import train_captcha
    from zoo.data.captcha import save_captcha_folder
    if sys.argv[3] == "captcha":
      x, y = _bar_captchas(32)
      save_captcha_folder(sys.argv[1] + "/caps", x, y, "0123")
      r = train_captcha(sys.argv[1] + "/run", alphabet="0123", length=2, height=16, width=24,
                      folder=sys.argv[1] + "/caps", config="tiny", batch_size=8, steps_per_epoch=2, epochs=1,
                      mode="alternating", strategy="mirrored", verbose=0)
      print(json.dumps({"replicas": r["replicas"], "acc": r["val_char_acc"]}))
      sys.exit(0)
    # the crocodile recipe's two phases (one MirroredStrategy a process: collectives clash otherwise)
    import numpy as np
    from zoo import transfer as T
    from zoo.experiments.digits_transfer import array_dataset, small_cnn
    from zoo.training import get_strategy, strategy_scope
    strategy = get_strategy("mirrored")
    with strategy_scope(strategy):
        body = T.cut(small_cnn((16, 16, 1), num_classes=3, width=4))
        model = T.head_swap(body, "mlp", num_classes=2, hidden=(8,))
        xs = np.random.default_rng(0).random((16, 16, 16, 1)).astype("float32")
        ys = (xs.mean(axis=(1, 2, 3)) > 0.5).astype("int32")
        T.train_head_swap(model, body, array_dataset(xs, ys, 8, 0), workdir=sys.argv[1] + "/croc",
                          head_epochs=1, fine_tune_epochs=1, steps_per_epoch=2, verbose=0)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync}))
    """
)


@pytest.mark.slow  # 30-90 s; the segmenter recipe's mirrored test runs by default
def test_mirrored_strategy_two_logical_cpus_both_recipes(tmp_path):
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    for recipe in ("captcha", "transfer"):
        out = subprocess.run(
            [sys.executable, "-c", MIRRORED, str(tmp_path), here, recipe], capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        assert json.loads(out.stdout.strip().splitlines()[-1])["replicas"] == 2


def test_summarize_runs_compares_at_equal_steps(tmp_path):
    for label, accs in (("a-joint", [0.1, 0.5, 0.7]), ("b-alternating", [0.05, 0.3])):
        (tmp_path / label).mkdir()
        rows = ["epoch,loss,val_captcha_acc,val_char_acc"] + [f"{i},1.0,{a},{a}" for i, a in enumerate(accs)]
        (tmp_path / label / "history.csv").write_text("\n".join(rows) + "\n")
        (tmp_path / label / "report.json").write_text(json.dumps({"batch_size": 32, "steps_per_epoch": 10}))
    summary = summarize_runs(tmp_path, ["a-joint", "b-alternating"])
    assert summary["common_epochs"] == 2
    assert "| a-joint | 20 | 0.5000 | 0.5000 | 3: 0.7000 |" in summary["table"]
    assert (tmp_path / "comparison.png").is_file() and (tmp_path / "comparison.md").is_file()
    with pytest.raises(FileNotFoundError, match="train it first"):
        summarize_runs(tmp_path, ["missing"])


def test_batchnorm_statistics_fit_the_trained_weights(tmp_path):
    """After a short training every BatchNormalization's moving mean / variance are those of its inputs at
    inference (Dropout off) over the training images; Keras' lagging averages (momentum 0.99, a dozen
    steps) are ~0 and ~1 instead, which read 0.3% of a real validation set (RESULTS)."""
    # one validation image: 96 train = 6 batches; the statistics below, over all 97, are theirs
    x, y = _bar_captchas(97)
    save_captcha_folder(tmp_path / "caps", x, y, ALPHABET)
    report = train_captcha(
        tmp_path / "run", model="captcha_multihead", alphabet=ALPHABET, length=2, height=16, width=24,
        folder=tmp_path / "caps", val_fraction=0.01, config="tiny", batch_size=16, steps_per_epoch=6,
        epochs=2, learning_rate=3e-3, verbose=0,
    )  # fmt: skip
    assert set(report["batchnorm_statistics"]) >= {"moving_averages_as_trained", "reestimated_dropout_on"}
    net = keras.models.load_model(tmp_path / "run" / "model.keras", compile=False)
    bns = [layer for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == 3  # two conv blocks and the fully connected layer, which comes after a Dropout
    taps = keras.Model(net.input, [bn.input for bn in bns])(x, training=False)
    for bn, inputs in zip(bns, taps):
        a = keras.ops.convert_to_numpy(inputs)
        a = a.reshape(-1, a.shape[-1])
        mean, var = a.mean(0), a.var(0)
        got_mean, got_var = (keras.ops.convert_to_numpy(v) for v in (bn.moving_mean, bn.moving_variance))
        np.testing.assert_array_less(np.abs(got_mean - mean), 0.3 * np.sqrt(var) + 1e-3, err_msg=bn.name)
        np.testing.assert_allclose(got_var, var, rtol=0.3, err_msg=bn.name)
