"""LiteRT (.tflite) export: conversion, quantization, MediaPipe metadata, verification.

Example:
    >>> from zoo.export import export_model
    >>> result = export_model("alexnet", "alexnet_f16.tflite", quantize="float16",
    ...                       fold_preprocessing=True, build_kwargs={"classes": 10})
    >>> print(result.report.table())
"""

from zoo.export.litert import QUANTIZATIONS, ExportError, ExportResult, ExportSpec, export_model, load_model
from zoo.export.verify import VerifyReport, verify_export

__all__ = [
    "QUANTIZATIONS",
    "ExportError",
    "ExportResult",
    "ExportSpec",
    "VerifyReport",
    "export_model",
    "load_model",
    "verify_export",
]
