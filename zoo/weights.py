"""Weight files: where they come from, caching, checking, and loading by layer name.

Official ImageNet weights are the keras.applications files (listed in each model's settings
entry, ``default_cfgs``, and collected in :data:`IMAGENET`), fetched through
``keras.utils.get_file`` into the Keras cache (``$KERAS_HOME/models``, default
``~/.keras/models``): a file already in the cache with the right hash is used without
any network access. Zoo models that carry these weights are layer-compatible with
keras.applications (same layer names and weight shapes), so the files load by name.

``weights=<path>`` accepts a Keras 3 ``.weights.h5`` file (as written by
``model.save_weights``) or a legacy ``.h5`` weight file (as keras.applications ships).
A missing, truncated or mismatched file raises :class:`WeightsError` naming the file and
the first layer that does not fit.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np


class WeightsError(ValueError):
    """A weight file is missing, unreadable, or does not fit the model."""


@dataclass(frozen=True)
class WeightFile:
    """One downloadable weight file: ``keras.utils.get_file`` arguments."""

    fname: str
    origin: str
    file_hash: str


# keras.applications' ImageNet weight files, name -> (with top, without top). The model families
# fill it from their per-name settings (``zoo.classification.*.default_cfgs``).
IMAGENET: dict[str, tuple[WeightFile, WeightFile]] = {}


def keras_cache_dir() -> Path:
    """The Keras cache root: ``$KERAS_HOME`` (read at call time) or ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def imagenet_file(arch: str, include_top: bool = True) -> Path:
    """Returns the local path of ``arch``'s ImageNet weight file, from the Keras cache or a download.

    Raises:
        WeightsError: ``arch`` has no official ImageNet weights, or the file cannot be had
            (e.g. offline with an empty cache); the message says where to put the file.
    """
    if arch not in IMAGENET:
        raise WeightsError(
            f"No ImageNet weights are published for {arch!r}; available for: {', '.join(sorted(IMAGENET))}. "
            "Use weights=None or weights=<path to a .weights.h5 file>."
        )
    wf = IMAGENET[arch][0 if include_top else 1]
    cache_dir = keras_cache_dir() / "models"
    try:
        path = keras.utils.get_file(
            wf.fname,
            wf.origin,
            cache_dir=str(keras_cache_dir()),
            cache_subdir="models",
            file_hash=wf.file_hash,
        )
    except Exception as exc:  # network errors surface as many types
        raise WeightsError(
            f"Could not get ImageNet weights for {arch!r} ({wf.fname}): {exc}. Offline? Copy the file "
            f"into {cache_dir} (md5 {wf.file_hash}) and try again."
        ) from exc
    return Path(path)


def read_legacy_h5(f: h5py.File) -> dict[str, list[np.ndarray]]:
    """Reads an open legacy (keras.applications style) .h5 weight file: layer name -> arrays in order."""
    root = f["model_weights"] if "model_weights" in f else f
    out: dict[str, list[np.ndarray]] = {}
    for raw in root.attrs.get("layer_names", []):
        name = raw.decode("utf8") if hasattr(raw, "decode") else str(raw)
        group = root[name]
        wnames = [
            w.decode("utf8") if hasattr(w, "decode") else str(w) for w in group.attrs.get("weight_names", [])
        ]
        if wnames:
            out[name] = [np.asarray(group[w]) for w in wnames]
    return out


def _open_h5(path: Path) -> h5py.File:
    if not path.exists():
        raise WeightsError(f"Weight file not found: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise WeightsError(
            f"Weight file {path} is unreadable or truncated (not a valid HDF5 file): {exc}"
        ) from exc


def load_by_name(model: keras.Model, path: str | os.PathLike, *, strict: bool = True) -> list[str]:
    """Loads a legacy ``.h5`` weight file into ``model``'s layers of the same names.

    Args:
        model: the model to fill.
        path: legacy HDF5 weight file (``layer_names`` attribute, one group per layer).
        strict: if True, every weighted layer of the model must be in the file and every
            layer of the file in the model. If False, only layers present in both are loaded
            (a detector body taking a classifier's weights).

    Returns:
        The names of the layers that were loaded.

    Raises:
        WeightsError: naming the file and the first layer whose weights do not fit.
    """
    path = Path(path)
    with _open_h5(path) as f:
        try:
            saved = read_legacy_h5(f)
        except (KeyError, OSError) as exc:
            raise WeightsError(f"Weight file {path} is corrupt: {exc}") from exc
    if not saved:
        raise WeightsError(
            f"Weight file {path} holds no layer weights (is it a legacy Keras .h5 weight file?)"
        )
    layers = {layer.name: layer for layer in model.layers if layer.weights}
    if strict:
        missing = [n for n in layers if n not in saved]
        extra = [n for n in saved if n not in layers]
        if missing or extra:
            first = (missing or extra)[0]
            where = "is not in the file" if missing else "is not in the model"
            raise WeightsError(
                f"Weight file {path} does not fit model {model.name!r}: layer {first!r} {where} "
                f"({len(missing)} model layer(s) missing from the file, {len(extra)} file layer(s) unused)."
            )
    loaded = []
    for name, layer in layers.items():
        if name not in saved:
            continue
        values = saved[name]
        shapes = [tuple(w.shape) for w in layer.weights]
        if len(values) != len(shapes) or any(tuple(v.shape) != s for v, s in zip(values, shapes)):
            raise WeightsError(
                f"Weight file {path} does not fit model {model.name!r}: first mismatching layer {name!r} "
                f"expects weight shapes {shapes}, file has {[tuple(v.shape) for v in values]}."
            )
        layer.set_weights(values)
        loaded.append(name)
    if not loaded:
        raise WeightsError(f"No layer of model {model.name!r} matches a layer name in {path}")
    return loaded


