"""Train and evaluate a zoo detector: checkpoints every epoch, resumable, mAP, detection and curve PNGs.

Examples:
    python recipes/train_detector.py --model ssd_vgg16 --data shapes --image-size 96 --epochs 20 \
        --steps-per-epoch 100 --batch-size 16 --width 0.25 --workdir runs/ssd_shapes
    python recipes/train_detector.py --model ssd_vgg16 --data voc --data-dir ~/tensorflow_datasets \
        --weights imagenet_backbone --optimizer sgd --learning-rate 1e-3 --epochs 120
    python recipes/train_detector.py --model ssd_vgg16 --data shapes --strategy mirrored
    python recipes/train_detector.py --model mask_rcnn_vgg16 --data shapes --image-size 128 --width 0.125 \
        --epochs 40 --steps-per-epoch 50 --learning-rate 5e-4 --no-augment --eval-every 3 \
        --workdir runs/mask_rcnn_shapes   # + mean mask IoU in report.json, masks in detections.png
    python recipes/train_detector.py --model keypointrcnn_resnet50_fpn --data shapes --image-size 128 \
        --epochs 4 --steps-per-epoch 25 --batch-size 2 --roi-batch 64 --workdir runs/kprcnn_shapes
        # the shapes' 5 keypoints per object (no augmentation); + keypoint PCK@0.2 in report.json

Re-running the same command with the same --workdir resumes an interrupted run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from zoo.utils.cmdline import ArgumentParser, run_command

STRATEGIES = ("default", "mirrored")  # zoo.training.STRATEGIES, without importing Keras to parse


def build_parser() -> ArgumentParser:
    """The recipe's command line (one flag per ``DetectorTrainConfig`` field that users set)."""
    from zoo.detection.train import DetectorTrainConfig

    d = DetectorTrainConfig()
    p = ArgumentParser(
        description="Train and evaluate a zoo detector (SSD, Faster / Mask / Keypoint R-CNN) with checkpoints, "
        "mAP (and mean mask IoU, keypoint PCK) and plots.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", default=d.model, help="detection model name (python -m zoo list)")
    p.add_argument(
        "--data", default=d.data, help="shapes | voc | coco | PATH (folder of VOC XML annotations)"
    )
    p.add_argument("--data-dir", default=d.data_dir, help="TFDS data_dir for voc/coco")
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--steps-per-epoch", type=int, default=d.steps_per_epoch)
    p.add_argument("--val-images", type=int, default=d.val_images, help="held-out synthetic images (shapes)")
    p.add_argument(
        "--val-batches", type=int, default=d.val_batches, help="validation batches (voc/coco/PATH)"
    )
    p.add_argument(
        "--eval-every", type=int, default=d.eval_every, help="validation mAP every N epochs (0: end)"
    )
    p.add_argument("--strategy", choices=STRATEGIES, default=d.strategy)
    p.add_argument("--workdir", default=d.workdir)
    p.add_argument("--weights", default=d.weights, help="None, imagenet_backbone or a weight file")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default=d.lr_schedule)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default=d.optimizer)
    p.add_argument("--clipnorm", type=float, default=d.clipnorm)
    p.add_argument("--width", type=float, default=d.width, help="channel multiplier (1 = the paper)")
    p.add_argument(
        "--roi-batch",
        type=int,
        default=d.roi_batch,
        help="two-stage detectors: RoIs per image (None: the model's)",
    )
    p.add_argument("--max-objects", type=int, default=d.max_objects)
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--score-threshold", type=float, default=d.score_threshold)
    p.add_argument(
        "--box-mode",
        choices=("raise", "clip"),
        default=d.box_mode,
        help="PATH data: a box outside its image is an error (raise) or is clipped / dropped (clip)",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--model-arg",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="extra builder argument (repeat; VALUE read as JSON, else a string), e.g. batch_norm=true",
    )
    p.add_argument(
        "--class-names", default=None, help="comma-separated names (background first) for PATH data"
    )
    return p


def parse_model_args(items: Sequence[str] | None) -> dict | None:
    """``["batch_norm=true", "fc_units=512"]`` -> ``{"batch_norm": True, "fc_units": 512}`` (None if empty).

    Raises:
        ValueError: an item without ``=``.
    """
    import json

    if not items:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--model-arg takes KEY=VALUE (e.g. batch_norm=true), got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: parse, then train in ``--workdir`` (one-line errors, clean Ctrl-C)."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: _run(args), workdir=args.workdir)


def _run(args: argparse.Namespace) -> int:
    import keras

    from zoo.detection.train import DetectorTrainConfig, train_detector
    from zoo.runs import open_run

    values = vars(args)
    if values.get("class_names"):
        values["class_names"] = tuple(n.strip() for n in values["class_names"].split(","))
    if values.get("weights") in ("None", "none", ""):
        values["weights"] = None
    values["model_kwargs"] = parse_model_args(values.pop("model_arg", None))
    cfg = DetectorTrainConfig(**values)
    config = {k: v for k, v in values.items() if k != "workdir"}
    with open_run(cfg.workdir, config, may_change=("epochs", "eval_every")):
        keras.utils.set_random_seed(cfg.seed)
        report = train_detector(cfg)
    m = report["metrics"]
    masks = (
        f", mean mask IoU {m['mean_mask_iou']:.4f} ({m['mask_matched']}/{m['mask_objects']} objects matched)"
        if "mean_mask_iou" in m
        else ""
    )
    if "keypoint_pck" in m:
        masks += (
            f", keypoint PCK@0.2 {m['keypoint_pck']:.4f} ({m['keypoint_matched']}/{m['keypoint_objects']} "
            f"matched; {m['keypoint_pck_matched']:.4f} over the matched)"
        )
    print(
        f"{cfg.model} on {cfg.data}: mAP@0.5 (VOC all-point) {m['voc_map']:.4f}, VOC07 11-point "
        f"{m['voc07_map']:.4f}, COCO mAP@[.5:.95] {m['coco_map']:.4f}{masks}; files in {os.fspath(cfg.workdir)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
