"""K-point regression on synthetic stick figures: one stage (DeepPose) vs one stage + a refinement cascade.

Stage 1 regresses the K joints from the whole image (a zoo classifier body); stage 2 refines each
joint from a crop around the stage-1 estimate. Both train resumably in --workdir/stage1, stage2;
writes report.json (PCK@0.2, mean pixel error of each) and skeletons.png.

    python recipes/pose.py --workdir runs/pose --epochs 10 --refine-epochs 5
"""

from __future__ import annotations

import argparse
import sys

from zoo.pose import run_pose_experiment


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--workdir", required=True, help="checkpoints, report.json and skeletons.png (a rerun resumes)"
    )
    p.add_argument("--body", default="vgg11_bn")
    p.add_argument("--width", type=float, default=0.125)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--train-images", type=int, default=2000)
    p.add_argument("--val-images", type=int, default=200)
    p.add_argument("--epochs", type=int, default=10, help="stage-1 epochs")
    p.add_argument("--refine-epochs", type=int, default=5, help="cascade-stage epochs")
    p.add_argument("--crop", type=int, default=24, help="refinement window in pixels")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from zoo.runs import flags_of, open_run

    with open_run(a.workdir, flags_of(a), may_change=("epochs", "refine_epochs")):
        return run_pose_experiment(
            a.workdir, body=a.body, width=a.width, image_size=a.image_size, train_images=a.train_images,
            val_images=a.val_images, epochs=a.epochs, refine_epochs=a.refine_epochs, crop=a.crop,
            batch_size=a.batch_size, learning_rate=a.learning_rate, seed=a.seed,
        )  # fmt: skip


if __name__ == "__main__":
    from zoo.utils.cmdline import run_script

    sys.exit(run_script(main))