def _snake(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _check_keras3_file(model: keras.Model, path: Path, f: h5py.File) -> None:
    """Compares a Keras 3 ``.weights.h5`` file's per-layer shapes with the model's."""
    if "layers" not in f:
        raise WeightsError(f"Weight file {path} is not a Keras 3 .weights.h5 file (no 'layers' group)")
    used: dict[str, int] = {}
    for layer in model.layers:
        key = _snake(type(layer).__name__)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        if not layer.weights:
            continue
        group = f["layers"].get(key)
        if group is None or "vars" not in group:
            raise WeightsError(
                f"Weight file {path} does not fit model {model.name!r}: first mismatching layer "
                f"{layer.name!r} has no weights in the file."
            )
        if len(group) > 1:  # a layer with sub-layers: leave the detail to Keras
            continue
        saved = [tuple(group["vars"][str(i)].shape) for i in range(len(group["vars"]))]
        own = [tuple(w.shape) for w in layer.weights]
        if saved != own:
            raise WeightsError(
                f"Weight file {path} does not fit model {model.name!r}: first mismatching layer "
                f"{layer.name!r} expects weight shapes {own}, file has {saved}."
            )


# Root attribute of a ``.weights.h5`` naming the preprocessing its weights were trained with
# (``python -m zoo convert-weights`` writes "torch" for torchvision classifiers).
PREPROCESS_ATTR = "zoo_preprocess"


def mark_preprocessing(path: str | os.PathLike, preprocess: str | None) -> None:
    """Records ``preprocess`` (a zoo preprocessing mode) in the ``.weights.h5`` file ``path``;
    :func:`load_weight_file` sets it as the model's ``zoo_preprocess``, which export reads."""
    if preprocess is None:
        return
    import h5py

    with h5py.File(path, "a") as f:
        f.attrs[PREPROCESS_ATTR] = str(preprocess)


def load_weight_file(model: keras.Model, path: str | os.PathLike) -> None:
    """Loads ``path`` (``.weights.h5`` or legacy ``.h5``) into ``model`` with clear errors.

    A file marked by :func:`mark_preprocessing` also sets ``model.zoo_preprocess``.
    """
    path = Path(path)
    with _open_h5(path) as f:
        keras3 = "layers" in f and "layer_names" not in f.attrs and "model_weights" not in f
        if keras3:
            _check_keras3_file(model, path, f)
        preprocess = f.attrs.get(PREPROCESS_ATTR)
    if not keras3:
        load_by_name(model, path, strict=True)
        return
    try:
        model.load_weights(path)
    except Exception as exc:
        raise WeightsError(f"Could not load weight file {path} into model {model.name!r}: {exc}") from exc
    if preprocess is not None:
        model.zoo_preprocess = preprocess.decode() if isinstance(preprocess, bytes) else str(preprocess)


def load_weights(
    model: keras.Model, weights: Any, *, arch: str | None = None, include_top: bool = True
) -> keras.Model:
    """Applies a builder's ``weights=`` argument to a freshly built model.

    Args:
        model: the built model.
        weights: None (random init), ``"imagenet"`` (keras.applications file for ``arch``),
            or a path to a weight file.
        arch: the keras.applications architecture name for ``"imagenet"``.
        include_top: which ImageNet file (with or without the classifier).
    """
    if weights is None:
        return model
    if isinstance(weights, str) and weights == "imagenet":
        if arch is None:
            raise WeightsError(
                f"Model {model.name!r} has no ImageNet weights; use weights=None or a file path."
            )
        load_by_name(model, imagenet_file(arch, include_top), strict=True)
        return model
    if isinstance(weights, (str, os.PathLike)):
        load_weight_file(model, weights)
        return model
    raise WeightsError(f"weights must be None, 'imagenet' or a file path, got {weights!r}")
