"""Train and evaluate one method of the R-CNN lineage on synthetic shapes: R-CNN, SPP-net, Fast R-CNN,
Faster R-CNN or R-FCN, with the same data, VGG16 body and input size (``zoo.detection.lineage``).

Examples (R-CNN and SPP-net take their body from the Fast R-CNN run):
    python recipes/rcnn_lineage.py --method fast_rcnn --workdir runs/lineage/fast_rcnn
    python recipes/rcnn_lineage.py --method rcnn --backbone-from runs/lineage/fast_rcnn --workdir runs/lineage/rcnn
    python recipes/rcnn_lineage.py --method sppnet --backbone-from runs/lineage/fast_rcnn --workdir runs/lineage/sppnet
    python recipes/rcnn_lineage.py --method faster_rcnn --workdir runs/lineage/faster_rcnn
    python recipes/rcnn_lineage.py --method rfcn --workdir runs/lineage/rfcn

Writes the checkpoint (last.weights.h5 or svm.npz), report.json and detections.png into --workdir.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from zoo.utils.cmdline import ArgumentParser, run_command

METHODS = ("rcnn", "sppnet", "fast_rcnn", "faster_rcnn", "rfcn")  # zoo.detection.lineage.METHODS


def build_parser() -> ArgumentParser:
    from zoo.detection.lineage import LineageConfig

    d = LineageConfig()
    p = ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--method", choices=METHODS, default=d.method)
    p.add_argument("--workdir", default=d.workdir)
    p.add_argument(
        "--backbone-from", default=d.backbone_from, help="rcnn/sppnet: the fast_rcnn run's workdir"
    )
    for name in ("image_size", "train_images", "val_images", "max_objects", "max_proposals", "epochs",
                 "steps_per_epoch", "batch_size", "warp_size", "seed"):  # fmt: skip
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("width", "learning_rate", "svm_c"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    p.add_argument(
        "--levels", type=int, nargs="+", default=list(d.levels), help="pyramid levels (R-CNN, SPP-net)"
    )
    p.add_argument("--mode", choices=("fast", "quality"), default=d.mode, help="selective search mode")
    p.add_argument("--proposal-cache", default=d.proposal_cache)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: _run(args), workdir=args.workdir)


def _run(args: argparse.Namespace) -> int:
    import keras

    from zoo.detection.lineage import LineageConfig, run_lineage

    values = vars(args)
    values["levels"] = tuple(values["levels"])
    cfg = LineageConfig(**values)
    from zoo.runs import flags_of, open_run

    keras.utils.set_random_seed(cfg.seed)
    with open_run(cfg.workdir, flags_of(args), may_change=("epochs",)):
        r = run_lineage(cfg)
    s = r["seconds_per_image"]
    print(
        f"{cfg.method}: mAP@0.5 (VOC all-point) {r['metrics']['voc_map']:.4f}; s/image: "
        + ", ".join(f"{k} {v:.4f}" for k, v in s.items())
        + f"; training {r['train_seconds']:.0f} s; files in {cfg.workdir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
