"""Keras model -> LiteRT (.tflite) with quantization, folded preprocessing and MediaPipe metadata.

:func:`export_model` is the entry point; the jobs live in their own modules, imported one way:

* :mod:`zoo.export.spec` — what the model is (task, input size, preprocessing, labels, detector
  settings): :class:`ExportSpec`, :func:`load_model`, :func:`infer_spec`;
* :mod:`zoo.export.graph` — the serving ``tf.function`` that is converted;
* :mod:`zoo.export.conversion` — TFLiteConverter settings per quantization (:class:`ConvertOptions`);
* :mod:`zoo.export.metadata` — the MediaPipe metadata flatbuffer writer (this module describes the
  model with it: :func:`build_metadata`);
* :mod:`zoo.export.runtime` — the LiteRT interpreter (output order, latency);
* :mod:`zoo.export.verify` — the comparison with Keras (:class:`VerifyOptions`).

Conversion goes through ``tf.lite.TFLiteConverter`` on a ``tf.function`` that wraps the model, with
the Keras variables frozen to constants first (TensorFlow backend only: this is an edge of the zoo).
Keras 3's ``model.export(format="litert")`` was not used because it always enables ``SELECT_TF_OPS``
(an unsupported layer then converts "successfully" into a file that neither MediaPipe nor the plain
LiteRT interpreter can run), writes the file non-atomically and offers no place to add
preprocessing, detection outputs or metadata. Only ``TFLITE_BUILTINS`` are allowed, so an
unsupported layer fails at conversion with the op named.

The exported graph:

* input ``image`` ``[1, H, W, 3]``: float32 preprocessed pixels, or, with
  ``fold_preprocessing=True``, uint8 RGB pixels with the zoo preprocessing (``zoo.preprocessing``
  mode of the model: caffe / tf / torch) inside the graph (optionally resizing from another size);
* classifiers: the model's ``[1, classes]`` output;
* detectors: the four outputs of TFLite's detection post-process op that MediaPipe's
  ObjectDetector expects (see :func:`zoo.export.graph.serving_function`);
* segmenters: the model's ``[1, h, w, classes]`` per-class scores (MediaPipe's ImageSegmenter
  makes the per-pixel class map from it).

Example:
    >>> result = export_model("vgg16", "vgg16_int8.tflite", quantize="int8",
    ...                       representative="photos", fold_preprocessing=True)
    >>> print(result.report.table())
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.export import metadata as md
from zoo.export.conversion import ConvertOptions, convert
from zoo.export.runtime import canonical_output_order
from zoo.export.spec import (
    QUANTIZATIONS,
    TASKS,
    ExportError,
    ExportSpec,
    ModelOptions,
    anchor_based,
    infer_spec,
    is_zoo_detector,
    load_model,
    normalization_for,
    num_classes,
)
from zoo.export.verify import VerifyOptions, verify_export
from zoo.utils.io import atomic_path

__all__ = [
    "QUANTIZATIONS",
    "TASKS",
    "ConvertOptions",
    "ExportError",
    "ExportResult",
    "ExportSpec",
    "ModelOptions",
    "VerifyOptions",
    "build_metadata",
    "check_labels",
    "mediapipe_normalization",
    "export_model",
    "load_model",
    "normalization_for",
]


@dataclass
class ExportResult:
    """What :func:`export_model` produced."""

    path: Path
    tflite: bytes
    spec: ExportSpec
    quantize: str
    fold_preprocessing: bool
    report: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _segmentation_activation(model: keras.Model) -> str:
    act = getattr(model.layers[-1], "activation", None)
    name = getattr(act, "__name__", str(act)) if act is not None else ""
    if "softmax" in name or "sigmoid" in name:
        return "none"
    return "softmax"


def build_metadata(
    model: keras.Model, spec: ExportSpec, tflite: bytes, *, fold_preprocessing: bool
) -> tuple[Any, dict[str, bytes]]:
    """ModelMetadata + associated files for ``spec.task`` (see :mod:`zoo.export.metadata`)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite)
    details = interpreter.get_input_details()[0]
    order = canonical_output_order(interpreter)  # returned output j is at file position order[j]
    _, h, w, _ = (int(v) for v in details["shape"])
    input_dtype = np.dtype(details["dtype"]).name
    norm = None
    if input_dtype == "float32":
        norm = normalization_for(spec.preprocess)
        if norm is None:
            raise ExportError(
                f"{spec.name}'s {spec.preprocess!r} preprocessing (RGB->BGR) cannot be described by MediaPipe "
                "metadata (per-channel mean/std only); export with fold_preprocessing=True (--fold-preprocessing)"
            )
    files = {md.LABEL_FILE: md.labels_file(spec.labels)} if spec.labels else {}
    has_labels = bool(files)
    kw = dict(normalization=norm, input_dtype=input_dtype, has_labels=has_labels, name=spec.name)
    if spec.task == "classification":
        meta = md.classifier_metadata(h, w, **kw)
    elif spec.task == "detection":
        # Metadata lists tensors in file order; the serving function returned them canonically.
        names = (*md.DETECTION_OUTPUT_NAMES, md.MASK_OUTPUT_NAME)[: len(order)]
        file_order = [names[order.index(pos)] for pos in range(len(order))]
        meta = md.detector_metadata(h, w, output_order=file_order, **kw)
    else:
        meta = md.segmenter_metadata(h, w, activation=_segmentation_activation(model), **kw)
    return meta, files


