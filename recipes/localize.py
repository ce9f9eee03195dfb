"""Classification + localization on single-object synthetic shapes, both box-head placements.

Phase 1 trains the classifier (Adam), phase 2 only the 4-number box head (SGD, L2 loss); each phase
checkpoints every epoch in --workdir/<attach>/ and a rerun resumes. Writes report.json (accuracy,
mean IoU, IoU >= 0.5 per placement) and boxes_conv.png / boxes_fc.png.

    python recipes/localize.py --workdir runs/localize --body vgg11_bn --width 0.125 --image-size 64
"""

from __future__ import annotations

import argparse
import json
import sys

from zoo.localization import ATTACH, run_localization_experiment


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="checkpoints, report.json and PNGs (a rerun resumes)")
    p.add_argument("--body", default="vgg11_bn", help="zoo classifier whose include_top=False body is used")
    p.add_argument("--width", type=float, default=0.125, help="channel multiplier of the body")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--train-images", type=int, default=2000)
    p.add_argument("--val-images", type=int, default=200)
    p.add_argument("--attach", nargs="+", choices=ATTACH, default=list(ATTACH))
    p.add_argument("--class-epochs", type=int, default=5)
    p.add_argument("--box-epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--class-lr", type=float, default=1e-3)
    p.add_argument("--box-lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from zoo.runs import flags_of, open_run

    with open_run(a.workdir, flags_of(a), may_change=("class_epochs", "box_epochs")):
        report = run_localization_experiment(
            a.workdir, body=a.body, width=a.width, image_size=a.image_size, train_images=a.train_images,
            val_images=a.val_images, attach=tuple(a.attach), class_epochs=a.class_epochs, box_epochs=a.box_epochs,
            batch_size=a.batch_size, class_lr=a.class_lr, box_lr=a.box_lr, seed=a.seed,
        )  # fmt: skip
        print(
            json.dumps(
                {
                    k: {m: v[m] for m in ("accuracy", "mean_iou", "iou_at_0.5")}
                    for k, v in report["results"].items()
                }
            )
        )
        return report


if __name__ == "__main__":
    from zoo.utils.cmdline import run_script

    sys.exit(run_script(main))
