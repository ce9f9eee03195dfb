"""``zoo.export.cli``: the convert command on a saved .keras file (also what tools/convert.py runs)."""

import argparse
import json

import keras
import pytest

from zoo.export.cli import add_convert_parser, main
from zoo.export.metadata import read_associated_files
from zoo.saving import save_model


@pytest.fixture
def saved_model(tmp_path):
    inp = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    path = tmp_path / "tiny.keras"
    save_model(keras.Model(inp, out), path, preprocess="unit")  # what the recipes write
    labels = tmp_path / "labels.txt"
    labels.write_text("crocodile\nalligator\nlog\n")
    return path, labels


def test_convert_cli_writes_file_and_report(saved_model, tmp_path, capsys):
    model, labels = saved_model
    out = tmp_path / "tiny.tflite"
    report = tmp_path / "report.json"
    argv = [
        str(model),
        "--output",
        str(out),
        "--quantize",
        "float16",
        "--labels",
        str(labels),
        "--fold-preprocessing",
        "--num-verify",
        "3",
        "--latency-runs",
        "1",
        "--report",
        str(report),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "max abs error" in printed and "latency 2 threads" in printed
    assert read_associated_files(out.read_bytes())["labels.txt"] == b"crocodile\nalligator\nlog\n"
    assert json.loads(report.read_text())["quantize"] == "float16"
    # A second run without --force refuses and keeps the file.
    before = out.read_bytes()
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main([*argv, "--force", "--no-verify"]) == 0


def test_saved_preprocessing_travels_with_the_model(saved_model, tmp_path, capsys):
    # The .keras file says "unit" (pixels / 255); a plain model.save() file says nothing: refused.
    model, _ = saved_model
    argv = ["--no-verify", "--fold-preprocessing", "--output"]
    assert main([str(model), *argv, str(tmp_path / "a.tflite")]) == 0
    assert "unit" in capsys.readouterr().out
    plain = tmp_path / "plain.keras"
    keras.saving.load_model(model).save(plain)
    assert main([str(plain), *argv, str(tmp_path / "b.tflite")]) == 2
    err = capsys.readouterr().err
    assert "preprocessing" in err and "--preprocess" in err
    assert not (tmp_path / "b.tflite").exists()
    assert main([str(plain), *argv, str(tmp_path / "b.tflite"), "--preprocess", "unit"]) == 0


def test_convert_cli_errors(tmp_path, capsys):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"garbage")
    assert main([str(bad), "--output", str(tmp_path / "x.tflite")]) == 2
    assert "corrupt" in capsys.readouterr().err
    assert main(["no_such_model_xyz", "--output", str(tmp_path / "x.tflite")]) == 2
    assert "Unknown model" in capsys.readouterr().err


def test_add_convert_parser_hooks_into_a_cli():
    parser = argparse.ArgumentParser(prog="zoo")
    sub = parser.add_subparsers(dest="command")
    add_convert_parser(sub)
    args = parser.parse_args(
        [
            "convert",
            "vgg16",
            "--quantize",
            "int8",
            "--representative",
            "tfds:beans",
            "--fold-preprocessing",
            "--input-size",
            "64x48",
            "--force",
            "--task",
            "classification",
        ]
    )
    assert args.command == "convert" and args.quantize == "int8" and args.input_size == (64, 48)
    assert args.representative == "tfds:beans" and args.fold_preprocessing and args.force
    assert callable(args.func)


@pytest.mark.slow  # a one-epoch training (about 10 s idle); tests/segmentation checks model.keras is written
def test_a_trained_segmenter_converts_as_it_is(tmp_path, capsys):
    # The recipe's model.keras carries architecture, preprocessing (unit) and class names.
    from zoo.segmentation.train import SegmentationConfig, train

    tiny = dict(model="unet", data="shapes", image_size=32, batch_size=8, train_images=8, val_images=8)
    train(
        SegmentationConfig(
            epochs=1, filters=4, depth=2, verbose=0, grid_rows=2, workdir=str(tmp_path), **tiny
        )
    )
    out = tmp_path / "unet.tflite"
    assert (
        main(
            [str(tmp_path / "model.keras"), "--output", str(out), "--num-verify", "3", "--latency-runs", "0"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "preprocess=unit" in printed and "max abs error" in printed
    labels = read_associated_files(out.read_bytes())["labels.txt"].decode().split()
    assert labels == ["background", "circle", "square", "triangle"]


def test_folder_named_like_a_model_does_not_drop_the_builder_flags(tmp_path, monkeypatch):
    # ./alexnet exists: the registered name is meant (load_model says so), and --classes still applies
    import zoo.export.litert as litert

    monkeypatch.chdir(tmp_path)
    (tmp_path / "alexnet").mkdir()
    seen = {}

    def fake_export(source, output, **kw):
        seen.update(kw)
        raise litert.ExportError("stop here")

    monkeypatch.setattr(litert, "export_model", fake_export)
    assert main(["alexnet", "--classes", "3", "--input-size", "64", "-o", "a.tflite"]) == 2
    assert seen["build_kwargs"] == {"classes": 3, "input_shape": (64, 64, 3)}
