"""The detector training recipe: a tiny run that is interrupted, resumes, and writes its files."""

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

from zoo.detection.train import DetectorTrainConfig, load_detection_data, train_detector


def build_parser():
    """The recipe's parser (argument parsing lives in recipes/train_detector.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_detector", ROOT / "recipes" / "train_detector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_parser()


ROOT = Path(__file__).resolve().parents[2]


def _tiny(workdir, **kw):
    base = dict(
        model="ssd_vgg16", data="shapes", image_size=64, width=0.125, epochs=2, steps_per_epoch=2,
        batch_size=2, val_images=4, max_objects=2, workdir=str(workdir), augment=False,
    )  # fmt: skip
    base.update(kw)
    return DetectorTrainConfig(**base)


class _StopAt(keras.callbacks.Callback):
    """Simulates a crash (e.g. a killed job) when epoch ``at`` begins."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt("simulated interruption")


class _CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_tiny_run_is_interrupted_resumes_and_writes_files(tmp_path):
    cfg = _tiny(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        train_detector(cfg, callbacks=[_StopAt(1)], verbose=0)
    assert (tmp_path / "run" / "last.weights.h5").exists()
    counter = _CountEpochs()
    report = train_detector(cfg, callbacks=[counter], verbose=0)
    assert counter.epochs == [1], "the finished epoch 0 must not be trained again"
    with open(tmp_path / "run" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert "val_map50" in rows[0] and rows[1]["val_map50"] != ""
    for name in ("curves.png", "detections.png", "report.json", "last.weights.h5", "model.keras"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert saved["epochs_completed"] == 2
    assert {"voc_map", "voc07_map", "coco_map", "ap50"} <= set(saved["metrics"])
    assert 0.0 <= report["metrics"]["voc_map"] <= 1.0


def test_bad_configs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="neither"):
        load_detection_data(_tiny(tmp_path, data=str(tmp_path / "missing")))
    with pytest.raises(ValueError, match="detection model"):
        train_detector(_tiny(tmp_path, model="vgg16"), verbose=0)
    with pytest.raises(ValueError, match="strategy"):
        train_detector(_tiny(tmp_path, strategy="tpu"), verbose=0)
    args = build_parser().parse_args(["--data", "voc", "--image-size", "128", "--strategy", "mirrored"])
    assert (args.data, args.image_size, args.strategy) == ("voc", 128, "mirrored")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute needs TensorFlow")
@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    script = textwrap.dedent(
        f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
        import runpy
        main = runpy.run_path({str(ROOT / "recipes" / "train_detector.py")!r})["main"]
        import zoo.training
        assert zoo.training.get_strategy("mirrored").num_replicas_in_sync == 2
        main(["--image-size", "64", "--width", "0.125", "--epochs", "1", "--steps-per-epoch", "2",
              "--batch-size", "4", "--val-images", "4", "--max-objects", "2", "--no-augment",
              "--strategy", "mirrored", "--workdir", {str(tmp_path / "mirrored")!r}])
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "mirrored" / "report.json").read_text())
    assert report["config"]["strategy"] == "mirrored" and report["epochs_completed"] == 1


def test_mask_rcnn_trains_with_masks_and_reports_mask_iou(tmp_path):
    cfg = _tiny(
        tmp_path / "mask", model="mask_rcnn_vgg16", epochs=1, steps_per_epoch=1, val_images=2, batch_size=2
    )
    report = train_detector(cfg, verbose=0)
    m = report["metrics"]
    assert 0.0 <= m["mean_mask_iou"] <= 1.0
    assert 0 <= m["mask_matched"] <= m["mask_objects"] and m["mask_objects"] >= 2
    assert "mean_mask_iou" in next(iter(m["per_class"].values()))
    saved = json.loads((tmp_path / "mask" / "report.json").read_text())
    assert saved["metrics"]["mean_mask_iou"] == pytest.approx(m["mean_mask_iou"])
    with open(tmp_path / "mask" / "history.csv") as f:
        assert "val_mask_iou" in next(csv.DictReader(f))
    for name in ("curves.png", "detections.png", "report.json", "last.weights.h5", "model.keras"):
        assert (tmp_path / "mask" / name).stat().st_size > 0
    with pytest.raises(ValueError, match="instance masks"):
        load_detection_data(_tiny(tmp_path, model="mask_rcnn_vgg16", data=str(tmp_path)), with_masks=True)


class _PerfectKeypointModel:
    """Stands in for Keypoint R-CNN: detects every object with heatmaps peaked at its keypoints (and, as
    the FPN Mask R-CNN, box-frame masks), with the FPN models' own decoding and pasting."""

    from zoo.detection.fpn_rcnn import KeypointRCNNFPN, MaskRCNNFPN

    keypoint_head = mask_head = object()
    decode_keypoints = staticmethod(KeypointRCNNFPN.decode_keypoints)
    paste_masks = staticmethod(MaskRCNNFPN.paste_masks)

    def __init__(self, targets):
        self.targets = targets

    def detect_batch(self, images, **kwargs):
        import numpy as np

        t = {k: np.asarray(v) for k, v in self.targets.items()}
        b, g = t["classes"].shape
        heat = np.zeros((b, g, 56, 56, t["keypoints"].shape[2]), "float32")
        yy, xx = np.mgrid[0:56, 0:56]
        for i in range(b):
            for j in range(g):
                x0, y0, x1, y1 = t["boxes"][i, j]
                for p, (x, y, v) in enumerate(t["keypoints"][i, j]):
                    if v > 0 and x1 > x0:
                        cx = min(int((x - x0) / (x1 - x0) * 56), 55)
                        cy = min(int((y - y0) / (y1 - y0) * 56), 55)
                        # a smooth peak (a one-cell spike can fall between the bicubic taps of a small box)
                        heat[i, j, :, :, p] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 32.0)
        return {
            "boxes": t["boxes"], "scores": np.where(t["valid"], 0.9, 0.0).astype("float32"),
            "classes": np.maximum(t["classes"], 0), "num_detections": t["valid"].sum(1).astype("int32"),
            "keypoint_heatmaps": heat, "mask_probs": np.ones((b, g, 28, 28), "float32"),
        }  # fmt: skip


