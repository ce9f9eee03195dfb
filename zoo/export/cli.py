"""``python -m zoo convert`` / ``tools/convert.py``: export a zoo model to LiteRT (.tflite).

``add_convert_parser(subparsers)`` adds the ``convert`` sub-command to the zoo CLI;
``main(argv)`` runs it stand-alone (``tools/convert.py``).

Example:
    $ python -m zoo convert vgg16 --weights imagenet --quantize int8 --representative photos \\
          --fold-preprocessing --output vgg16_int8.tflite
    $ python tools/convert.py runs/demo/crocodile/fine_tuned.keras --labels 5,6,7,8,9 --preprocess unit \\
          --quantize float16 --fold-preprocessing --output crocodile.tflite --force
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo.export.spec import QUANTIZATIONS, TASKS, ExportError


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        if len(parts) == 1:
            return int(parts[0]), int(parts[0])
        if len(parts) == 2:
            return int(parts[0]), int(parts[1])
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a size like 224 or 224x224, got {text!r}")


def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the convert arguments to ``p`` and sets ``func``."""
    p.add_argument("model", help="registered model name (see `python -m zoo list`) or a saved .keras file")
    p.add_argument(
        "--weights",
        default=None,
        help="for a name: None, 'imagenet' or a weight file; for a .keras file: a .weights.h5 file to load",
    )
    p.add_argument(
        "--output", "-o", default=None, help="output .tflite path (default: <model>_<quantize>.tflite)"
    )
    p.add_argument("--quantize", choices=QUANTIZATIONS, default="none", help="default: none (float32)")
    p.add_argument(
        "--representative",
        default="photos",
        help="int8 calibration images: a folder, tfds:NAME[:SPLIT], 'photos' (bundled photographs) "
        "or 'synthetic' (default: photos)",
    )
    p.add_argument("--num-calibration", type=int, default=100, help="calibration images (default 100)")
    p.add_argument(
        "--fold-preprocessing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="uint8 RGB input; the model's preprocessing runs inside the graph (default: folded exactly "
        "when MediaPipe's metadata cannot describe it: caffe's BGR flip, torch's per-channel std, grey "
        "models)",
    )
    p.add_argument(
        "--source-size",
        type=_size,
        default=None,
        help="with --fold-preprocessing: input size to resize from inside the graph, e.g. 480x640",
    )
    p.add_argument(
        "--integer-io", action="store_true", help="int8: uint8 input/output tensors instead of float"
    )
    p.add_argument(
        "--preprocess",
        default=None,
        choices=("caffe", "tf", "inception", "torch", "unit", "none"),
        help="the model's input preprocessing (default: saved in the .keras file by zoo.saving.save_model, "
        "else the registry's; a model file without it is refused); unit = pixels / 255",
    )
    p.add_argument(
        "--labels",
        default=None,
        help="label file (one class name a line) or a comma-separated list, embedded in the .tflite; "
        "detectors: C names with the background first, or the C-1 object names (background is added); "
        "another count is refused",
    )
    p.add_argument("--task", choices=TASKS, default=None, help="override the inferred task")
    p.add_argument("--classes", type=int, default=None, help="for a registered name: number of classes")
    p.add_argument("--input-size", type=_size, default=None, help="model input size, e.g. 224 or 224x224")
    p.add_argument("--no-metadata", action="store_true", help="skip the MediaPipe metadata")
    p.add_argument("--no-verify", action="store_true", help="skip the comparison with Keras and the timing")
    p.add_argument(
        "--verify-images", default="photos", help="images to compare on (same forms as --representative)"
    )
    p.add_argument("--num-verify", type=int, default=20, help="images compared (default 20)")
    p.add_argument("--latency-runs", type=int, default=10, help="timed interpreter runs per thread count")
    p.add_argument("--score-threshold", type=float, default=None, help="detectors: minimum score kept")
    p.add_argument("--max-detections", type=int, default=None, help="detectors: output slots K")
    p.add_argument("--data-dir", default=None, help="TFDS data directory")
    p.add_argument("--report", default=None, help="also write the verification report as JSON here")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.set_defaults(func=run)
    return p


def add_convert_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds ``convert`` to the zoo CLI's sub-commands (``subparsers`` from ``add_subparsers``).

    Example:
        >>> sub = parser.add_subparsers(dest="command")
        >>> add_convert_parser(sub)
    """
    p = subparsers.add_parser(
        "convert",
        help="export a model to LiteRT (.tflite) with quantization and MediaPipe metadata",
        description=__doc__.split("\n\n")[0],
    )
    return configure_parser(p)


def _build_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    import inspect

    from zoo.registry import entry

    try:
        params = set(inspect.signature(entry(args.model).builder).parameters)
    except KeyError:
        params = set()
    kw: dict[str, Any] = {}
    if args.classes is not None:
        kw["classes" if "classes" in params or "num_classes" not in params else "num_classes"] = args.classes
    if args.input_size is not None:
        kw["input_shape"] = (*args.input_size, 3)
    return kw


def run(args: argparse.Namespace) -> int:
    """Runs the conversion described by parsed ``args``; returns the exit status."""
    from zoo.export.litert import export_model
    from zoo.export.spec import is_model_file
    from zoo.utils.io import atomic_write_json

    stem = Path(args.model).stem if args.model.endswith(".keras") else args.model
    output = args.output or f"{stem}_{args.quantize}.tflite"
    is_file = is_model_file(args.model)  # a folder named like a registered model is not a file
    detection_options = {}
    if args.score_threshold is not None:
        detection_options["score_threshold"] = args.score_threshold
    if args.max_detections is not None:
        detection_options["max_detections"] = args.max_detections
    try:
        result = export_model(
            args.model,
            output,
            quantize=args.quantize,
            representative=args.representative,
            num_calibration=args.num_calibration,
            fold_preprocessing=args.fold_preprocessing,
            source_size=args.source_size,
            integer_io=args.integer_io,
            labels=args.labels,
            preprocess=args.preprocess,
            task=args.task,
            weights=args.weights,
            build_kwargs=None if is_file else _build_kwargs(args),
            input_size=args.input_size if is_file else None,
            detection_options=detection_options or None,
            with_metadata=not args.no_metadata,
            force=args.force,
            verify=not args.no_verify,
            verify_images=args.verify_images,
            num_verify=args.num_verify,
            latency_runs=args.latency_runs,
            data_dir=args.data_dir,
        )
    except (ExportError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.report and result.report is not None:
        atomic_write_json(args.report, result.report.to_dict())
    print(f"Wrote {result.path} ({result.path.stat().st_size} bytes)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``tools/convert.py``).

    Example:
        >>> main(["alexnet", "--classes", "10", "--quantize", "float16", "--output", "a.tflite"])
    """
    parser = configure_parser(argparse.ArgumentParser(prog="convert", description=__doc__.split("\n\n")[0]))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
