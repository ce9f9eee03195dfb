"""LiteRT (.tflite) export: conversion, quantization, MediaPipe metadata, verification.

Modules, each importing only those before it: ``metadata`` (flatbuffer writer), ``representative``
(images), ``runtime`` (interpreter), ``spec`` (what the model is), ``graph`` (serving function),
``conversion`` (converter), ``verify`` (comparison with Keras), ``litert`` (:func:`export_model`),
``cli``.

Example:
    >>> from zoo.export import export_model
    >>> result = export_model("alexnet", "alexnet_f16.tflite", quantize="float16",
    ...                       fold_preprocessing=True, build_kwargs={"classes": 10})
    >>> print(result.report.table())
"""

from zoo.export.conversion import ConvertOptions
from zoo.export.litert import ExportResult, export_model
from zoo.export.spec import QUANTIZATIONS, ExportError, ExportSpec, ModelOptions, load_model
from zoo.export.verify import VerifyOptions, VerifyReport, verify_export

__all__ = [
    "QUANTIZATIONS",
    "ConvertOptions",
    "ExportError",
    "ExportResult",
    "ExportSpec",
    "ModelOptions",
    "VerifyOptions",
    "VerifyReport",
    "export_model",
    "load_model",
    "verify_export",
]