# Flat keyword names export_model accepts, and the option group each belongs to.
_GROUPS = {
    "model": {f.name for f in dataclasses.fields(ModelOptions)},
    "options": {f.name for f in dataclasses.fields(ConvertOptions)},
    "check": {"verify_images": "images", "num_verify": "num_images", "latency_runs": "latency_runs"},
}


def _split_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    model, options, check = {}, {}, {}
    for key, value in settings.items():
        if key in _GROUPS["model"]:
            model[key] = value
        elif key in _GROUPS["options"]:
            options[key] = value
        elif key in _GROUPS["check"]:
            check[_GROUPS["check"][key]] = value
        else:
            import difflib

            known = sorted(_GROUPS["model"] | _GROUPS["options"] | set(_GROUPS["check"]))
            near = difflib.get_close_matches(key, known, n=3)
            hint = f" Did you mean: {', '.join(near)}?" if near else ""
            raise TypeError(f"export_model() got an unexpected keyword argument {key!r}.{hint}")
    return model, options, check


def export_model(
    source: keras.Model | str | os.PathLike,
    output: str | os.PathLike,
    options: ConvertOptions | None = None,
    *,
    model: ModelOptions | None = None,
    check: VerifyOptions | None = None,
    verify: bool = True,
    force: bool = False,
    verbose: bool = True,
    **settings: Any,
) -> ExportResult:
    """Converts a zoo model to ``output`` (.tflite), with metadata, verified against Keras.

    The settings come in three groups: :class:`ModelOptions` (what the model is: weights, builder
    arguments, task, input size, preprocessing, labels, detection options), :class:`ConvertOptions`
    (quantization, folding, metadata) and :class:`VerifyOptions` (comparison images, timing). Each
    field can also be given as a keyword (``quantize="int8"``, ``labels=[...]``); the verification
    fields as ``verify_images``, ``num_verify`` and ``latency_runs``.

    Args:
        source: ``keras.Model``, ``.keras`` file or registered name.
        output: the .tflite path (written atomically; not overwritten unless ``force``).
        options: conversion settings.
        model: what the model is, overriding what is inferred.
        check: verification settings.
        verify: compare with the Keras model and time the LiteRT interpreter; prints a table.
        force: overwrite an existing ``output``.
        verbose: print progress and the verification table.
        **settings: fields of the three groups by name.

    Returns:
        :class:`ExportResult` with the path, bytes and the verification report.

    Raises:
        ExportError: bad input, unsupported layer, empty representative data, existing output.
        TypeError: a keyword that is no field of the three groups.

    Example:
        >>> r = export_model("alexnet", "alexnet_f16.tflite", quantize="float16",
        ...                  build_kwargs={"classes": 10}, force=True)
    """
    model_kw, options_kw, check_kw = _split_settings(settings)
    model_opts = dataclasses.replace(model or ModelOptions(), **model_kw)
    opts = dataclasses.replace(options or ConvertOptions(), **options_kw)
    check = dataclasses.replace(check or VerifyOptions(), **check_kw)
    output = Path(output)
    if output.is_dir():
        raise ExportError(
            f"The output {output} is a directory; give a file path such as {output / 'model.tflite'}"
        )
    if output.suffix != ".tflite":
        raise ExportError(f"The output must end with .tflite, got {output}")
    if output.exists() and not force:
        raise ExportError(f"{output} exists; pass force=True (--force) to overwrite it")
    if opts.quantize not in QUANTIZATIONS:
        raise ExportError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {opts.quantize!r}")
    keras_model, name = load_model(source, weights=model_opts.weights, build_kwargs=model_opts.build_kwargs)
    spec = infer_spec(keras_model, name, model_opts)
    check_labels(keras_model, spec, verbose=verbose)
    if opts.fold_preprocessing is None:
        fold = opts.with_metadata and _metadata_needs_folding(spec, opts)
        if fold and verbose:
            print(
                f"Folding {spec.name}'s {spec.preprocess!r} preprocessing into the graph (uint8 RGB input): {fold}"
            )
        opts = dataclasses.replace(opts, fold_preprocessing=bool(fold))
    if spec.task == "detection":
        spec.detection_postprocess = opts.detection_postprocess or (
            "tflite_op" if anchor_based(keras_model) else "graph"
        )
        if spec.detection_postprocess not in ("tflite_op", "graph"):
            raise ExportError(
                f"detection_postprocess must be 'tflite_op' or 'graph', got {spec.detection_postprocess!r}"
            )
        spec.split_classes = opts.split_detection_classes
        if spec.detection_postprocess == "tflite_op" and not anchor_based(keras_model):
            raise ExportError(
                f"{spec.name} has no default_boxes / raw outputs; use detection_postprocess='graph'"
            )
    _check_compatible(spec, opts)
    if verbose:
        print(
            f"Converting {spec.name} ({spec.task}, {spec.input_size[0]}x{spec.input_size[1]}, "
            f"preprocess={spec.preprocess}{', folded' if opts.fold else ''}) quantize={opts.quantize}"
        )
    data = convert(keras_model, spec, opts)
    if opts.with_metadata:
        meta, files = build_metadata(keras_model, spec, data, fold_preprocessing=opts.fold)
        data = md.attach_metadata(data, meta, files)
    result = ExportResult(
        path=output, tflite=data, spec=spec, quantize=opts.quantize, fold_preprocessing=opts.fold
    )
    # The output path only ever holds a verified file: write beside it, verify, then rename.
    with _terminate_as_exit(), atomic_path(output, overwrite=force) as tmp:
        tmp.write_bytes(data)
        if verify:
            result.report = verify_export(keras_model, spec, tmp, opts, check)
            result.report.path = str(output)
    if verbose and result.report is not None:
        print(result.report.table())
    return result


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit while the block runs, so temporary files are cleaned up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def mediapipe_normalization(mode: str) -> md.Normalization | None:
    """The metadata normalisation MediaPipe Tasks accepts for ``mode``: one mean and one std for
    all channels (it refuses per-channel values: "Per-channel image normalization is not
    available"), else None.

    Example:
        >>> mediapipe_normalization("tf"), mediapipe_normalization("torch")
        (Normalization(mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5)), None)
    """
    norm = normalization_for(mode)
    if norm is None or len(set(norm.mean)) > 1 or len(set(norm.std)) > 1:
        return None
    return norm


