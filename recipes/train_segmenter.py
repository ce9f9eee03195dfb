"""Train and evaluate a semantic segmenter (FCN-8s / U-Net) on shapes, Oxford-IIIT Pet or a folder.

Resumable: run the same command again after an interruption and training continues from the
last finished epoch. Writes into --workdir: report.json (mean IoU, pixel accuracy, per-class
IoU), predictions.png (image / ground truth / prediction), curves.png, history.csv,
last.weights.h5 and model.weights.h5.

Examples:
    python recipes/train_segmenter.py --model unet --data shapes --image-size 64 --epochs 10
    python recipes/train_segmenter.py --model fcn8s_vgg16 --data pets --data-dir ~/tensorflow_datasets \
        --image-size 224 --weights imagenet_backbone
    python recipes/train_segmenter.py --model unet --data path/to/folder   # images/ and masks/
"""

from __future__ import annotations

import json
import sys

from zoo.utils.cmdline import ArgumentParser, run_command


def parse_args(argv: list[str] | None = None):
    """Parses the command line into a :class:`zoo.segmentation.train.SegmentationConfig`."""
    from zoo.segmentation.losses import LOSS_KINDS
    from zoo.segmentation.train import SegmentationConfig
    from zoo.training import STRATEGIES

    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--model", default="unet", help="fcn8s_vgg16 | fcn16s_vgg16 | fcn32s_vgg16 | unet | unet_vgg16"
    )
    p.add_argument("--data", default="shapes", help="shapes | pets | PATH (folder with images/ and masks/)")
    p.add_argument("--data-dir", default=None, help="TFDS data folder for --data pets")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument(
        "--lr", type=float, default=None, help="Adam learning rate (default 1e-3 U-Net, 1e-4 VGG16 models)"
    )
    p.add_argument("--loss", default="crossentropy", choices=LOSS_KINDS)
    p.add_argument("--train-images", type=int, default=1024, help="synthetic shapes: training images")
    p.add_argument("--val-images", type=int, default=128, help="synthetic shapes: validation images")
    p.add_argument("--filters", type=int, default=16, help="U-Net base width (64 in the paper)")
    p.add_argument("--depth", type=int, default=4, help="U-Net levels (5 in the paper)")
    p.add_argument("--no-batch-norm", action="store_true", help="U-Net without batch normalisation")
    p.add_argument("--fc-units", type=int, default=4096, help="FCN fc6/fc7 width (4096 in the paper)")
    p.add_argument(
        "--weights",
        default=None,
        help="imagenet (FCN) or imagenet_backbone (FCN, unet_vgg16): ImageNet VGG16 weights",
    )
    p.add_argument("--strategy", default="default", choices=STRATEGIES)
    p.add_argument("--workdir", default="runs/segmenter")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--time-budget-min",
        type=float,
        default=None,
        help="stop after the epoch that ends past this many minutes",
    )
    p.add_argument("--verbose", default="auto", help="auto | 1 (progress bar) | 2 (one line per epoch)")
    a = p.parse_args(argv)
    return SegmentationConfig(
        model=a.model,
        data=a.data,
        data_dir=a.data_dir,
        image_size=a.image_size,
        epochs=a.epochs,
        batch_size=a.batch_size,
        learning_rate=a.lr,
        loss=a.loss,
        train_images=a.train_images,
        val_images=a.val_images,
        filters=a.filters,
        depth=a.depth,
        batch_norm=not a.no_batch_norm,
        fc_units=a.fc_units,
        weights=a.weights,
        strategy=a.strategy,
        workdir=a.workdir,
        seed=a.seed,
        verbose=int(a.verbose) if a.verbose.isdigit() else a.verbose,
        time_budget_minutes=a.time_budget_min,
    )


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    return run_command(lambda: _run(cfg), workdir=cfg.workdir)


def _run(cfg) -> int:
    import dataclasses

    from zoo.runs import open_run
    from zoo.segmentation.train import train

    config = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("workdir", "verbose")}
    with open_run(cfg.workdir, config, may_change=("epochs", "time_budget_minutes")):
        report = train(cfg)
    m = report["metrics"]
    print(
        json.dumps(
            {
                "mean_iou": m["mean_iou"],
                "pixel_accuracy": m["pixel_accuracy"],
                "per_class_iou": m["per_class_iou"],
                "seconds": report["seconds"],
            },
            indent=2,
        )
    )
    print(f"Report, predictions.png and curves.png in {cfg.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
