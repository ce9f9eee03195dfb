"""Multitask captcha recognition: train, compare joint vs alternating training, decode images.

Examples:
    python recipes/captcha.py train --workdir runs/captcha --epochs 20
    python recipes/captcha.py train --workdir runs/captcha_alt --mode alternating --model captcha_onevector
    python recipes/captcha.py train --folder my_captchas/ --workdir runs/mine   # files named 0782.png
    python recipes/captcha.py compare --workdir runs/captcha_cmp --epochs 6
    python recipes/captcha.py predict --model runs/captcha/model.keras img1.png img2.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# This script shares its name with the `captcha` package it draws with: keep its folder off sys.path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workdir", required=True, help="output folder (checkpoints, report.json, plots)")
    p.add_argument("--alphabet", default="digits", help="digits | alnum | the characters themselves")
    p.add_argument("--length", type=int, default=4, help="characters per captcha")
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--width", type=int, default=80)
    p.add_argument("--folder", default=None, help="train on a folder of images named by their text instead")
    p.add_argument("--config", default="small", help="body size: small | narrow | tiny")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps-per-epoch", type=int, default=200)
    p.add_argument("--train-pool", type=int, default=0, help="N>0: draw N captchas once and cycle them")
    p.add_argument("--val-size", type=int, default=1000, help="size of the fixed validation set")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--strategy", default="default", choices=("default", "mirrored"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cosine-decay", action="store_true", help="anneal the learning rate to 0 over the run")
    p.add_argument("--init-weights", default=None, help="start from a run's last.weights.h5 (same model)")
    p.add_argument(
        "--target-acc", type=float, default=None, help="stop once val whole-captcha acc reaches it"
    )


def _train_kwargs(a: argparse.Namespace) -> dict:
    return dict(
        alphabet=a.alphabet, length=a.length, height=a.height, width=a.width, folder=a.folder,
        config=a.config, batch_size=a.batch_size, epochs=a.epochs, steps_per_epoch=a.steps_per_epoch,
        train_pool=a.train_pool, val_size=a.val_size, learning_rate=a.learning_rate, strategy=a.strategy,
        seed=a.seed, target_captcha_acc=a.target_acc,
        cosine_decay=a.cosine_decay, init_weights=a.init_weights,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from zoo.utils.cmdline import ArgumentParser, run_command

    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one model (resumable: rerun the same command to continue)")
    _common(t)
    t.add_argument("--model", default="captcha_multihead", choices=("captcha_multihead", "captcha_onevector"))
    t.add_argument("--mode", default="joint", choices=("joint", "alternating"))
    c = sub.add_parser("compare", help="multihead joint vs alternating vs one 40-long vector, same budget")
    _common(c)
    c.add_argument("--summarize", action="store_true", help="only tabulate and plot runs already trained")
    pr = sub.add_parser("predict", help="decode captcha images with a saved model")
    pr.add_argument("--model", required=True, help="model.keras written by `train` (model.json beside it)")
    pr.add_argument("images", nargs="+")
    args = parser.parse_args(argv)
    return run_command(lambda: _run(args), workdir=getattr(args, "workdir", None))


def _run(args: argparse.Namespace) -> int:
    from zoo.experiments.captcha import compare_modes, predict_captchas, summarize_runs, train_captcha
    from zoo.runs import open_run

    if args.command == "predict":
        for path, text in zip(args.images, predict_captchas(args.model, args.images)):
            print(f"{path}\t{text}")
        return 0
    if args.command == "train":
        config = {"command": "train", "model": args.model, "mode": args.mode, **_train_kwargs(args)}
        with open_run(args.workdir, config, may_change=("epochs", "target_captcha_acc")):
            report = train_captcha(args.workdir, model=args.model, mode=args.mode, **_train_kwargs(args))
        report.pop("history")
        print(json.dumps(report, indent=2))
        return 0
    if args.summarize:
        labels = ["multihead-joint", "multihead-alternating", "onevector-joint"]
        summary = summarize_runs(args.workdir, labels)
    else:
        with open_run(args.workdir, {"command": "compare", **_train_kwargs(args)}):
            summary = compare_modes(args.workdir, **_train_kwargs(args))
    print(summary["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
