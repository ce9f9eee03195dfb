"""Saving a model with what it takes to use it: preprocessing, labels, task.

A ``.keras`` archive holds the architecture and the weights, but not how pixels become the
model's input: a model trained on ``pixels / 255`` and exported as if it took raw pixels is
silently wrong on the device. :func:`save_model` writes the archive atomically and adds a
``zoo.json`` entry to it (Keras ignores entries it does not know); :func:`read_model_info` reads it
back, and ``zoo.export`` uses it.

Example:
    >>> save_model(model, "runs/digits/model.keras", preprocess="unit", labels=[str(i) for i in range(10)])
    >>> read_model_info("runs/digits/model.keras")["preprocess"]
    'unit'
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from zoo.preprocessing import MODES
from zoo.utils.io import atomic_path

INFO_ENTRY = "zoo.json"


def save_model(
    model: keras.Model,
    path: str | os.PathLike,
    *,
    preprocess: str,
    labels: Sequence[str] | None = None,
    task: str | None = None,
    overwrite: bool = True,
    **extra: Any,
) -> Path:
    """``model.save(path)`` atomically, with ``preprocess`` / ``labels`` / ``task`` inside the archive.

    Args:
        model: the model.
        path: a ``.keras`` file.
        preprocess: the ``zoo.preprocessing`` mode the model was trained with ("unit" for
            pixels / 255, "tf", "caffe", "torch", "none" for raw pixels).
        labels: class names in output order (detectors: background first).
        task: "classification", "detection" or "segmentation" (None: inferred on export).
        overwrite: replace an existing file.
        **extra: more JSON-serialisable facts (e.g. ``image_size``).

    Raises:
        ValueError: unknown preprocessing mode or a path that is not ``.keras``.

    Example:
        >>> save_model(unet, "runs/unet/model.keras", preprocess="unit", labels=["bg", "shape"])
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save_model writes a .keras archive, got {path}")
    if preprocess not in MODES:
        raise ValueError(f"Unknown preprocessing mode {preprocess!r}; choose from {', '.join(MODES)}")
    info = {"preprocess": preprocess, "labels": list(labels) if labels is not None else None, "task": task}
    info.update(extra)
    with atomic_path(path, overwrite=overwrite) as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as z:
            z.writestr(INFO_ENTRY, json.dumps(info, indent=2, default=str))
    return path


def read_model_info(path: str | os.PathLike) -> dict[str, Any] | None:
    """The ``zoo.json`` facts of a ``.keras`` archive written by :func:`save_model`, or None.

    Example:
        >>> read_model_info("runs/unet/model.keras")
        {'preprocess': 'unit', 'labels': ['bg', 'shape'], 'task': 'segmentation'}
    """
    try:
        with zipfile.ZipFile(path) as z:
            if INFO_ENTRY not in z.namelist():
                return None
            return json.loads(z.read(INFO_ENTRY).decode("utf-8"))
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
