"""TFLite model metadata that MediaPipe Tasks reads, written without tflite-support.

MediaPipe Tasks (``ImageClassifier``, ``ObjectDetector``, ``ImageSegmenter``) need a
``ModelMetadata`` flatbuffer inside the ``.tflite`` file: how to normalise the input image,
what each output tensor means and the label files. mediapipe's own writer
(``mediapipe.tasks.python.metadata.metadata_writers``) does not import from the 1.2.2 wheel
(its ``_pywrap_metadata_version`` extension is missing) and tflite-support breaks protobuf.
The wheel still ships the generated flatbuffer bindings of both schemas, so this module does
what the metadata populator does, with those bindings only:

1. build a ``ModelMetadataT`` (object API of ``metadata_schema_py_generated``) and serialise
   it with the ``M001`` file identifier;
2. append it to the model's ``buffers`` and point a ``Metadata`` entry named
   ``TFLITE_METADATA`` at it (object API of ``schema_py_generated``), re-serialised with the
   ``TFL3`` identifier;
3. append the associated files (labels) as a ZIP archive after the flatbuffer. A flatbuffer
   is read from its start and a ZIP from its end, so the file is both; the runtime's
   metadata extractor opens the ZIP to find the files named in the metadata.

The ``min_parser_version`` the populator computes with its C++ helper is set here from the
features used (see :func:`_min_parser_version`).

Example:
    >>> data = attach_metadata(tflite_bytes, classifier_metadata(...), {"labels.txt": b"cat\\ndog\\n"})
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import flatbuffers
import numpy as np
from mediapipe.tasks.metadata import image_segmenter_metadata_schema_py_generated as _seg_fb
from mediapipe.tasks.metadata import metadata_schema_py_generated as _md
from mediapipe.tasks.metadata import schema_py_generated as _tfl

METADATA_FIELD_NAME = "TFLITE_METADATA"
METADATA_FILE_IDENTIFIER = b"M001"
TFLITE_FILE_IDENTIFIER = b"TFL3"
SEGMENTER_OPTIONS_IDENTIFIER = b"V001"
LABEL_FILE = "labels.txt"
DETECTION_GROUP = "detection_result"
#: Output tensor names MediaPipe's ObjectDetector looks up (in this order when unnamed).
DETECTION_OUTPUT_NAMES = ("location", "category", "score", "number of detections")
#: The fifth output of an instance-mask detector (the FPN Mask R-CNN), after the four above.
MASK_OUTPUT_NAME = "mask_probs"


class MetadataError(ValueError):
    """Raised when metadata cannot describe the model (wrong outputs, bad labels, ...)."""


@dataclass(frozen=True)
class Normalization:
    """Input normalisation ``(pixel - mean) / std`` per RGB channel, as the metadata stores it."""

    mean: tuple[float, ...]
    std: tuple[float, ...]


def _image_input(height: int, width: int, norm: Normalization | None, dtype: str) -> _md.TensorMetadataT:
    t = _md.TensorMetadataT()
    t.name = "image"
    t.description = f"RGB image, {height}x{width}, {dtype}" + (
        "" if norm is None else f", normalised as (pixel - {list(norm.mean)}) / {list(norm.std)}"
    )
    content = _md.ContentT()
    props = _md.ImagePropertiesT()
    props.colorSpace = _md.ColorSpaceType.RGB
    content.contentPropertiesType = _md.ContentProperties.ImageProperties
    content.contentProperties = props
    t.content = content
    if norm is not None:
        unit = _md.ProcessUnitT()
        unit.optionsType = _md.ProcessUnitOptions.NormalizationOptions
        opts = _md.NormalizationOptionsT()
        opts.mean = [float(m) for m in norm.mean]
        opts.std = [float(s) for s in norm.std]
        unit.options = opts
        t.processUnits = [unit]
    stats = _md.StatsT()
    if dtype == "uint8":
        stats.max, stats.min = [255.0], [0.0]
    elif norm is not None:
        stats.max = [(255.0 - m) / s for m, s in zip(norm.mean, norm.std)]
        stats.min = [(0.0 - m) / s for m, s in zip(norm.mean, norm.std)]
    t.stats = stats
    return t


def _label_file(file_type: int, description: str) -> _md.AssociatedFileT:
    f = _md.AssociatedFileT()
    f.name = LABEL_FILE
    f.description = description
    f.type = file_type
    return f


def _feature_tensor(
    name: str, description: str, labels: bool = False, axis: bool = True
) -> _md.TensorMetadataT:
    t = _md.TensorMetadataT()
    t.name = name
    t.description = description
    content = _md.ContentT()
    content.contentPropertiesType = _md.ContentProperties.FeatureProperties
    content.contentProperties = _md.FeaturePropertiesT()
    t.content = content
    if labels:
        kind = (
            _md.AssociatedFileType.TENSOR_AXIS_LABELS if axis else _md.AssociatedFileType.TENSOR_VALUE_LABELS
        )
        t.associatedFiles = [_label_file(kind, "Class names, one per line (index = class id).")]
    return t


def _model(name: str, description: str, subgraph: _md.SubGraphMetadataT, version: str) -> _md.ModelMetadataT:
    m = _md.ModelMetadataT()
    m.name = name
    m.description = description
    m.version = version
    m.author = "zoo"
    m.license = "Apache-2.0"
    m.subgraphMetadata = [subgraph]
    m.minParserVersion = _min_parser_version(subgraph)
    return m


def _min_parser_version(subgraph: _md.SubGraphMetadataT) -> str:
    """The oldest metadata parser that reads every field used here.

    Mirrors the table in the schema's comments: tensor groups need 1.2.0, custom metadata
    1.5.0; everything else used here (image/feature/bounding-box properties,
    normalisation, label files) is in 1.0.0.
    """
    if subgraph.customMetadata:
        return "1.5.0"
    if subgraph.outputTensorGroups:
        return "1.2.0"
    return "1.0.0"


def classifier_metadata(
    height: int,
    width: int,
    *,
    normalization: Normalization | None,
    input_dtype: str,
    has_labels: bool,
    name: str = "ImageClassifier",
    description: str = "Image classifier exported by zoo",
    version: str = "1",
) -> _md.ModelMetadataT:
    """Metadata for an image classifier: one image input, one ``[1, classes]`` score output.

    Args:
        height, width: input size.
        normalization: ``(pixel - mean) / std`` the app must apply (None for uint8 input).
        input_dtype: ``"uint8"`` or ``"float32"``.
        has_labels: whether ``labels.txt`` is packed (TENSOR_AXIS_LABELS of the scores).

    Example:
        >>> md = classifier_metadata(224, 224, normalization=None, input_dtype="uint8", has_labels=True)
    """
    sg = _md.SubGraphMetadataT()
    sg.inputTensorMetadata = [_image_input(height, width, normalization, input_dtype)]
    sg.outputTensorMetadata = [_feature_tensor("probability", "Class scores.", labels=has_labels)]
    return _model(name, description, sg, version)


def detector_metadata(
    height: int,
    width: int,
    *,
    normalization: Normalization | None,
    input_dtype: str,
    has_labels: bool,
    output_order: Sequence[str] = DETECTION_OUTPUT_NAMES,
    name: str = "ObjectDetector",
    description: str = "Object detector with in-graph decoding and NMS, exported by zoo",
    version: str = "1",
) -> _md.ModelMetadataT:
    """Metadata for a detector with post-processing in the graph (four outputs).

    The outputs are those of TFLite's detection post-process op, which MediaPipe's
    ObjectDetector expects: ``location`` [1, K, 4] float32 boxes as normalised
    ``[ymin, xmin, ymax, xmax]`` (BoundingBoxProperties index ``[1, 0, 3, 2]`` = positions of
    left, top, right, bottom; type BOUNDARIES, coordinates RATIO), ``category`` [1, K]
    float32 class ids (labels as TENSOR_VALUE_LABELS), ``score`` [1, K] float32 and
    ``number of detections`` [1] float32.

    An instance-mask detector has a fifth output, ``mask_probs`` [1, K, M, M] float32: each
    detection's mask probabilities in its box's frame (to be resized into the box). MediaPipe's
    ObjectDetector takes exactly the four outputs, so such a file is for the plain interpreter.

    Args:
        output_order: the four names above (and ``mask_probs``) in the order of the model's output tensors.

    Example:
        >>> md = detector_metadata(300, 300, normalization=None, input_dtype="uint8", has_labels=True)
    """
    allowed = (sorted(DETECTION_OUTPUT_NAMES), sorted((*DETECTION_OUTPUT_NAMES, MASK_OUTPUT_NAME)))
    if sorted(output_order) not in allowed:
        raise MetadataError(
            f"output_order must be a permutation of {DETECTION_OUTPUT_NAMES} (and {MASK_OUTPUT_NAME!r}), "
            f"got {output_order}"
        )
    tensors = {}
    loc = _md.TensorMetadataT()
    loc.name = "location"
    loc.description = "Boxes as normalised [ymin, xmin, ymax, xmax]."
    content = _md.ContentT()
    bbox = _md.BoundingBoxPropertiesT()
    bbox.index = [1, 0, 3, 2]
    bbox.type = _md.BoundingBoxType.BOUNDARIES
    bbox.coordinateType = _md.CoordinateType.RATIO
    content.contentPropertiesType = _md.ContentProperties.BoundingBoxProperties
    content.contentProperties = bbox
    rng = _md.ValueRangeT()
    rng.min, rng.max = 2, 2
    content.range = rng
    loc.content = content
    tensors["location"] = loc
    for key, desc in (("category", "Class id of each detection."), ("score", "Score of each detection.")):
        t = _feature_tensor(key, desc, labels=has_labels and key == "category", axis=False)
        t.content.range = _md.ValueRangeT()
        t.content.range.min, t.content.range.max = 2, 2
        tensors[key] = t
    tensors["number of detections"] = _feature_tensor("number of detections", "Number of valid detections.")
    tensors[MASK_OUTPUT_NAME] = _feature_tensor(
        MASK_OUTPUT_NAME, "Mask probabilities of each detection in its box's frame (resize into the box)."
    )
    sg = _md.SubGraphMetadataT()
    sg.inputTensorMetadata = [_image_input(height, width, normalization, input_dtype)]
    sg.outputTensorMetadata = [tensors[n] for n in output_order]
    group = _md.TensorGroupT()
    group.name = DETECTION_GROUP
    group.tensorNames = ["location", "category", "score"]
    sg.outputTensorGroups = [group]
    return _model(name, description, sg, version)


def segmenter_metadata(
    height: int,
    width: int,
    *,
    normalization: Normalization | None,
    input_dtype: str,
    has_labels: bool,
    activation: str = "softmax",
    name: str = "ImageSegmenter",
    description: str = "Semantic segmenter exported by zoo",
    version: str = "1",
) -> _md.ModelMetadataT:
    """Metadata for a segmenter: one ``[1, H', W', classes]`` per-class score output.

    MediaPipe's ImageSegmenter turns it into the per-pixel class map (category mask, argmax
    over classes) and per-class confidence masks, resized to the input image.

    Args:
        activation: ``"none"``, ``"sigmoid"`` or ``"softmax"``: what MediaPipe applies to the
            output to get confidences (``"none"`` when the model already outputs probabilities).

    Example:
        >>> md = segmenter_metadata(128, 128, normalization=None, input_dtype="uint8", has_labels=True)
    """
    acts = {
        "none": _seg_fb.Activation.NONE,
        "sigmoid": _seg_fb.Activation.SIGMOID,
        "softmax": _seg_fb.Activation.SOFTMAX,
    }
    if activation not in acts:
        raise MetadataError(f"activation must be one of {sorted(acts)}, got {activation!r}")
    opts = _seg_fb.ImageSegmenterOptionsT()
    opts.activation = acts[activation]
    b = flatbuffers.Builder(0)
    b.Finish(opts.Pack(b), SEGMENTER_OPTIONS_IDENTIFIER)
    custom = _md.CustomMetadataT()
    custom.name = "SEGMENTER_METADATA"
    custom.data = bytes(b.Output())

    out = _md.TensorMetadataT()
    out.name = "segmentation_masks"
    out.description = "Per-pixel class scores."
    out.dimensionNames = ["batch", "height", "width", "class"]
    content = _md.ContentT()
    props = _md.ImagePropertiesT()
    props.colorSpace = _md.ColorSpaceType.GRAYSCALE
    content.contentPropertiesType = _md.ContentProperties.ImageProperties
    content.contentProperties = props
    rng = _md.ValueRangeT()
    rng.min, rng.max = 1, 2
    content.range = rng
    out.content = content
    if has_labels:
        out.associatedFiles = [
            _label_file(_md.AssociatedFileType.TENSOR_AXIS_LABELS, "Class names, one per line.")
        ]
    sg = _md.SubGraphMetadataT()
    sg.inputTensorMetadata = [_image_input(height, width, normalization, input_dtype)]
    sg.outputTensorMetadata = [out]
    sg.customMetadata = [custom]
    return _model(name, description, sg, version)


def metadata_bytes(metadata: _md.ModelMetadataT) -> bytes:
    """Serialises ``metadata`` with the ``M001`` identifier."""
    b = flatbuffers.Builder(0)
    b.Finish(metadata.Pack(b), METADATA_FILE_IDENTIFIER)
    return bytes(b.Output())


def _flatbuffer_part(model: bytes) -> bytes:
    """The model without an appended ZIP of associated files (if any)."""
    if _zip_names(model):
        with zipfile.ZipFile(io.BytesIO(model)) as zf:
            start = min(info.header_offset for info in zf.infolist())
        return model[:start]
    return model


def _zip_names(model: bytes) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as zf:
            return zf.namelist()
    except zipfile.BadZipFile:
        return []


def attach_metadata(
    model: bytes, metadata: _md.ModelMetadataT, associated_files: dict[str, bytes] | None = None
) -> bytes:
    """Returns ``model`` with ``metadata`` in its TFLITE_METADATA buffer and the files zipped after it.

    Replaces metadata and associated files already there. Every file the metadata names
    must be given and vice versa.

    Args:
        model: a .tflite flatbuffer (bytes).
        metadata: from :func:`classifier_metadata`, :func:`detector_metadata` or
            :func:`segmenter_metadata`.
        associated_files: file name -> content, e.g. ``{"labels.txt": b"cat\\ndog\\n"}``.

    Example:
        >>> data = attach_metadata(data, classifier_metadata(224, 224, normalization=None,
        ...     input_dtype="uint8", has_labels=True), {"labels.txt": b"cat\\ndog\\n"})
    """
    files = dict(associated_files or {})
    named = set(_recorded_files(metadata))
    if named != set(files):
        raise MetadataError(
            f"The metadata names associated files {sorted(named)} but {sorted(files)} were given"
        )
    flat = _flatbuffer_part(bytes(model))
    if not _tfl.Model.ModelBufferHasIdentifier(flat, 0):
        raise MetadataError("Not a TFLite flatbuffer (identifier TFL3 missing)")
    m = _tfl.ModelT.InitFromObj(_tfl.Model.GetRootAsModel(flat, 0))
    sg = m.subgraphs[0]
    md_sg = metadata.subgraphMetadata[0]
    if len(md_sg.inputTensorMetadata or []) != len(sg.inputs) or len(md_sg.outputTensorMetadata or []) != len(
        sg.outputs
    ):
        raise MetadataError(
            f"Metadata describes {len(md_sg.inputTensorMetadata or [])} inputs / "
            f"{len(md_sg.outputTensorMetadata or [])} outputs but the model has {len(sg.inputs)} / {len(sg.outputs)}"
        )
    buf = _tfl.BufferT()
    buf.data = np.frombuffer(metadata_bytes(metadata), dtype=np.uint8)
    m.buffers = list(m.buffers or [])
    m.metadata = list(m.metadata or [])
    existing = [e for e in m.metadata if e.name.decode() == METADATA_FIELD_NAME]
    if existing:
        m.buffers[existing[0].buffer] = buf
    else:
        m.buffers.append(buf)
        entry = _tfl.MetadataT()
        entry.name = METADATA_FIELD_NAME
        entry.buffer = len(m.buffers) - 1
        m.metadata.append(entry)
    b = flatbuffers.Builder(len(flat) + 1024)
    b.Finish(m.Pack(b), TFLITE_FILE_IDENTIFIER)
    out = io.BytesIO()
    out.write(bytes(b.Output()))
    if files:
        with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as zf:
            for name, data in files.items():
                zf.writestr(name, data)
    return out.getvalue()


def _recorded_files(metadata: _md.ModelMetadataT) -> list[str]:
    names = [f.name for f in metadata.associatedFiles or []]
    for sg in metadata.subgraphMetadata or []:
        names += [f.name for f in sg.associatedFiles or []]
        for t in (sg.inputTensorMetadata or []) + (sg.outputTensorMetadata or []):
            names += [f.name for f in t.associatedFiles or []]
    return [n.decode() if isinstance(n, bytes) else n for n in names]


def read_metadata(model: bytes) -> _md.ModelMetadataT | None:
    """The ModelMetadata stored in a .tflite file (None if it has none).

    Example:
        >>> read_metadata(open("m.tflite", "rb").read()).subgraphMetadata[0].outputTensorMetadata[0].name
    """
    m = _tfl.Model.GetRootAsModel(model, 0)
    for i in range(m.MetadataLength()):
        entry = m.Metadata(i)
        if entry.Name().decode() == METADATA_FIELD_NAME:
            data = m.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
            return _md.ModelMetadataT.InitFromObj(_md.ModelMetadata.GetRootAsModelMetadata(data, 0))
    return None


def read_associated_files(model: bytes) -> dict[str, bytes]:
    """The files zipped after the flatbuffer (name -> content)."""
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as zf:
            return {n: zf.read(n) for n in zf.namelist()}
    except zipfile.BadZipFile:
        return {}


def labels_file(labels: Sequence[str]) -> bytes:
    """Label file content: one label a line, validated (non-empty, no newlines)."""
    labels = [str(x) for x in labels]
    if not labels:
        raise MetadataError("The label list is empty")
    bad = [x for x in labels if not x.strip() or "\n" in x or "\r" in x]
    if bad:
        raise MetadataError(f"Labels must be non-empty single lines; bad entries: {bad[:5]}")
    return ("\n".join(labels) + "\n").encode("utf-8")
