"""OverFeat on synthetic shapes: a window classifier + box regressor, convolutionalized, run at several scales.

Training windows (object or background) are cut from the shapes images resized by each --scales
factor; phase 1 trains the classifier (background + 3 shapes), phase 2 the box head on the object
windows (SGD, L2), resumable in --workdir/windows/. The fully connected layers then become
convolutions (``zoo.overfeat.convolutionalize``) and ``sliding_window_detect`` merges the score
maps of all scales with the per-class NMS. Writes report.json (mAP@0.5 with the shared evaluator on
the detector recipe's held-out images) and detections.png.

    python recipes/overfeat.py --workdir runs/overfeat --image-size 112 --scales 0.7 1.0 1.4
"""

from __future__ import annotations

import argparse
import sys

from zoo.localization import ATTACH


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--workdir", required=True, help="checkpoints, report.json and detections.png (a rerun resumes)"
    )
    p.add_argument("--window", type=int, default=48, help="classifier input side (px)")
    p.add_argument("--body", default="vgg11_bn", help="zoo VGG whose body (without block5_pool) is used")
    p.add_argument("--width", type=float, default=0.125)
    p.add_argument("--image-size", type=int, default=112)
    p.add_argument("--train-images", type=int, default=800)
    p.add_argument("--val-images", type=int, default=96)
    p.add_argument("--scales", type=float, nargs="+", default=[0.7, 1.0, 1.4])
    p.add_argument("--attach", choices=ATTACH, default="fc")
    p.add_argument("--class-epochs", type=int, default=5)
    p.add_argument("--box-epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from zoo.runs import flags_of, open_run

    with open_run(a.workdir, flags_of(a), may_change=("class_epochs", "box_epochs")):
        from zoo.overfeat import run_overfeat_experiment

        return run_overfeat_experiment(
            a.workdir, window=a.window, body=a.body, width=a.width, image_size=a.image_size,
            train_images=a.train_images, val_images=a.val_images, scales=tuple(a.scales), attach=a.attach,
            class_epochs=a.class_epochs, box_epochs=a.box_epochs, batch_size=a.batch_size, seed=a.seed,
        )  # fmt: skip


if __name__ == "__main__":
    from zoo.utils.cmdline import run_script

    sys.exit(run_script(main))