def _metadata_needs_folding(spec: ExportSpec, opts: ConvertOptions) -> str:
    """Why MediaPipe needs the preprocessing in the graph ('' when it does not)."""
    if spec.channels == 1:
        return "the model takes grey images and MediaPipe feeds RGB"
    if opts.integer_io:
        return "integer_io makes the input quantized preprocessed values"
    if normalization_for(spec.preprocess) is None:
        return "the RGB->BGR flip cannot be described by MediaPipe metadata"
    if mediapipe_normalization(spec.preprocess) is None:
        return "MediaPipe refuses per-channel normalization in the metadata"
    return ""


def detector_num_classes(model: keras.Model) -> int | None:
    """Classes a detector scores, background included (None when it cannot be told)."""
    if is_zoo_detector(model):
        return int(model.num_classes)
    if anchor_based(model):
        return int(model.output["class_logits"].shape[-1])
    n = getattr(model, "num_classes", None)
    return int(n) if n else None


def check_labels(model: keras.Model, spec: ExportSpec, verbose: bool = True) -> None:
    """Refuses labels whose count does not match the model's classes (before converting).

    Detectors number their classes with the background as 0, and MediaPipe shows label
    ``labels[class id]``: give ``C`` names with the background first, or the ``C - 1`` object
    names (a ``background`` name is then put first).

    Raises:
        ExportError: the count matches neither.
    """
    if not spec.labels:
        return
    if spec.task != "detection":
        n = num_classes(model, spec)
        if n is not None and n != len(spec.labels):
            raise ExportError(f"{len(spec.labels)} labels given but the model has {n} classes")
        return
    n = detector_num_classes(model)
    if n is None or len(spec.labels) == n:
        return
    if len(spec.labels) == n - 1:
        if verbose:
            print(f"{spec.name}: {n - 1} labels for {n - 1} object classes; 'background' added as class 0")
        spec.labels = ["background", *spec.labels]
        return
    raise ExportError(
        f"{len(spec.labels)} labels given but {spec.name} scores {n - 1} object classes plus the "
        f"background (class 0): give {n} names with the background first, or the {n - 1} object names; "
        "MediaPipe shows labels[class id], so a wrong count shifts every label"
    )