def test_keypoint_pck_and_box_frame_masks_in_the_evaluation(tmp_path):
    from zoo.data.shapes import CLASS_NAMES
    from zoo.detection.train import evaluate_detector

    cfg = _tiny(tmp_path, model="keypointrcnn_resnet50_fpn", image_size=64, batch_size=4, val_images=4)
    data = load_detection_data(cfg, with_masks=True, with_keypoints=True)
    images, targets = next(iter(data.val))
    assert targets["keypoints"].shape == (4, 2, 5, 3)
    result = evaluate_detector(_PerfectKeypointModel(targets), data.val, CLASS_NAMES, progress=False)
    assert result["keypoint_pck"] == 1.0 and result["keypoint_matched"] == result["keypoint_objects"] > 0
    assert result["voc_map"] == pytest.approx(1.0)
    # box-frame masks of ones pasted into each box: the IoU of the box with the shape (not 1, not 0)
    assert 0.4 < result["mean_mask_iou"] < 1.0
    from zoo.detection.visualize import save_detections_png

    dets = _PerfectKeypointModel(targets).detect_batch(images)
    dets["keypoints"] = targets["keypoints"].numpy()
    png = save_detections_png(images.numpy(), dets, tmp_path / "kp.png", ground_truth=targets)
    assert png.stat().st_size > 0
    with pytest.raises(ValueError, match="keypoints"):
        load_detection_data(_tiny(tmp_path, data=str(tmp_path)), with_keypoints=True)


@pytest.mark.slow  # ResNet-50-FPN at 64 px: 60-120 s each on 2 cores
@pytest.mark.parametrize(
    "name",
    [
        "fasterrcnn_resnet50_fpn",
        "fasterrcnn_resnet50_fpn_v2",
        "maskrcnn_resnet50_fpn",
        "keypointrcnn_resnet50_fpn",
    ],
)
def test_fpn_detectors_train_through_the_recipe(tmp_path, name):
    cfg = _tiny(tmp_path / name, model=name, epochs=1, steps_per_epoch=1, roi_batch=16, width=1.0)
    report = train_detector(cfg, verbose=0)
    m = report["metrics"]
    assert 0.0 <= m["voc_map"] <= 1.0 and report["epochs_completed"] == 1
    for key in ("rpn_cls_loss", "rpn_reg_loss", "cls_loss", "box_loss"):
        assert key in report["history"]
    if name.startswith("mask"):
        assert 0.0 <= m["mean_mask_iou"] <= 1.0 and "mask_loss" in report["history"]
    if name.startswith("keypoint"):
        assert 0.0 <= m["keypoint_pck"] <= 1.0 and "keypoint_loss" in report["history"]
        assert "val_pck" in report["history"]
    for file in ("curves.png", "detections.png", "report.json", "last.weights.h5"):
        assert (tmp_path / name / file).stat().st_size > 0
