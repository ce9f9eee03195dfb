"""What a model is, for export: task, input size, channels, preprocessing, labels, detector settings.

:func:`load_model` resolves a name / ``.keras`` file / ``keras.Model``; :func:`infer_spec` works
out the :class:`ExportSpec` (arguments override what is inferred); :func:`model_input` and
:func:`normalization_for` say how pixels become the model's input. Everything else in
``zoo.export`` reads the spec; this module imports nothing of ``zoo.export`` but the metadata
writer's small value types.

Example:
    >>> model, name = load_model("alexnet", build_kwargs={"classes": 10})
    >>> infer_spec(model, name).task
    'classification'
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.export import metadata as md
from zoo.preprocessing import MODES, preprocess_input
from zoo.saving import read_model_info

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


TASKS = ("classification", "detection", "segmentation")


DETECTION_KEYS = ("boxes", "scores", "classes", "num_detections")


class ExportError(ValueError):
    """Raised when a model cannot be exported (bad input file, unsupported layer, ...)."""


@dataclass
class ModelOptions:
    """What the caller says about the model, overriding what :func:`infer_spec` would find.

    Attributes:
        weights: for a registered name, the ``weights=`` argument of its builder (None,
            ``"imagenet"`` or a path); for a model or ``.keras`` file, a ``.weights.h5`` file to load.
        build_kwargs: more builder arguments for a registered name (e.g. ``classes``).
        task: "classification", "detection" or "segmentation".
        input_size: (H, W) for models with a variable input size.
        preprocess: the ``zoo.preprocessing`` mode ("caffe", "tf", "torch", "unit", "none").
        labels: class names (a list, a file with one per line, or "a,b,c"), embedded in the file.
        detection_options: for detectors: score_threshold, iou_threshold, max_detections,
            pre_nms_top_k (the detector's defaults otherwise).

    Example:
        >>> ModelOptions(preprocess="unit", labels=["cat", "dog"])
    """

    weights: str | None = None
    build_kwargs: dict[str, Any] | None = None
    task: str | None = None
    input_size: tuple[int, int] | None = None
    preprocess: str | None = None
    labels: Sequence[str] | str | os.PathLike | None = None
    detection_options: dict[str, Any] | None = None


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
        split_classes: with ``"tflite_op"``, one single-class op per class merged by score
            (default; LiteRT's multi-threaded regular NMS drops a class when the interpreter
            runs with more than one thread), or one op for all classes.
    """

    task: str
    input_size: tuple[int, int]
    channels: int = 3
    preprocess: str = "none"
    labels: list[str] | None = None
    name: str = "model"
    detection_options: dict[str, Any] = field(default_factory=dict)
    detection_postprocess: str = "graph"
    split_classes: bool = True


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
    elif isinstance(source, (str, os.PathLike)) and is_model_file(source):
        model = _load_keras_file(Path(source))
        _attach_saved_info(model, Path(source))
    elif isinstance(source, str):
        import zoo

        try:
            zoo.registry.entry(source)
        except KeyError as e:
            raise ExportError(str(e)) from None
        name = source
        if Path(source).is_dir():
            print(
                f"Note: exporting the registered model {source!r}; the folder ./{source} of the same name "
                f"is not a model (for a file in it, give its path: {source}{os.sep}<file>.keras)",
                file=sys.stderr,
            )
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


def is_model_file(source: str | os.PathLike) -> bool:
    """Whether ``source`` names a model file rather than a registered model.

    A path-like name (a model suffix, a folder separator) or an existing file is a file; a local
    folder named like a registered model is not (the registered name wins, and :func:`load_model`
    says so).

    Example:
        >>> is_model_file("runs/unet/model.keras"), is_model_file("alexnet")
        (True, False)
    """
    p = Path(source)
    return (
        p.suffix in (".keras", ".h5", ".tflite", ".zip")
        or os.sep in str(source)
        or (p.exists() and not (p.is_dir() and _is_registered(str(source))))
    )


def _is_registered(name: str) -> bool:
    import zoo

    try:
        zoo.registry.entry(name)
    except KeyError:
        return False
    return True


def _attach_saved_info(model: keras.Model, path: Path) -> None:
    """Preprocessing, labels and task saved by :func:`zoo.saving.save_model`, as model attributes."""
    info = read_model_info(path) or {}
    for key in ("preprocess", "labels", "task"):
        if info.get(key) is not None:
            setattr(model, f"zoo_{key}", info[key])


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
        from zoo.registry import entries

        entries()  # imports every model family: their classes (zoo>SSD, ...) register for loading
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001  (keras raises many types; say which file)
        raise ExportError(f"Cannot load Keras model from {path}: {type(e).__name__}: {e}") from e
    if not isinstance(model, keras.Model):
        raise ExportError(f"{path} holds a {type(model).__name__}, not a keras.Model")
    return model


def infer_spec(
    model: keras.Model, name: str | None = None, options: ModelOptions | None = None
) -> ExportSpec:
    """Works out task, input size, preprocessing and labels (``options`` override what is inferred).

    The registry entry (for a registered name) gives task and preprocessing; otherwise the
    output structure does: a detections dict -> detection, ``[B, h, w, C]`` -> segmentation,
    ``[B, C]`` -> classification.

    Example:
        >>> infer_spec(model).task
        'classification'
    """
    import zoo

    o = options or ModelOptions()
    task, input_size, preprocess, labels = o.task, o.input_size, o.preprocess, o.labels
    e = zoo.registry.entry(name) if name else None
    if task is None:
        task = getattr(model, "zoo_task", None) or (
            e.task if e is not None and e.task in TASKS else _task_from_outputs(model)
        )
    if task not in TASKS:
        raise ExportError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if getattr(model, "inputs", None):
        shape = model.inputs[0].shape
        if len(model.inputs) != 1 or len(shape) != 4:
            raise ExportError(
                f"Only single-image models [B, H, W, C] can be exported, got inputs {model.inputs}"
            )
    elif is_zoo_detector(model):  # subclassed (Faster R-CNN): the contract gives the input size
        shape = (None, *model.image_size, 3)
    else:
        raise ExportError(f"Model {model.name} has no defined input; build it with an input shape first")
    h, w, c = shape[1], shape[2], shape[3]
    if input_size is not None:
        h, w = input_size
    elif h is None or w is None:
        if e is not None and e.input_shape:
            h, w = e.input_shape[:2]
        else:
            raise ExportError(f"Model {model.name} has a variable input size {shape}; pass input_size=(H, W)")
    if preprocess is None:
        preprocess = getattr(model, "zoo_preprocess", None) or (e.preprocess if e is not None else None)
    if preprocess is None and e is not None:
        preprocess = "none"  # a registered builder: the weights it loads define no other input
    if preprocess is None:
        raise ExportError(
            f"The preprocessing of {model.name} is unknown (a .keras file saved without "
            "zoo.saving.save_model, or a keras.Model without a zoo_preprocess attribute), and exporting "
            "with the wrong one is silently wrong on the device. Pass it: preprocess='unit' (--preprocess "
            "unit) for models trained on pixels / 255, 'none' for raw 0-255 pixels, or tf / caffe / torch."
        )
    if preprocess not in MODES:
        raise ExportError(f"Unknown preprocessing {preprocess!r}; choose from {', '.join(MODES)}")
    label_list = _read_labels(labels) if labels is not None else _default_labels(model, e, task)
    return ExportSpec(
        task=task,
        input_size=(int(h), int(w)),
        channels=int(c or 3),
        preprocess=preprocess,
        labels=label_list,
        name=name or model.name,
        detection_options=dict(o.detection_options or {}),
    )


def _task_from_outputs(model: keras.Model) -> str:
    if is_zoo_detector(model):
        return "detection"
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


def model_input(images: np.ndarray, spec: ExportSpec) -> np.ndarray:
    """uint8 RGB images -> what the unfolded export takes: grey if the model has 1 channel, preprocessed."""
    x = images.astype(np.float32)
    if spec.channels == 1 and x.shape[-1] == 3:
        x = x @ np.array([0.2989, 0.587, 0.114], np.float32)[:, None]
    return np.asarray(preprocess_input(x, spec.preprocess), np.float32)


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


def is_zoo_detector(model: Any) -> bool:
    """True for models following the zoo's detector contract (:class:`zoo.detection.base.Detector`)."""
    from zoo.detection.base import Detector

    return isinstance(model, Detector)


def anchor_based(model: keras.Model) -> bool:
    """True when the fused ``TFLite_Detection_PostProcess`` applies: a zoo detector with
    ``anchor_based`` set (its ``default_boxes`` [N, 4], ``box_weights``, raw ``class_logits`` /
    ``box_deltas`` [B, N, 4]). Models outside the contract: the same raw outputs, ``default_boxes``
    and a ``detect_batch`` method."""
    if is_zoo_detector(model):
        return bool(model.anchor_based)
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


def detection_settings(model: keras.Model, options: dict[str, Any]) -> dict[str, Any]:
    """The detector's post-processing settings with ``options`` applied (score_threshold,
    iou_threshold, max_detections, pre_nms_top_k).

    A zoo detector's come from its contract (``model.postprocess``, stored in its config); a model
    outside the contract with a ``detect_batch`` method: that method's keyword defaults.

    Raises:
        ExportError: an option the detector does not have.
    """
    if is_zoo_detector(model):
        try:
            return model.postprocess.replace(**options).as_dict()
        except (TypeError, ValueError) as e:
            raise ExportError(f"Detection options of {model.name}: {e}") from None
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
