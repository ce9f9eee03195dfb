"""Crocodile learning: cut a trained network's head off, keep its body, attach a new head.

Examples:
    # offline demo: body trained on digits 0-4, transferred to 5-9; learning curve + report
    # (default data: "jittered" digits on cluttered backgrounds; --variant clean: plain upscaled digits)
    python recipes/crocodile.py demo --workdir runs/crocodile
    python recipes/crocodile.py demo --workdir runs/crocodile --variant clean --seeds 3
    python recipes/crocodile.py demo --workdir runs/crocodile_quick --quick
    # your images: a folder of class sub-folders, an ImageNet VGG16 body, MLP head, then fine-tune
    python recipes/crocodile.py train --folder flowers/ --workdir runs/flowers --model vgg16 \\
        --fine-tune-epochs 3 --fine-tune-blocks 1
    # a prepared TFDS data set and a random forest on pool5 features
    python recipes/crocodile.py train --tfds tf_flowers --data-dir ~/tensorflow_datasets \\
        --workdir runs/tf_flowers --head random_forest
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    from zoo.utils.cmdline import ArgumentParser, run_command

    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="offline digits 0-4 -> 5-9 demo with a learning curve")
    d.add_argument("--workdir", required=True)
    d.add_argument("--quick", action="store_true", help="fewer shots, one seed, shorter training")
    d.add_argument("--seeds", type=int, default=1, help="label subsets averaged per point")
    d.add_argument(
        "--variant",
        default="jittered",
        choices=("jittered", "clean"),
        help="jittered: digits at random size/angle/offset on cluttered, noisy backgrounds (harder, "
        "CIFAR-like); clean: sklearn digits upscaled to 32x32 (too easy for transfer to matter)",
    )
    d.add_argument("--strategy", default="default", choices=("default", "mirrored"))
    t = sub.add_parser("train", help="head swap (+ fine-tune) on a folder or a TFDS data set")
    t.add_argument("--workdir", required=True)
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--folder", help="folder of class sub-folders of images")
    src.add_argument("--tfds", help="TFDS data set name (already prepared in --data-dir)")
    t.add_argument("--data-dir", default=None, help="TFDS data_dir")
    t.add_argument("--model", default="vgg16", help="zoo classifier to cut (zoo.list_models())")
    t.add_argument("--weights", default="imagenet", help="imagenet | none | a weights file")
    t.add_argument("--cut-at", default="last_pool", help="last_pool or a layer name")
    t.add_argument("--image-size", type=int, default=224)
    t.add_argument("--head", default="mlp", choices=("mlp", "linear", "logreg", "random_forest", "gboost"))
    t.add_argument("--pooling", default="avg", choices=("avg", "max", "flatten"))
    t.add_argument("--head-epochs", type=int, default=5)
    t.add_argument("--fine-tune-epochs", type=int, default=0)
    t.add_argument("--fine-tune-blocks", type=int, default=1)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--strategy", default="default", choices=("default", "mirrored"))
    args = parser.parse_args(argv)
    return run_command(lambda: _run(args), workdir=args.workdir)


def _run(args: argparse.Namespace) -> int:
    from zoo import transfer
    from zoo.experiments.digits_transfer import run_digits_demo
    from zoo.runs import open_run

    config = {k: v for k, v in vars(args).items() if k != "workdir"}
    with open_run(args.workdir, config, may_change=("epochs", "head_epochs", "fine_tune_epochs")):
        if args.command == "demo":
            report = run_digits_demo(
                args.workdir,
                quick=args.quick,
                seeds=tuple(range(args.seeds)),
                variant=args.variant,
                strategy=args.strategy,
            )
            print(f"data: {report['demo']}")
            print(report["table"])
            print(
                json.dumps({"goal": report["goal"], "fine_tuned_model": report["fine_tuned_model"]}, indent=2)
            )
            return 0
        size = (args.image_size, args.image_size)
        names = None
        if args.folder:
            train, val, names = transfer.load_image_folder(args.folder, size, batch_size=args.batch_size)
            num_classes = len(names)
        else:
            train, val, num_classes = transfer.load_tfds(
                args.tfds, data_dir=args.data_dir, image_size=size, batch_size=args.batch_size
            )
        report = transfer.run_transfer(
            args.workdir, train, val, num_classes, model=args.model,
            weights=None if args.weights == "none" else args.weights, at=args.cut_at,
            input_shape=(*size, 3), head=args.head, pooling=args.pooling, head_epochs=args.head_epochs,
            fine_tune_epochs=args.fine_tune_epochs, fine_tune_blocks=args.fine_tune_blocks,
            learning_rate=args.learning_rate, strategy=args.strategy, labels=names,
        )  # fmt: skip
    report.pop("history", None)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
