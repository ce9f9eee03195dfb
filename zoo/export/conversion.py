"""Serving graph -> .tflite flatbuffer: TFLiteConverter settings per quantization, clear errors.

Example:
    >>> data = convert(model, spec, ConvertOptions(quantize="int8", representative="photos"))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from zoo.export.graph import serving_function
from zoo.export.representative import RepresentativeDataError, load_images
from zoo.export.spec import QUANTIZATIONS, ExportError, ExportSpec, model_input
from zoo.utils.io import scratch_dir


@dataclass
class ConvertOptions:
    """How the serving graph becomes a file.

    Attributes:
        quantize: ``none`` (float32), ``float16`` (weights), ``dynamic`` (int8 weights, float
            activations) or ``int8`` (full integer, calibrated on ``representative``).
        representative: int8 calibration images: folder, ``"tfds:NAME[:SPLIT]"``,
            ``"synthetic"``, ``"photos"`` or a uint8 array ``[N, H, W, 3]``.
        num_calibration: how many calibration images.
        fold_preprocessing: uint8 RGB input with the preprocessing inside the graph; None (the
            default) folds exactly when the MediaPipe metadata could not describe the
            preprocessing (caffe's BGR flip, torch's per-channel std, grey models).
        source_size: with folding, resize from this (H, W) inside the graph.
        integer_io: int8 only: uint8 input (when not folded) and uint8 output (not detectors).
        with_metadata: attach MediaPipe metadata.
        detection_postprocess: ``"tflite_op"`` (anchor-based detectors: TFLite's
            ``TFLite_Detection_PostProcess`` op; one subgraph, as MediaPipe needs; int8 works) or
            ``"graph"`` (the model's keras.ops NMS loop; MediaPipe refuses its extra subgraphs);
            None picks the first where it applies.
        split_detection_classes: with ``"tflite_op"``, one single-class op per class, merged by
            score (default): LiteRT's regular NMS loses a whole class when the interpreter runs
            with more than one thread (ai-edge-litert 2.x; docs/litert_postprocess_threads.md).
        data_dir: TFDS data directory (``tfds:`` image sources).

    Example:
        >>> ConvertOptions(quantize="int8", representative="photos")
    """

    quantize: str = "none"
    representative: Any = None
    num_calibration: int = 100
    fold_preprocessing: bool | None = None
    source_size: tuple[int, int] | None = None
    integer_io: bool = False
    with_metadata: bool = True
    detection_postprocess: str | None = None
    split_detection_classes: bool = True
    data_dir: str | None = None

    @property
    def fold(self) -> bool:
        """Whether the preprocessing is folded (None counts as not, until resolved by the export)."""
        return bool(self.fold_preprocessing)


def _unsupported_ops(message: str) -> list[str]:
    ops = set(
        re.findall(r"'(?:tf|tfl|mhlo|stablehlo)\.(\w+)' op is neither a custom op nor a flex op", message)
    )
    ops |= set(re.findall(r"\btf\.(\w+)\b[^\n]*not supported", message))
    m = re.search(r"(?:Flex ops|Some ops are not supported[^:]*):\s*([^\n]+)", message)
    if m:
        ops |= set(re.findall(r"tf\.(\w+)", m.group(1)))
    return sorted(ops)


def convert(model: keras.Model, spec: ExportSpec, options: ConvertOptions | None = None) -> bytes:
    """Converts ``model`` to a .tflite flatbuffer (no metadata yet).

    Example:
        >>> data = convert(model, spec, ConvertOptions(quantize="float16"))

    Raises:
        ExportError: unknown quantization, unsupported op/layer, empty representative data.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    o = options or ConvertOptions()
    quantize, integer_io = o.quantize, o.integer_io
    if keras.backend.backend() != "tensorflow":
        raise ExportError(
            f"LiteRT export needs the TensorFlow backend (KERAS_BACKEND=tensorflow), got {keras.backend.backend()!r}"
        )
    if quantize not in QUANTIZATIONS:
        raise ExportError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if integer_io and quantize != "int8":
        raise ExportError("integer_io=True needs quantize='int8'")
    op_post = spec.task == "detection" and spec.detection_postprocess == "tflite_op"
    if quantize == "int8" and spec.task == "detection" and not op_post:
        # TF 2.21's calibrator crashes the process (SIGSEGV) on the WHILE loop of the in-graph
        # fixed-size NMS (zoo.ops.nms), so refuse before converting rather than take Python down.
        raise ExportError(
            "quantize='int8' is not available for detectors whose NMS runs in the graph (keras.ops loop): "
            "TF 2.21's int8 calibrator crashes on it. Use quantize='dynamic' (int8 weights) or 'float16'."
        )
    fn, signature = serving_function(model, spec, fold_preprocessing=o.fold, source_size=o.source_size)
    # A scratch folder removed on SIGTERM (and swept by the next export after a SIGKILL); the
    # converter's own temporary SavedModel goes inside it too.
    with scratch_dir("zoo_export_", hold_tempfiles=True) as tmp:
        try:
            concrete = tf.function(fn, autograph=False).get_concrete_function(signature)
            if op_post:
                # The TFLite_Detection_PostProcess composite survives only the SavedModel path
                # (freezing a concrete function inlines it); from_saved_model freezes variables.
                archive = keras.export.ExportArchive()
                archive.track(model)
                archive.add_endpoint("serve", tf.function(fn, autograph=False), input_signature=[signature])
                archive.write_out(tmp / "saved_model", verbose=False)
                converter = tf.lite.TFLiteConverter.from_saved_model(
                    str(tmp / "saved_model"), signature_keys=["serve"]
                )
                converter.allow_custom_ops = True
            else:
                # Keras 3 variables are resource variables; unfrozen, the converter keeps VAR_HANDLE /
                # READ_VARIABLE ops that the interpreter leaves uninitialised. Freeze them to constants.
                converter = tf.lite.TFLiteConverter.from_concrete_functions(
                    [convert_variables_to_constants_v2(concrete)]
                )
        except ExportError:
            raise
        except Exception as e:  # noqa: BLE001  (tracing errors come from anywhere in the model)
            raise ExportError(f"Cannot trace {spec.name} for export: {type(e).__name__}: {e}") from e
        data = _configure_and_convert(converter, concrete, spec, o)
    if op_post:
        _check_custom_ops(data, allowed={"TFLite_Detection_PostProcess"}, name=spec.name)
    return data


def _check_custom_ops(data: bytes, allowed: set[str], name: str) -> None:
    from ai_edge_litert.interpreter import Interpreter

    try:
        ops = {d["op_name"] for d in Interpreter(model_content=data)._get_ops_details()}
    except Exception as e:  # noqa: BLE001  (an unresolved custom op fails at load)
        raise ExportError(f"{name}: the converted model does not load in the LiteRT interpreter: {e}") from e
    builtin = {o for o in ops if o.isupper() or o in allowed}
    extra = ops - builtin
    if extra:
        raise ExportError(
            f"{name} uses operations LiteRT's built-in ops cannot run ({', '.join(sorted(extra))})"
        )


def _configure_and_convert(converter: Any, concrete: Any, spec: ExportSpec, o: ConvertOptions) -> bytes:
    import tensorflow as tf

    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    quantize, fold_preprocessing = o.quantize, o.fold
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
        h, w = o.source_size if (fold_preprocessing and o.source_size) else spec.input_size
        if o.representative is None:
            raise ExportError(
                "quantize='int8' needs a representative dataset (folder, 'tfds:NAME', 'photos', 'synthetic')"
            )
        try:
            images = load_images(o.representative, o.num_calibration, (h, w), seed=1, data_dir=o.data_dir)
        except RepresentativeDataError as e:
            raise ExportError(f"Representative dataset: {e}") from e
        if len(images) == 0:
            raise ExportError("The representative dataset is empty")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(images, spec, fold_preprocessing)
        # Full-integer body. Detection post-processing (top-k / NMS / gathers) keeps float kernels.
        converter.target_spec.supported_ops = (
            [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
            if spec.task == "detection"
            else [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        )
        if spec.task == "detection":
            converter.allow_custom_ops = True  # the post-process op stays float
        if o.integer_io:
            if not fold_preprocessing:
                converter.inference_input_type = tf.uint8
            if spec.task != "detection":
                converter.inference_output_type = tf.uint8
    try:
        return bytes(converter.convert())
    except Exception as e:  # noqa: BLE001  (ConverterError and friends; turn into a clear message)
        msg = str(e)
        ops = _unsupported_ops(msg)
        if ops or "not supported" in msg or "neither a custom op nor a flex op" in msg:
            where = _layers_using(concrete, ops)
            hint = f" ({', '.join(ops)}{'; in layer(s) ' + ', '.join(where) if where else ''})" if ops else ""
            raise ExportError(
                f"{spec.name} uses operations LiteRT's built-in ops cannot run{hint}. Replace the layer(s) "
                f"using them with keras.layers / keras.ops equivalents. Converter said: {_first_lines(msg)}"
            ) from e
        raise ExportError(f"LiteRT conversion of {spec.name} failed: {_first_lines(msg)}") from e


def _layers_using(concrete: Any, ops: Sequence[str]) -> list[str]:
    """Names of the Keras layers whose graph nodes have a type in ``ops`` (from node name scopes)."""
    layers = []
    for node in concrete.graph.as_graph_def().node:
        if node.op in ops:
            parts = node.name.split("/")
            if len(parts) > 2:
                layer = re.sub(r"_\d+$", "", parts[1])
                if layer not in layers:
                    layers.append(layer)
    return layers


def _first_lines(msg: str, n: int = 6) -> str:
    lines = [line for line in msg.splitlines() if line.strip()]
    return " | ".join(lines[:n])


def _representative(images: np.ndarray, spec: ExportSpec, folded: bool) -> Callable[[], Any]:
    def gen():
        for img in images:
            if folded:
                yield [img[None].astype(np.uint8)]
            else:
                yield [model_input(img[None], spec)]

    return gen
