"""Keras model -> LiteRT (.tflite) with quantization, folded preprocessing and MediaPipe metadata.

Conversion goes through ``tf.lite.TFLiteConverter.from_concrete_functions`` on a
``tf.function`` that wraps the model, with the Keras variables frozen to constants first
(TensorFlow backend only: this is an edge of the zoo). Without freezing, TF 2.21 keeps Keras 3's
resource variables as ``VAR_HANDLE`` / ``READ_VARIABLE`` ops that are never initialised in the
.tflite file (garbage outputs) and int8 calibration fails.
Keras 3.15's ``model.export(format="litert")`` was not used because it always enables
``SELECT_TF_OPS`` (an unsupported layer then converts "successfully" into a file that neither
MediaPipe nor the plain LiteRT interpreter can run), writes the file non-atomically and offers no
place to add preprocessing, detection outputs or metadata. Here only ``TFLITE_BUILTINS`` are
allowed, so an unsupported layer fails at conversion with the op named.

The exported graph:

* input ``image`` ``[1, H, W, 3]``: float32 preprocessed pixels, or, with
  ``fold_preprocessing=True``, uint8 RGB pixels with the zoo preprocessing (``zoo.preprocessing``
  mode of the model: caffe / tf / torch) inside the graph (optionally resizing from another size);
* classifiers: the model's ``[1, classes]`` output;
* detectors: the model's detections dict (``boxes`` xyxy pixels, ``scores``, ``classes``,
  ``num_detections``, the zoo's detection format) rewritten as the four outputs of TFLite's
  detection post-process op that MediaPipe's ObjectDetector expects, in this order:
  boxes ``[1, K, 4]`` normalised ``[ymin, xmin, ymax, xmax]``, classes ``[1, K]`` float32,
  scores ``[1, K]`` float32, number of detections ``[1]`` float32;
* segmenters: the model's ``[1, h, w, classes]`` per-class scores (MediaPipe's ImageSegmenter
  makes the per-pixel class map from it).

Example:
    >>> result = export_model("vgg16", "vgg16_int8.tflite", quantize="int8",
    ...                       representative="photos", fold_preprocessing=True)
    >>> print(result.report.table())
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.export import metadata as md
from zoo.export.representative import RepresentativeDataError, load_images
from zoo.preprocessing import preprocess_input
from zoo.utils.io import atomic_write_bytes

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
TASKS = ("classification", "detection", "segmentation")
DETECTION_KEYS = ("boxes", "scores", "classes", "num_detections")


class ExportError(ValueError):
    """Raised when a model cannot be exported (bad input file, unsupported layer, ...)."""


@dataclass
class ExportSpec:
    """Everything the export needs to know about the model besides its weights.

    Attributes:
        task: "classification", "detection" or "segmentation".
        input_size: model input (height, width).
        channels: input channels.
        preprocess: ``zoo.preprocessing`` mode ("caffe", "tf", "torch", "none").
        labels: class names (embedded as labels.txt) or None.
        name: model name for metadata and reports.
        detection_options: passed to a detector's ``detect_batch`` (score_threshold,
            iou_threshold, max_detections, pre_nms_top_k).
        detection_postprocess: ``"tflite_op"`` (anchor-based detectors: decoding + per-class NMS
            by TFLite's built-in ``TFLite_Detection_PostProcess`` op, one subgraph, as MediaPipe
            needs) or ``"graph"`` (the model's own ``detect_batch``, keras.ops NMS loop).
    """

    task: str
    input_size: tuple[int, int]
    channels: int = 3
    preprocess: str = "none"
    labels: list[str] | None = None
    name: str = "model"
    detection_options: dict[str, Any] = field(default_factory=dict)
    detection_postprocess: str = "graph"


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


# ----------------------------------------------------------------------------- loading


def load_model(
    source: keras.Model | str | os.PathLike,
    *,
    weights: str | None = None,
    build_kwargs: dict[str, Any] | None = None,
) -> tuple[keras.Model, str | None]:
    """Resolves ``source`` to a Keras model. Returns ``(model, registered name or None)``.

    Args:
        source: a ``keras.Model``, a saved ``.keras`` file or a registered zoo name.
        weights: for a registered name, the ``weights=`` argument of its builder (None,
            ``"imagenet"`` or a path); for a model or ``.keras`` file, a ``.weights.h5`` file to load.
        build_kwargs: more builder arguments for a registered name (e.g. ``classes``).

    Raises:
        ExportError: the file is missing, corrupt or not a Keras model; the name is unknown.

    Example:
        >>> model, name = load_model("alexnet", build_kwargs={"classes": 10})
    """
    name = None
    if isinstance(source, keras.Model):
        model = source
    elif isinstance(source, (str, os.PathLike)) and (
        Path(source).suffix in (".keras", ".h5", ".tflite", ".zip")
        or os.sep in str(source)
        or Path(source).exists()
    ):
        model = _load_keras_file(Path(source))
    elif isinstance(source, str):
        import zoo

        try:
            zoo.registry.entry(source)
        except KeyError as e:
            raise ExportError(str(e)) from None
        name = source
        kwargs = dict(build_kwargs or {})
        if weights is not None:
            kwargs["weights"] = weights
        elif "weights" in _builder_params(source):
            kwargs.setdefault("weights", None)
        return zoo.get(source, **kwargs), name
    else:
        raise ExportError(
            f"Expected a keras.Model, a .keras file or a model name, got {type(source).__name__}"
        )
    if weights is not None:
        try:
            model.load_weights(weights)
        except Exception as e:  # noqa: BLE001  (keras raises many types; name the file)
            raise ExportError(f"Cannot load weights {weights} into {model.name}: {e}") from e
    return model, name


def _builder_params(name: str) -> set[str]:
    import inspect

    import zoo

    return set(inspect.signature(zoo.registry.entry(name).builder).parameters)


def _load_keras_file(path: Path) -> keras.Model:
    if not path.exists():
        raise ExportError(f"Model file {path} does not exist")
    if path.suffix == ".tflite":
        raise ExportError(f"{path} is already a .tflite file; give the Keras model (.keras) it came from")
    if path.name.endswith(".weights.h5"):
        raise ExportError(
            f"{path} holds weights only; give the model (name or .keras) and pass it as --weights"
        )
    if path.suffix not in (".keras", ".h5"):
        raise ExportError(
            f"{path} is not a Keras model file: expected a '.keras' archive saved with model.save(...)"
        )
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ExportError(f"{path} is corrupt or not a Keras model (a .keras file is a zip archive)")
    if path.suffix == ".h5":
        import h5py

        if not h5py.is_hdf5(path):
            raise ExportError(f"{path} is corrupt or not a Keras model (not an HDF5 file)")
    try:
        import zoo  # noqa: F401  (registers the zoo's custom layers for deserialisation)

        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001  (keras raises many types; say which file)
        raise ExportError(f"Cannot load Keras model from {path}: {type(e).__name__}: {e}") from e
    if not isinstance(model, keras.Model):
        raise ExportError(f"{path} holds a {type(model).__name__}, not a keras.Model")
    return model


def infer_spec(
    model: keras.Model,
    name: str | None = None,
    *,
    task: str | None = None,
    input_size: tuple[int, int] | None = None,
    preprocess: str | None = None,
    labels: Sequence[str] | str | os.PathLike | None = None,
) -> ExportSpec:
    """Works out task, input size, preprocessing and labels (arguments override what is inferred).

    The registry entry (for a registered name) gives task and preprocessing; otherwise the
    output structure does: a detections dict -> detection, ``[B, h, w, C]`` -> segmentation,
    ``[B, C]`` -> classification.

    Example:
        >>> infer_spec(model).task
        'classification'
    """
    import zoo

    e = zoo.registry.entry(name) if name else None
    if task is None:
        task = e.task if e is not None and e.task in TASKS else _task_from_outputs(model)
    if task not in TASKS:
        raise ExportError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else None
    if shape is None:
        raise ExportError(f"Model {model.name} has no defined input; build it with an input shape first")
    if len(model.inputs) != 1 or len(shape) != 4:
        raise ExportError(f"Only single-image models [B, H, W, C] can be exported, got inputs {model.inputs}")
    h, w, c = shape[1], shape[2], shape[3]
    if input_size is not None:
        h, w = input_size
    elif h is None or w is None:
        if e is not None and e.input_shape:
            h, w = e.input_shape[:2]
        else:
            raise ExportError(f"Model {model.name} has a variable input size {shape}; pass input_size=(H, W)")
    if preprocess is None:
        preprocess = (
            (e.preprocess if e is not None else None) or getattr(model, "zoo_preprocess", None) or "none"
        )
    label_list = _read_labels(labels) if labels is not None else _default_labels(model, e, task)
    return ExportSpec(
        task=task,
        input_size=(int(h), int(w)),
        channels=int(c or 3),
        preprocess=preprocess,
        labels=label_list,
        name=name or model.name,
    )


def _task_from_outputs(model: keras.Model) -> str:
    out = model.output
    if isinstance(out, dict) and set(DETECTION_KEYS) <= set(out):
        return "detection"
    if hasattr(model, "detect_batch"):
        return "detection"
    if isinstance(out, (list, tuple, dict)):
        raise ExportError(f"Cannot tell the task of {model.name} from its outputs; pass task=...")
    if len(out.shape) == 2:
        return "classification"
    if len(out.shape) == 4:
        return "segmentation"
    raise ExportError(
        f"Cannot tell the task of {model.name} from its output shape {out.shape}; pass task=..."
    )


def _read_labels(labels: Sequence[str] | str | os.PathLike) -> list[str]:
    if isinstance(labels, str) and "," in labels and not Path(labels).is_file():
        labels = [x.strip() for x in labels.split(",")]
    if isinstance(labels, (str, os.PathLike)):
        p = Path(labels)
        if not p.is_file():
            raise ExportError(f"Label file {p} does not exist")
        labels = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = [str(x) for x in labels]
    md.labels_file(labels)  # validates
    return labels


def _default_labels(model: keras.Model, e: Any, task: str) -> list[str] | None:
    labels = getattr(model, "zoo_labels", None) or getattr(model, "class_names", None)
    if labels:
        return [str(x) for x in labels]
    if task == "classification" and e is not None and not isinstance(model.output, dict):
        if model.output.shape[-1] == 1000:
            from zoo.preprocessing import imagenet_classes

            return [n for _, n in imagenet_classes()]
    return None


def num_classes(model: keras.Model, spec: ExportSpec) -> int | None:
    """Number of classes the model scores (None if it cannot be told)."""
    if spec.task == "detection":
        return len(spec.labels) if spec.labels else None
    return int(model.output.shape[-1])


# ----------------------------------------------------------------------------- graph


def model_input(images: np.ndarray, spec: ExportSpec) -> np.ndarray:
    """uint8 RGB images -> what the unfolded export takes: grey if the model has 1 channel, preprocessed."""
    x = images.astype(np.float32)
    if spec.channels == 1 and x.shape[-1] == 3:
        x = x @ np.array([0.2989, 0.587, 0.114], np.float32)[:, None]
    return np.asarray(preprocess_input(x, spec.preprocess), np.float32)


def _detections(model: keras.Model, x: Any, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Detections dict of ``model`` on preprocessed ``x`` (the zoo's detection format).

    A model whose call returns the dict is used as is; a zoo detector with raw outputs (SSD,
    Faster R-CNN) goes through its ``detect_batch`` (decoding + fixed-size NMS in keras.ops),
    with ``options`` (score_threshold, iou_threshold, max_detections, ...).
    """
    if hasattr(model, "detect_batch"):
        return model.detect_batch(x, **(options or {}))
    if options:
        raise ExportError(f"detection options {sorted(options)} need a model with a detect_batch method")
    out = model(x, training=False)
    if not (isinstance(out, dict) and set(DETECTION_KEYS) <= set(out)):
        raise ExportError(
            f"Detector {model.name} must return dict({', '.join(DETECTION_KEYS)}) or have a "
            f"detect_batch(images, ...) method (zoo.detection)"
        )
    return out


def anchor_based(model: keras.Model) -> bool:
    """True for detectors with ``default_boxes`` [N, 4], raw ``class_logits`` / ``box_deltas`` [B, N, 4]
    and a ``detect_batch`` method (zoo.detection.ssd.SSD)."""
    out = getattr(model, "output", None)
    anchors = getattr(model, "default_boxes", None)
    return (
        isinstance(out, dict)
        and {"class_logits", "box_deltas"} <= set(out)
        and len(out["box_deltas"].shape) == 3
        and anchors is not None
        and np.asarray(anchors).ndim == 2
        and hasattr(model, "detect_batch")
    )


def _detection_defaults(model: keras.Model, options: dict[str, Any]) -> dict[str, Any]:
    import inspect

    params = inspect.signature(model.detect_batch).parameters
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    merged = {**defaults, **options}
    unknown = set(options) - set(defaults)
    if unknown:
        raise ExportError(
            f"Unknown detection options {sorted(unknown)}; {model.name} accepts {sorted(defaults)}"
        )
    return merged


def _implements(name: str, attrs: dict[str, Any]) -> str:
    """The ``experimental_implements`` NodeDef text that makes the converter emit custom op ``name``."""
    parts = [f'name: "{name}"']
    for key, value in attrs.items():
        if isinstance(value, bool):
            v = f"b: {str(value).lower()}"
        elif isinstance(value, int):
            v = f"i: {value}"
        else:
            v = f"f: {float(value)}"
        parts.append(f'attr {{ key: "{key}" value {{ {v} }} }}')
    return " ".join(parts)


def _tflite_detection_postprocess(model: keras.Model, raw: dict[str, Any], spec: ExportSpec) -> tuple:
    """Decoding + per-class NMS as TFLite's ``TFLite_Detection_PostProcess`` op (TF OD API style).

    The op decodes SSD box encodings ``(ty, tx, th, tw)`` against anchors ``(yc, xc, h, w)``
    with scales ``(y, x, h, w)``; the zoo's deltas are ``(dx, dy, dw, dh)`` with weights
    ``(wx, wy, ww, wh)`` (SSD: variances 0.1/0.2 = weights 10, 10, 5, 5), so the deltas are
    reordered and the anchors normalised by the input size (boxes come out normalised). The
    op numbers classes without the background column; +1 restores the zoo's class ids.
    """
    import tensorflow as tf

    h, w = spec.input_size
    opts = _detection_defaults(model, spec.detection_options)
    k = int(opts.get("max_detections", 100))
    anchors = np.asarray(model.default_boxes, np.float32)
    yc = (anchors[:, 1] + anchors[:, 3]) / 2 / h
    xc = (anchors[:, 0] + anchors[:, 2]) / 2 / w
    ah = (anchors[:, 3] - anchors[:, 1]) / h
    aw = (anchors[:, 2] - anchors[:, 0]) / w
    anchors_yxhw = tf.constant(np.stack([yc, xc, ah, aw], axis=-1))
    wx, wy, ww, wh = (float(v) for v in getattr(model, "box_weights", (10.0, 10.0, 5.0, 5.0)))
    num_classes = int(raw["class_logits"].shape[-1]) - 1
    attrs = {
        "max_detections": k,
        "max_classes_per_detection": 1,
        "detections_per_class": int(opts.get("max_detections_per_class") or k),
        "use_regular_nms": True,
        "nms_score_threshold": float(opts.get("score_threshold", 0.01)),
        "nms_iou_threshold": float(opts.get("iou_threshold", 0.45)),
        "num_classes": num_classes,
        "y_scale": wy,
        "x_scale": wx,
        "h_scale": wh,
        "w_scale": ww,
    }

    @tf.function(experimental_implements=_implements("TFLite_Detection_PostProcess", attrs))
    def postprocess(box_encodings, class_predictions, anchors):
        # Placeholder body: the converter replaces the whole function with the op.
        del box_encodings, class_predictions, anchors
        return tf.zeros([1, k, 4]), tf.zeros([1, k]), tf.zeros([1, k]), tf.zeros([1])

    scores = tf.nn.softmax(tf.cast(raw["class_logits"], tf.float32), axis=-1)
    deltas = tf.gather(tf.cast(raw["box_deltas"], tf.float32), [1, 0, 3, 2], axis=-1)
    boxes, classes, det_scores, num = postprocess(deltas, scores, anchors_yxhw)
    return tf.clip_by_value(boxes, 0.0, 1.0), classes + 1.0, det_scores, num


def serving_function(
    model: keras.Model,
    spec: ExportSpec,
    *,
    fold_preprocessing: bool = False,
    source_size: tuple[int, int] | None = None,
    detection_postprocess: str | None = None,
) -> tuple[Callable[[Any], Any], Any]:
    """The ``tf.function`` body that is converted, and its input ``tf.TensorSpec``.

    Args:
        fold_preprocessing: feed uint8 RGB; cast, (resize) and preprocess inside the graph.
        source_size: with folding, the (H, W) of the uint8 input if it differs from the
            model's; the graph resizes bilinearly.
        detection_postprocess: ``"graph"`` or ``"tflite_op"`` (default: ``spec``'s).

    Example:
        >>> fn, sig = serving_function(model, spec, fold_preprocessing=True)
    """
    import tensorflow as tf

    h, w = spec.input_size
    in_h, in_w = source_size if (fold_preprocessing and source_size) else (h, w)
    dtype = tf.uint8 if fold_preprocessing else tf.float32
    # Folded: the app always feeds RGB; a 1-channel model gets the grey image made in the graph.
    channels = 3 if fold_preprocessing else spec.channels
    signature = tf.TensorSpec([1, in_h, in_w, channels], dtype, name="image")
    post = detection_postprocess or spec.detection_postprocess

    def fn(image):
        x = image
        if fold_preprocessing:
            x = tf.cast(x, tf.float32)
            if (in_h, in_w) != (h, w):
                x = tf.image.resize(x, (h, w), method="bilinear")
            if spec.channels == 1:
                x = tf.image.rgb_to_grayscale(x)
            x = preprocess_input(x, spec.preprocess)
        if spec.task == "detection":
            if post == "tflite_op":
                return _tflite_detection_postprocess(model, model(x, training=False), spec)
            d = _detections(model, x, spec.detection_options)
            boxes = tf.cast(d["boxes"], tf.float32)
            scale = tf.constant([h, w, h, w], tf.float32)
            x1, y1, x2, y2 = tf.unstack(boxes, axis=-1)
            yxyx = tf.clip_by_value(tf.stack([y1, x1, y2, x2], axis=-1) / scale, 0.0, 1.0)
            classes = tf.cast(d["classes"], tf.float32)
            scores = tf.cast(d["scores"], tf.float32)
            num = tf.cast(tf.reshape(d["num_detections"], [-1]), tf.float32)
            return yxyx, classes, scores, num
        out = model(x, training=False)
        if isinstance(out, (list, tuple, dict)):
            raise ExportError(
                f"{spec.task} model {model.name} must have a single output, got {type(out).__name__}"
            )
        return tf.cast(out, tf.float32)

    return fn, signature


# ----------------------------------------------------------------------------- conversion


def _unsupported_ops(message: str) -> list[str]:
    ops = set(
        re.findall(r"'(?:tf|tfl|mhlo|stablehlo)\.(\w+)' op is neither a custom op nor a flex op", message)
    )
    ops |= set(re.findall(r"\btf\.(\w+)\b[^\n]*not supported", message))
    m = re.search(r"(?:Flex ops|Some ops are not supported[^:]*):\s*([^\n]+)", message)
    if m:
        ops |= set(re.findall(r"tf\.(\w+)", m.group(1)))
    return sorted(ops)


def convert(
    model: keras.Model,
    spec: ExportSpec,
    *,
    quantize: str = "none",
    representative: Any = None,
    num_calibration: int = 100,
    fold_preprocessing: bool = False,
    source_size: tuple[int, int] | None = None,
    integer_io: bool = False,
    data_dir: str | None = None,
) -> bytes:
    """Converts ``model`` to a .tflite flatbuffer (no metadata). See :func:`export_model`.

    Raises:
        ExportError: unknown quantization, unsupported op/layer, empty representative data.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

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
    fn, signature = serving_function(
        model, spec, fold_preprocessing=fold_preprocessing, source_size=source_size
    )
    with tempfile.TemporaryDirectory(prefix="zoo_export_") as tmp:
        try:
            concrete = tf.function(fn, autograph=False).get_concrete_function(signature)
            if op_post:
                # The TFLite_Detection_PostProcess composite survives only the SavedModel path
                # (freezing a concrete function inlines it); from_saved_model freezes variables.
                archive = keras.export.ExportArchive()
                archive.track(model)
                archive.add_endpoint("serve", tf.function(fn, autograph=False), input_signature=[signature])
                archive.write_out(tmp, verbose=False)
                converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serve"])
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
        data = _configure_and_convert(
            converter,
            concrete,
            spec,
            quantize,
            representative,
            num_calibration,
            fold_preprocessing,
            source_size,
            integer_io,
            data_dir,
        )
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


def _configure_and_convert(
    converter: Any,
    concrete: Any,
    spec: ExportSpec,
    quantize: str,
    representative: Any,
    num_calibration: int,
    fold_preprocessing: bool,
    source_size: tuple[int, int] | None,
    integer_io: bool,
    data_dir: str | None,
) -> bytes:
    import tensorflow as tf

    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
        h, w = source_size if (fold_preprocessing and source_size) else spec.input_size
        if representative is None:
            raise ExportError(
                "quantize='int8' needs a representative dataset (folder, 'tfds:NAME', 'photos', 'synthetic')"
            )
        try:
            images = load_images(representative, num_calibration, (h, w), seed=1, data_dir=data_dir)
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
        if integer_io:
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


# ----------------------------------------------------------------------------- metadata


def normalization_for(mode: str) -> md.Normalization | None:
    """``zoo.preprocessing`` mode as per-channel ``(pixel - mean) / std``, or None if it is not one.

    Found by probing the preprocessing function (affine maps are determined by the images 0
    and 255 * e_c), then checked on a random image; the caffe mode flips RGB to BGR, which
    MediaPipe's NormalizationOptions cannot express (fold the preprocessing instead).

    Example:
        >>> normalization_for("tf")
        Normalization(mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5))
    """

    def f(x):
        return np.asarray(preprocess_input(np.asarray(x, np.float32)[None, None], mode))[0, 0]

    b = f(np.zeros((1, 3)))[0]
    cols = np.stack([f(np.eye(3)[c][None] * 255.0)[0] - b for c in range(3)]) / 255.0  # [in, out]
    if not np.allclose(cols, np.diag(np.diag(cols)), atol=1e-6) or np.any(np.abs(np.diag(cols)) < 1e-9):
        return None
    scale = np.diag(cols)
    x = np.random.default_rng(0).uniform(0, 255, (4, 3))
    if not np.allclose(f(x), x * scale + b, atol=1e-3):
        return None
    std = 1.0 / scale
    mean = -b * std
    return md.Normalization(mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std))


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

    from zoo.export.verify import canonical_output_order

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
    if spec.labels and spec.task != "detection":
        n = num_classes(model, spec)
        if n is not None and n != len(spec.labels):
            raise ExportError(f"{len(spec.labels)} labels given but the model has {n} classes")
    kw = dict(normalization=norm, input_dtype=input_dtype, has_labels=has_labels, name=spec.name)
    if spec.task == "classification":
        meta = md.classifier_metadata(h, w, **kw)
    elif spec.task == "detection":
        # Metadata lists tensors in file order; the serving function returned them canonically.
        file_order = [md.DETECTION_OUTPUT_NAMES[order.index(pos)] for pos in range(len(order))]
        meta = md.detector_metadata(h, w, output_order=file_order, **kw)
    else:
        meta = md.segmenter_metadata(h, w, activation=_segmentation_activation(model), **kw)
    return meta, files


# ----------------------------------------------------------------------------- public entry


def export_model(
    source: keras.Model | str | os.PathLike,
    output: str | os.PathLike,
    *,
    quantize: str = "none",
    representative: Any = None,
    num_calibration: int = 100,
    fold_preprocessing: bool = False,
    source_size: tuple[int, int] | None = None,
    integer_io: bool = False,
    labels: Sequence[str] | str | os.PathLike | None = None,
    task: str | None = None,
    weights: str | None = None,
    build_kwargs: dict[str, Any] | None = None,
    input_size: tuple[int, int] | None = None,
    preprocess: str | None = None,
    detection_options: dict[str, Any] | None = None,
    detection_postprocess: str | None = None,
    with_metadata: bool = True,
    force: bool = False,
    verify: bool = True,
    verify_images: Any = "photos",
    num_verify: int = 20,
    latency_runs: int = 10,
    data_dir: str | None = None,
    verbose: bool = True,
) -> ExportResult:
    """Converts a zoo model to ``output`` (.tflite), with metadata, verified against Keras.

    Args:
        source: ``keras.Model``, ``.keras`` file or registered name.
        output: the .tflite path (written atomically; not overwritten unless ``force``).
        quantize: ``none`` (float32), ``float16`` (weights), ``dynamic`` (int8 weights, float
            activations) or ``int8`` (full integer, calibrated on ``representative``).
        representative: int8 calibration images: folder, ``"tfds:NAME[:SPLIT]"``,
            ``"synthetic"``, ``"photos"`` or a uint8 array ``[N, H, W, 3]``.
        num_calibration: how many calibration images.
        fold_preprocessing: uint8 RGB input, preprocessing inside the graph.
        source_size: with folding, resize from this (H, W) inside the graph.
        integer_io: int8 only: uint8 input (when not folded) and uint8 output (not detectors).
        labels: class names (a list, a file with one per line, or "a,b,c"), embedded in the file.
        task: override the inferred task.
        weights, build_kwargs: for a registered name, passed to its builder.
        input_size: (H, W) for models with a variable input size.
        preprocess: override the ``zoo.preprocessing`` mode ("caffe", "tf", "torch", "none") or
            ``"unit"`` (pixels / 255).
        detection_options: for detectors with ``detect_batch``: score_threshold,
            iou_threshold, max_detections, pre_nms_top_k (the detector's defaults otherwise).
        detection_postprocess: ``"tflite_op"`` (default for anchor-based detectors such as SSD:
            TFLite's ``TFLite_Detection_PostProcess`` op; one subgraph, so MediaPipe loads it, and
            int8 works) or ``"graph"`` (the model's keras.ops NMS loop; the LiteRT interpreter
            runs it, MediaPipe refuses its extra subgraphs, int8 is refused).
        with_metadata: attach MediaPipe metadata (default True).
        force: overwrite an existing ``output``.
        verify: compare with the Keras model and time the LiteRT interpreter; prints a table.
        verify_images: images for the comparison (same sources as ``representative``).
        num_verify: number of comparison images.
        latency_runs: timed interpreter runs per thread count (after 2 warm-up runs).

    Returns:
        :class:`ExportResult` with the path, bytes and the verification report.

    Raises:
        ExportError: bad input, unsupported layer, empty representative data, existing output.

    Example:
        >>> r = export_model("alexnet", "alexnet_f16.tflite", quantize="float16",
        ...                  build_kwargs={"classes": 10}, force=True)
    """
    output = Path(output)
    if output.suffix != ".tflite":
        raise ExportError(f"The output must end with .tflite, got {output}")
    if output.exists() and not force:
        raise ExportError(f"{output} exists; pass force=True (--force) to overwrite it")
    if quantize not in QUANTIZATIONS:
        raise ExportError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    model, name = load_model(source, weights=weights, build_kwargs=build_kwargs)
    spec = infer_spec(model, name, task=task, input_size=input_size, preprocess=preprocess, labels=labels)
    spec.detection_options = dict(detection_options or {})
    if spec.task == "detection":
        spec.detection_postprocess = detection_postprocess or (
            "tflite_op" if anchor_based(model) else "graph"
        )
        if spec.detection_postprocess not in ("tflite_op", "graph"):
            raise ExportError(
                f"detection_postprocess must be 'tflite_op' or 'graph', got {spec.detection_postprocess!r}"
            )
        if spec.detection_postprocess == "tflite_op" and not anchor_based(model):
            raise ExportError(
                f"{spec.name} has no default_boxes / raw outputs; use detection_postprocess='graph'"
            )
    if spec.channels not in (1, 3):
        raise ExportError(
            f"{spec.name} takes {spec.channels}-channel images; only 1 (grey) and 3 (RGB) export"
        )
    if with_metadata and spec.channels == 1 and not fold_preprocessing:
        raise ExportError(
            f"{spec.name} takes grey images but MediaPipe feeds RGB; add fold_preprocessing=True "
            "(--fold-preprocessing: the graph converts RGB to grey) or with_metadata=False (--no-metadata)"
        )
    if with_metadata and integer_io and not fold_preprocessing:
        raise ExportError(
            "integer_io without fold_preprocessing makes the input quantized preprocessed values, which "
            "MediaPipe cannot fill from pixels; add fold_preprocessing=True (--fold-preprocessing) or "
            "with_metadata=False (--no-metadata)"
        )
    if with_metadata and not fold_preprocessing and normalization_for(spec.preprocess) is None:
        raise ExportError(
            f"{spec.name}'s {spec.preprocess!r} preprocessing (RGB->BGR) cannot be described by MediaPipe "
            "metadata (per-channel mean/std only); export with fold_preprocessing=True (--fold-preprocessing) "
            "or with_metadata=False"
        )
    if verbose:
        print(
            f"Converting {spec.name} ({spec.task}, {spec.input_size[0]}x{spec.input_size[1]}) quantize={quantize}"
        )
    data = convert(
        model,
        spec,
        quantize=quantize,
        representative=representative,
        num_calibration=num_calibration,
        fold_preprocessing=fold_preprocessing,
        source_size=source_size,
        integer_io=integer_io,
        data_dir=data_dir,
    )
    if with_metadata:
        meta, files = build_metadata(model, spec, data, fold_preprocessing=fold_preprocessing)
        data = md.attach_metadata(data, meta, files)
    atomic_write_bytes(output, data, overwrite=force)
    result = ExportResult(
        path=output, tflite=data, spec=spec, quantize=quantize, fold_preprocessing=fold_preprocessing
    )
    if verify:
        from zoo.export.verify import verify_export

        result.report = verify_export(
            model,
            spec,
            output,
            quantize=quantize,
            fold_preprocessing=fold_preprocessing,
            source_size=source_size,
            images=verify_images,
            num_images=num_verify,
            latency_runs=latency_runs,
            data_dir=data_dir,
        )
        if verbose:
            print(result.report.table())
    return result