def _check_compatible(spec: ExportSpec, opts: ConvertOptions) -> None:
    """Refuses option combinations whose file MediaPipe could not run, before converting."""
    if spec.channels not in (1, 3):
        raise ExportError(
            f"{spec.name} takes {spec.channels}-channel images; only 1 (grey) and 3 (RGB) export"
        )
    if not opts.with_metadata or opts.fold:
        return
    if spec.channels == 1:
        raise ExportError(
            f"{spec.name} takes grey images but MediaPipe feeds RGB; add fold_preprocessing=True "
            "(--fold-preprocessing: the graph converts RGB to grey) or with_metadata=False (--no-metadata)"
        )
    if opts.integer_io:
        raise ExportError(
            "integer_io without fold_preprocessing makes the input quantized preprocessed values, which "
            "MediaPipe cannot fill from pixels; add fold_preprocessing=True (--fold-preprocessing) or "
            "with_metadata=False (--no-metadata)"
        )
    if normalization_for(spec.preprocess) is None:
        raise ExportError(
            f"{spec.name}'s {spec.preprocess!r} preprocessing (RGB->BGR) cannot be described by MediaPipe "
            "metadata (per-channel mean/std only); export with fold_preprocessing=True (--fold-preprocessing) "
            "or with_metadata=False"
        )
    if mediapipe_normalization(spec.preprocess) is None:
        raise ExportError(
            f"{spec.name}'s {spec.preprocess!r} preprocessing normalises each channel differently, and "
            "MediaPipe refuses such metadata ('Per-channel image normalization is not available'); export "
            "with fold_preprocessing=True (--fold-preprocessing, the default when not given) or "
            "with_metadata=False"
        )
