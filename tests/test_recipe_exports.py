"""What the recipes train, `python -m zoo convert` takes as it is: model.keras carries the
architecture (e.g. a width-0.125 SSD), the preprocessing and the class names.

A tiny run of each recipe, then ``python -m zoo convert`` with verification, each in its own
process as a user runs them (the model file must load where no zoo model module was imported
yet: the detector's failed so, "Could not locate class 'SSD'", before ``load_model`` imported the
families). On two shared cores at load 7-8: detector 197 s, crocodile 86 s (2026-12-02), hence
``slow``; the segmentation recipe's is in tests/export/test_export_cli.py.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo.export.metadata import read_associated_files
from zoo.saving import read_model_info

ROOT = Path(__file__).resolve().parents[1]


def _recipe(*argv):
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _convert(model, out, *extra):
    printed = _recipe(
        "-m", "zoo", "convert", str(model), "-o", str(out), "--num-verify", "3", "--latency-runs", "0", *extra
    )
    return printed, read_associated_files(out.read_bytes())["labels.txt"].decode().split()


@pytest.mark.slow
def test_detector_recipe_output_converts_as_it_is(tmp_path):
    w = tmp_path / "ssd"
    _recipe(
        "recipes/train_detector.py", "--model", "ssd_vgg16", "--image-size", "64", "--width", "0.125",
        "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--val-images", "4",
        "--max-objects", "2", "--no-augment", "--eval-every", "0", "--workdir", str(w),
    )  # fmt: skip
    info = read_model_info(w / "model.keras")
    assert info["preprocess"] == "none" and info["task"] == "detection"
    printed, labels = _convert(w / "model.keras", tmp_path / "ssd.tflite")
    assert "64x64" in printed and "preprocess=none" in printed
    assert labels == ["background", "circle", "square", "triangle"]


@pytest.mark.slow
def test_crocodile_recipe_output_converts_as_it_is(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("ants", "bees"):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(6):
            img = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(img).save(tmp_path / "photos" / name / f"{i}.png")
    w = tmp_path / "croc"
    _recipe(
        "recipes/crocodile.py", "train", "--folder", str(tmp_path / "photos"), "--workdir", str(w),
        "--model", "resnet18", "--weights", "none", "--image-size", "32", "--head-epochs", "1",
        "--batch-size", "4",
    )  # fmt: skip
    info = read_model_info(w / "model.keras")
    assert info["preprocess"] == "torch" and info["labels"] == ["ants", "bees"]
    printed, labels = _convert(w / "model.keras", tmp_path / "croc.tflite")
    assert labels == ["ants", "bees"] and "preprocess=torch" in printed
