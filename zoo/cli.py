"""``python -m zoo``: list, info, predict, convert, bench and demo from the command line.

Examples:
    python -m zoo list --task classification
    python -m zoo info resnet50
    python -m zoo predict cat.jpg --model vgg16 --weights imagenet --top 5
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def load_image(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Reads an image file as RGB uint8 [H, W, 3], optionally resized to (height, width).

    Every PIL mode reads correctly (16-bit grey, palette, CMYK, RGBA): see
    :func:`zoo.utils.images.read_image`, which this calls.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image, or too large.
    """
    from zoo.utils.images import read_image

    return read_image(path, size)


def predict(
    image: str | Path, model_name: str, weights: str | None = None, top: int = 5
) -> list[dict[str, Any]]:
    """Classifies one image file with a registered classifier; returns the ``top`` classes.

    With 1000 outputs (ImageNet weights) classes are named from the bundled ImageNet index;
    otherwise they are reported by index.
    """
    import zoo
    from zoo.preprocessing import decode_predictions

    e = zoo.registry.entry(model_name)
    if e.task != "classification":
        raise ValueError(f"predict classifies images; {model_name!r} is a {e.task} model")
    if top < 1:
        raise ValueError(f"--top must be >= 1, got {top}")
    model = zoo.get(model_name, weights=weights)
    height, width = model.input_shape[1:3]
    pixels = load_image(image, (height, width))[None].astype("float32")
    probs = np.asarray(model.predict(zoo.preprocess(model_name)(pixels), verbose=0))
    if probs.shape[-1] == 1000:
        return [{"wnid": w, "label": n, "score": s} for w, n, s in decode_predictions(probs, top=top)[0]]
    best = np.argsort(probs[0])[::-1][:top]
    return [{"class": int(i), "score": float(probs[0, i])} for i in best]


def _cmd_list(args: argparse.Namespace) -> int:
    import zoo

    for name in zoo.list_models(task=args.task, pattern=args.pattern):
        e = zoo.registry.entry(name)
        weights = ",".join(e.weights) or "-"
        print(f"{name:24s} {e.task:15s} weights: {weights:20s} {e.paper[:60]}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import zoo

    result = zoo.info(args.name, measure=not args.no_measure)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    for key, value in result.items():
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:,}"
        print(f"{key:22s} {value}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    for row in predict(args.image, args.model, weights=args.weights, top=args.top):
        label = row.get("label", row.get("class"))
        print(f"{row['score']:.4f}  {label}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from zoo.demo import run_demo

    run_demo(workdir=args.workdir, quick=args.quick)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from zoo.bench import main as bench_main

    return bench_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m zoo`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m zoo", description="The Keras model zoo.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered models")
    p.add_argument("--task", choices=["classification", "detection", "segmentation", "text"])
    p.add_argument("--pattern", help="glob pattern, e.g. 'resnet*'")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="describe a model (parameters, FLOPs, references)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-measure", action="store_true", help="skip building the model")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("predict", help="classify an image")
    p.add_argument("image")
    p.add_argument("--model", required=True)
    p.add_argument("--weights", default=None, help="imagenet, a .weights.h5 path, or omit for random init")
    p.add_argument("--top", type=int, default=5)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("demo", help="the offline end-to-end demo (`make demo`)")
    p.add_argument("--workdir", default="runs/demo")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("bench", help="throughput/latency of zoo models vs keras.applications")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_bench)

    try:
        from zoo.export.cli import add_convert_parser
    except ImportError:
        add_convert_parser = None
    if add_convert_parser is not None:
        add_convert_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status. Errors print one clear line, exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, KeyError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
