"""``python -m zoo``: list, info, predict, convert, style, bench, demo and catalog from the command line.

The command line is parsed before anything heavy loads: ``--help``, ``list`` and ``info`` read
the catalog (``zoo/catalog.json``, written from the registry by ``python -m zoo catalog
--write``) and never import TensorFlow. Each sub-command is one row of :data:`COMMANDS`: a
function that adds its parser and a flag saying whether building that parser is costly (then
it is built only when that command runs, and ``--help`` lists its one-line help).

Examples:
    python -m zoo list --task classification
    python -m zoo info resnet50
    python -m zoo predict cat.jpg --model vgg16 --weights imagenet --top 5
    python -m zoo style photo.jpg starry.jpg -o out.png     # also out_side_by_side.png, out.json
    python -m zoo catalog --write          # after adding or changing a registered model
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.utils.cmdline import ArgumentParser, run_command

CATALOG_PATH = Path(__file__).with_name("catalog.json")
TASKS = ("classification", "detection", "segmentation", "text")  # zoo.registry.TASKS, without importing it
#: ``--weights`` values that mean "random initialisation, on purpose".
NO_WEIGHTS = ("none", "None", "random")


def load_image(
    path: str | Path, size: tuple[int, int] | None = None, resize: str = "mediapipe"
) -> np.ndarray:
    """Reads an image file as RGB uint8 [H, W, 3], optionally stretched to (height, width).

    Every PIL mode reads correctly (16-bit grey, palette, CMYK, RGBA): see
    :func:`zoo.utils.images.read_image`, which this calls. ``resize`` is
    :func:`zoo.utils.images.resize_images`'s method: ``"mediapipe"`` (default; MediaPipe's
    non-antialiased bilinear warp, what an exported model sees on the phone and what ``convert``
    verifies with) or ``"pil"`` (PIL's antialiased bilinear).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image, or too large.
    """
    from zoo.utils.images import read_image, resize_images

    pixels = read_image(path)
    return pixels if size is None else resize_images(pixels[None], size, resize)[0]


def _weights_arg(weights: str | None, command: str) -> str | None:
    """``--weights`` as the builders take it; None (not given) is refused, ``none`` means random."""
    if weights is None:
        raise ValueError(
            f"{command} needs --weights: 'imagenet', a .weights.h5 file, or 'none' for random "
            "(untrained) weights, whose outputs mean nothing"
        )
    return None if weights in NO_WEIGHTS else weights


def predict(
    image: str | Path, model_name: str, weights: str | None = None, top: int = 5, resize: str = "mediapipe"
) -> list[dict[str, Any]]:
    """Classifies one image file with a registered classifier; returns the ``top`` classes.

    With 1000 outputs (ImageNet weights) classes are named from the bundled ImageNet index;
    otherwise they are reported by index. ``weights=None`` is random initialisation: the
    command line asks for ``--weights none`` to mean it and warns that the labels are noise.
    ``resize``: how the picture is stretched to the model's input (see :func:`load_image`).

    Example:
        >>> predict("cat.jpg", "vgg16", weights="imagenet", top=1)[0]["label"]
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
    pixels = load_image(image, (height, width), resize)[None].astype("float32")
    probs = np.asarray(model.predict(zoo.preprocess(model_name)(pixels), verbose=0))
    if probs.shape[-1] == 1000:
        return [{"wnid": w, "label": n, "score": s} for w, n, s in decode_predictions(probs, top=top)[0]]
    best = np.argsort(probs[0])[::-1][:top]
    return [{"class": int(i), "score": float(probs[0, i])} for i in best]


# ----------------------------------------------------------------------------- the catalog


def build_catalog(measure: bool = True) -> dict[str, Any]:
    """The registry as data (one entry per name), with built parameter counts when ``measure``.

    Example:
        >>> build_catalog(measure=False)["models"]["vgg16"]["task"]
        'classification'
    """
    from zoo import registry
    from zoo.modelinfo import info

    models = {}
    for name in sorted(registry.entries()):
        models[name] = info(name, measure=measure)
        models[name]["measured"] = measure
    return {
        "generated_by": "python -m zoo catalog --write",
        "models": json.loads(json.dumps(models, default=str)),
    }


def load_catalog() -> dict[str, Any] | None:
    """``zoo/catalog.json``, or None where it is missing or unreadable."""
    try:
        return json.loads(CATALOG_PATH.read_text())
    except (OSError, ValueError):
        return None


_METADATA_KEYS = (
    "name",
    "task",
    "family",
    "paper",
    "input_shape",
    "weights",
    "preprocess",
    "references",
    "doc",
)


def stale_catalog_entries(catalog: dict[str, Any]) -> list[str]:
    """Names whose catalog entry differs from the registry's metadata (missing, extra or changed)."""
    live = build_catalog(measure=False)["models"]
    stored = catalog.get("models", {})
    out = [f"{n} (not in the catalog)" for n in sorted(set(live) - set(stored))]
    out += [f"{n} (no longer registered)" for n in sorted(set(stored) - set(live))]
    for name in sorted(set(live) & set(stored)):
        changed = [k for k in _METADATA_KEYS if live[name].get(k) != stored[name].get(k)]
        if changed:
            out.append(f"{name} ({', '.join(changed)} changed)")
    return out


def _catalog_entry(name: str) -> dict[str, Any] | None:
    """The catalog's entry for ``name`` (None without a catalog); an unknown name is a clear error."""
    catalog = load_catalog()
    if catalog is None:
        return None
    if name not in catalog["models"]:
        from zoo.registry import UnknownModelError, unknown_model_message

        raise UnknownModelError(
            unknown_model_message(name, list(catalog["models"]))
            + " (A model added since the catalog was written: run `python -m zoo catalog --write`.)"
        )
    return catalog["models"][name]


# ----------------------------------------------------------------------------- the commands


def _cmd_list(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    if catalog is None:
        import zoo

        rows = {n: zoo.info(n, measure=False) for n in zoo.list_models(task=args.task, pattern=args.pattern)}
    else:
        rows = {
            n: e
            for n, e in sorted(catalog["models"].items())
            if (args.task is None or e["task"] == args.task)
            and (not args.pattern or fnmatch.fnmatch(n, args.pattern))
        }
    for name, e in rows.items():
        weights = ",".join(w for w in e["weights"] if w not in (None, "<path>")) or "-"
        print(f"{name:24s} {e['task']:15s} weights: {weights:20s} {e['paper'][:60]}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    result = None if args.measure else _catalog_entry(args.name)
    if result is not None and args.no_measure:
        result = {k: v for k, v in result.items() if k in _METADATA_KEYS}
    if result is None:
        import zoo

        result = zoo.info(args.name, measure=not args.no_measure)
    result = {k: v for k, v in result.items() if k != "measured"}
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    for key, value in result.items():
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:,}"
        print(f"{key:22s} {value}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    weights = _weights_arg(args.weights, "predict")
    if weights is None:
        print(
            "warning: RANDOM WEIGHTS (--weights none): the model is untrained, so the classes and scores "
            "below are noise, not a prediction",
            file=sys.stderr,
        )
    for row in predict(args.image, args.model, weights=weights, top=args.top, resize=args.resize):
        label = row.get("label", row.get("class"))
        print(f"{row['score']:.4f}  {label}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from zoo.experiments.demo import run_demo

    run_demo(workdir=args.workdir, quick=args.quick)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from zoo.experiments.bench import run_bench

    run_bench(args.models, repeats=args.repeats, batch=args.batch, json_path=args.json)
    return 0


def _cmd_catalog(args: argparse.Namespace) -> int:
    from zoo.utils.io import atomic_write_text

    if args.check:
        catalog = load_catalog()
        stale = ["the catalog file is missing"] if catalog is None else stale_catalog_entries(catalog)
        if stale:
            raise ValueError(
                f"{CATALOG_PATH} is stale: {'; '.join(stale)}. Run `python -m zoo catalog --write`"
            )
        print(f"{CATALOG_PATH}: up to date ({len(catalog['models'])} models)")
        return 0
    text = json.dumps(build_catalog(measure=not args.no_measure), indent=1) + "\n"
    if args.write:
        atomic_write_text(CATALOG_PATH, text)
        print(f"wrote {CATALOG_PATH}")
    else:
        print(text, end="")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from zoo.export.cli import run

    if not str(args.model).endswith(".keras"):
        args.weights = _weights_arg(args.weights, "convert")
    elif args.weights in NO_WEIGHTS:
        args.weights = None
    return run(args)


def _cmd_style(args: argparse.Namespace) -> int:
    from zoo.generative.style_files import stylize_files

    report = stylize_files(
        args.content, args.style, args.output, transform=args.transform,
        weights=None if args.weights in NO_WEIGHTS else args.weights, iterations=args.iterations,
        alpha=args.alpha, beta=args.beta, optimizer=args.optimizer, init=args.init, max_side=args.max_side,
        filters=args.filters, num_residual=args.num_residual,
    )  # fmt: skip
    print(
        f"wrote {report['output']} and {report['side_by_side']} ({report['method']}, {report['seconds']:.1f} s)"
    )
    if args.transform is None and args.weights in NO_WEIGHTS:
        print(
            "warning: RANDOM VGG19 WEIGHTS (--weights none): the loss network is untrained, so the "
            "result is a texture smear, not a style transfer",
            file=sys.stderr,
        )
    return 0


def _add_list(sub: Any) -> None:
    p = sub.add_parser("list", help="list registered models")
    p.add_argument("--task", choices=TASKS)
    p.add_argument("--pattern", help="glob pattern, e.g. 'resnet*'")
    p.set_defaults(func=_cmd_list)


def _add_info(sub: Any) -> None:
    p = sub.add_parser("info", help="describe a model (parameters, FLOPs, references)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print JSON")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--no-measure", action="store_true", help="registry facts only (no built counts)")
    g.add_argument(
        "--measure", action="store_true", help="build the model now instead of reading the catalog"
    )
    p.set_defaults(func=_cmd_info)


def _add_predict(sub: Any) -> None:
    p = sub.add_parser("predict", help="classify an image")
    p.add_argument("image")
    p.add_argument("--model", required=True)
    p.add_argument(
        "--weights", default=None, help="imagenet, a .weights.h5 path, or none (random: the output is noise)"
    )
    p.add_argument("--top", type=int, default=5)
    p.add_argument(
        "--resize",
        choices=("mediapipe", "pil"),  # zoo.utils.images.RESIZES, without importing it to parse
        default="mediapipe",
        help="how the picture is stretched to the model's input: mediapipe (default) = MediaPipe's "
        "non-antialiased bilinear warp, what an exported model sees on the phone and what `convert` "
        "verifies with; pil = PIL's antialiased bilinear",
    )
    p.set_defaults(func=_cmd_predict)


def _add_style(sub: Any) -> None:
    p = sub.add_parser(
        "style",
        help="neural style transfer of an image (Gatys, or a trained fast-style network)",
        description="Stylises CONTENT after STYLE; writes OUT.png, OUT_side_by_side.png (content | style | "
        "result) and OUT.json. Gatys' optimisation by default; --transform uses a trained network in one pass.",
    )
    p.add_argument("content", help="content image file")
    p.add_argument("style", help="style image file")
    p.add_argument("-o", "--output", required=True, help="stylised image (.png)")
    p.add_argument(
        "--transform",
        help="trained transformation network (.keras, or .weights.h5 with --filters/--num-residual)",
    )
    p.add_argument(
        "--weights", default="imagenet",
        help="Gatys' VGG19: imagenet (keras.applications' file in the Keras cache), a path, or none (random)",
    )  # fmt: skip
    p.add_argument("--iterations", type=int, default=100, help="Gatys: L-BFGS iterations / Adam steps")
    p.add_argument("--alpha", type=float, default=1.0, help="Gatys: content weight")
    p.add_argument("--beta", type=float, default=1e3, help="Gatys: style weight (alpha/beta 1e-3 by default)")
    p.add_argument("--optimizer", default="lbfgs", choices=("lbfgs", "adam"))
    p.add_argument("--init", default="content", choices=("content", "noise"))
    p.add_argument("--max-side", type=int, default=384, help="images are shrunk to this longer side")
    p.add_argument("--filters", type=int, default=32, help="fast: the .weights.h5 network's width")
    p.add_argument("--num-residual", type=int, default=5, help="fast: its residual blocks")
    p.set_defaults(func=_cmd_style)


def _add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="the offline end-to-end demo (`make demo`)")
    p.add_argument("--workdir", default="runs/demo")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")
    p.set_defaults(func=_cmd_demo)


def _add_bench(sub: Any) -> None:
    from zoo.experiments.bench import PAIRS

    p = sub.add_parser(
        "bench",
        help="throughput/latency of zoo models vs keras.applications",
        description="Throughput (images/s) and latency (ms) of zoo classifiers next to their "
        "keras.applications twins, measured interleaved in one run, printed as one table with the ratios.",
    )
    p.add_argument("--models", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    p.add_argument("--repeats", type=int, default=5, help="timed runs per model (medians reported)")
    p.add_argument("--batch", type=int, default=16, help="batch size for the throughput figure")
    p.add_argument("--json", help="also write the rows to this JSON file")
    p.set_defaults(func=_cmd_bench)


def _add_catalog(sub: Any) -> None:
    p = sub.add_parser("catalog", help="regenerate zoo/catalog.json from the registry (what list/info read)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="write zoo/catalog.json (else print it)")
    g.add_argument("--check", action="store_true", help="exit 2 if zoo/catalog.json is stale")
    p.add_argument("--no-measure", action="store_true", help="skip building each model to count parameters")
    p.set_defaults(func=_cmd_catalog)


def _add_convert_weights(sub: Any) -> None:
    from zoo.convert_weights import add_convert_weights_parser

    add_convert_weights_parser(sub)


def _add_convert(sub: Any) -> None:
    from zoo.export.cli import add_convert_parser

    add_convert_parser(sub).set_defaults(func=_cmd_convert)


@dataclass(frozen=True)
class Command:
    """One sub-command: ``add(subparsers)`` adds its parser; ``costly`` parsers import heavy modules,
    so they are built only when their command runs (``help`` stands in for them in ``--help``)."""

    add: Callable[[Any], None]
    help: str
    costly: bool = False


#: The sub-commands, in ``--help`` order. To add one: write ``_add_x(subparsers)`` and a row here.
COMMANDS: dict[str, Command] = {
    "list": Command(_add_list, "list registered models"),
    "info": Command(_add_info, "describe a model (parameters, FLOPs, references)"),
    "predict": Command(_add_predict, "classify an image"),
    "convert": Command(
        _add_convert,
        "export a model to LiteRT (.tflite) with quantization and MediaPipe metadata",
        costly=True,
    ),
    "convert-weights": Command(
        _add_convert_weights, "convert a torchvision .pth checkpoint to a Keras .weights.h5", costly=True
    ),
    "style": Command(
        _add_style, "neural style transfer of an image (Gatys, or a trained fast-style network)"
    ),
    "bench": Command(_add_bench, "throughput/latency of zoo models vs keras.applications"),
    "demo": Command(_add_demo, "the offline end-to-end demo (`make demo`)"),
    "catalog": Command(_add_catalog, "regenerate zoo/catalog.json from the registry"),
}


def _chosen(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``python -m zoo`` argument parser; costly sub-parsers are full only for ``command``."""
    parser = ArgumentParser(prog="python -m zoo", description="The Keras model zoo.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name, cmd in COMMANDS.items():
        if cmd.costly and name != command:
            sub.add_parser(name, help=cmd.help, add_help=False)
            continue
        try:
            cmd.add(sub)
        except ImportError as exc:  # an optional part missing (e.g. the LiteRT converter)
            p = sub.add_parser(name, help=f"{cmd.help} (unavailable: {exc})")
            p.set_defaults(func=lambda args, exc=exc: _unavailable(exc))
    return parser


def _unavailable(exc: ImportError) -> int:
    raise ValueError(f"this command needs a module that is not installed: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status. Errors print one clear line, exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_chosen(argv)).parse_args(argv)
    return run_command(lambda: args.func(args), errors=(FileNotFoundError, ValueError, KeyError, TypeError))


if __name__ == "__main__":
    sys.exit(main())
