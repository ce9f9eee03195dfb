"""The segmentation recipe: a tiny run completes and resumes; mirrored strategy on two logical CPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

from zoo.segmentation.train import SegmentationConfig, colorize, train

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(
    model="unet",
    data="shapes",
    image_size=32,
    batch_size=8,
    train_images=16,
    val_images=8,
    filters=4,
    depth=3,
    verbose=0,
    grid_rows=2,
)


class _Interrupt(keras.callbacks.Callback):
    """Stops training as the second epoch starts, as a Ctrl-C or a crash would."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated interruption")


def test_tiny_run_completes_and_resumes_after_interruption(tmp_path):
    cfg = SegmentationConfig(epochs=2, workdir=str(tmp_path / "run"), **TINY)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, callbacks=[_Interrupt()])
    assert (tmp_path / "run" / "backup").exists() and (tmp_path / "run" / "last.weights.h5").exists()
    report = train(cfg)
    assert report["epochs_completed"] == 2  # epoch 1 from the first run, epoch 2 from the resumed one
    lines = (tmp_path / "run" / "history.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1"]
    for name in report["files"]:
        assert (tmp_path / "run" / name).exists(), name
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert 0.0 <= saved["metrics"]["mean_iou"] <= 1.0
    assert set(saved["metrics"]["per_class_iou"]) == {"background", "circle", "square", "triangle"}
    assert not (tmp_path / "run" / "backup").exists()


def test_bad_arguments_fail_early(tmp_path):
    with pytest.raises(ValueError, match="Unknown loss"):
        train(SegmentationConfig(loss="focal", workdir=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match="neither 'shapes', 'pets'"):
        train(SegmentationConfig(data=str(tmp_path / "missing"), workdir=str(tmp_path)))


def test_time_budget_stops_after_the_epoch_that_ends_past_it():
    from zoo.segmentation.train import TimeBudget

    class _Model:
        stop_training = False

    budget = TimeBudget(1e-6)
    budget.set_model(_Model())
    budget.on_train_begin()
    budget.start -= 1.0  # one second of training has passed
    budget.on_epoch_end(0)
    assert budget.model.stop_training and budget.stopped_at_epoch == 1
    with pytest.raises(ValueError, match="positive"):
        TimeBudget(0)


def test_colorize_marks_ignored_pixels_white():
    import numpy as np

    rgb = colorize(np.array([[0, 1], [255, 3]]), num_classes=4)
    assert rgb.shape == (2, 2, 3) and tuple(rgb[1, 0]) == (255, 255, 255) and tuple(rgb[0, 0]) == (0, 0, 0)


def test_recipe_with_mirrored_strategy_on_two_logical_cpus(tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute needs the TensorFlow backend")
    script = textwrap.dedent(
        f"""
        import runpy, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        sys.argv = ["train_segmenter.py", "--model", "unet", "--data", "shapes", "--image-size", "32",
                    "--epochs", "1", "--batch-size", "8", "--train-images", "16", "--val-images", "8",
                    "--filters", "4", "--depth", "3", "--strategy", "mirrored", "--verbose", "0",
                    "--workdir", {str(tmp_path / "mirrored")!r}]
        runpy.run_path({str(ROOT / "recipes" / "train_segmenter.py")!r}, run_name="__main__")
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "mirrored" / "report.json").read_text())
    assert report["replicas"] == 2 and report["config"]["strategy"] == "mirrored"
    assert report["epochs_completed"] == 1


@pytest.mark.slow  # dilated ResNet-50 at 64 px: ~1-3 min on 2 shared cores
def test_fcn_resnet50_trains_through_the_recipe_with_its_auxiliary_head(tmp_path):
    from zoo.segmentation.train import preprocess_mode

    cfg = SegmentationConfig(
        epochs=1, workdir=str(tmp_path / "fcn"), **{**TINY, "model": "fcn_resnet50", "image_size": 64}
    )
    assert preprocess_mode(cfg) == "none"  # RGB 0..255: the model normalises as torchvision does
    report = train(cfg)
    assert 0.0 <= report["metrics"]["mean_iou"] <= 1.0 and report["epochs_completed"] == 1
    assert "val_mean_iou" in report["history"]  # the compiled metric runs on the main head
    for name in report["files"]:
        assert (tmp_path / "fcn" / name).exists(), name
