"""The name -> builder table behind ``zoo.get``, ``zoo.list_models`` and ``zoo.info``.

Builders are plain functions registered with :func:`register`; the registry knows
builders, never the other way round. Each entry carries the metadata a user asks
for first (task, paper, default input size, reference numbers, available weights).
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TASKS = ("classification", "detection", "segmentation", "text", "generation")


class UnknownModelError(KeyError):
    """Raised for a model name the registry does not hold."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0])


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows of one model name.

    Attributes:
        name: registered name (``vgg16``).
        builder: the function that builds the model.
        task: one of ``TASKS``.
        paper: short citation of the architecture's paper.
        input_shape: default input shape (H, W, C), or None for sequence models.
        weights: named weight sets ``weights=`` accepts besides None and a path.
        references: published numbers, e.g. ``{"num_params": 138357544,
            "num_params_source": "keras.applications VGG16", "imagenet_top1": 71.3,
            "imagenet_top1_source": "keras.applications"}``.
        preprocess: name of the preprocessing function in :mod:`zoo.preprocessing`.
        family: model family (module) name.
    """

    name: str
    builder: Callable[..., Any]
    task: str
    paper: str = ""
    input_shape: tuple[int, ...] | None = None
    weights: tuple[str, ...] = ()
    references: dict[str, Any] = field(default_factory=dict)
    preprocess: str | None = None
    family: str = ""


_REGISTRY: dict[str, ModelEntry] = {}

#: Packages whose import registers the zoo's models; loaded on the first registry lookup.
FAMILY_PACKAGES = ("zoo.classification", "zoo.detection", "zoo.segmentation", "zoo.text", "zoo.generative")
_families_loaded = False


def _load_families() -> None:
    """Imports the model families once (they register themselves), so lookups see every model."""
    global _families_loaded
    if not _families_loaded:
        _families_loaded = True
        for package in FAMILY_PACKAGES:
            importlib.import_module(package)


def register(
    name: str | None = None,
    *,
    task: str,
    paper: str = "",
    input_shape: tuple[int, ...] | None = None,
    weights: tuple[str, ...] = (),
    references: dict[str, Any] | None = None,
    preprocess: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that registers a model builder under ``name``.

    Example:
        >>> @register("tiny_net", task="classification", input_shape=(32, 32, 3))
        ... def tiny_net(num_classes=10, **kwargs): ...
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = name or fn.__name__
        if key in _REGISTRY and _REGISTRY[key].builder is not fn:
            raise ValueError(f"Model name {key!r} is already registered by {_REGISTRY[key].builder}")
        _REGISTRY[key] = ModelEntry(
            name=key,
            builder=fn,
            task=task,
            paper=paper,
            input_shape=tuple(input_shape) if input_shape else None,
            weights=tuple(weights),
            references=dict(references or {}),
            preprocess=preprocess,
            family=fn.__module__.rsplit(".", 1)[-1],
        )
        return fn

    return decorator


def entry(name: str) -> ModelEntry:
    """Returns the registry entry for ``name`` or raises :class:`UnknownModelError`."""
    if not isinstance(name, str):
        raise TypeError(f"Model name must be a string, got {type(name).__name__}")
    if name not in _REGISTRY:
        _load_families()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(unknown_model_message(name, list(_REGISTRY))) from None


def unknown_model_message(name: str, names: list[str]) -> str:
    """``Unknown model 'vgg_16'. Did you mean: vgg16, ...?`` with the closest of ``names``."""
    close = difflib.get_close_matches(name.lower(), names, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"Unknown model {name!r}.{hint} Run `python -m zoo list` or zoo.list_models() to see all."


def resolve_num_classes(num_classes: int | None, classes: int | None, default: int) -> int:
    """The class count a builder was given under either spelling (``num_classes`` or ``classes``).

    Classifiers (keras.applications) say ``classes``, detectors and segmenters ``num_classes``;
    builders accept both through this one helper, which refuses two values that disagree.

    Example:
        >>> resolve_num_classes(None, 5, default=21)
        5
    """
    if num_classes is not None and classes is not None and int(num_classes) != int(classes):
        raise ValueError(f"num_classes={num_classes} and classes={classes} disagree; pass one of them")
    value = num_classes if num_classes is not None else classes
    return default if value is None else value


def _check_kwargs(e: ModelEntry, kwargs: dict[str, Any]) -> None:
    params = inspect.signature(e.builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        accepted = ", ".join(params)
        raise TypeError(
            f"zoo.get({e.name!r}) got unknown keyword argument(s): {', '.join(unknown)}. "
            f"Accepted: {accepted}."
        )


def get(name: str, **kwargs: Any) -> Any:
    """Builds the registered model ``name`` with the builder's keyword arguments.

    Example:
        >>> model = zoo.get("vgg16", weights=None, classes=10, input_shape=(64, 64, 3))
    """
    e = entry(name)
    _check_kwargs(e, kwargs)
    return e.builder(**kwargs)


def list_models(task: str | None = None, pattern: str | None = None) -> list[str]:
    """Sorted registered names, optionally filtered by task and a glob pattern (``"resnet*"``)."""
    if task is not None and task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose from {', '.join(TASKS)}")
    _load_families()
    names = [n for n, e in _REGISTRY.items() if task is None or e.task == task]
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return sorted(names)


def entries() -> dict[str, ModelEntry]:
    """A copy of the whole table (name -> entry)."""
    _load_families()
    return dict(_REGISTRY)
