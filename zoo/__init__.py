"""zoo: a Keras 3 model zoo with transfer-learning recipes and LiteRT deployment.

Importing ``zoo`` is cheap: the model families (and with them Keras and TensorFlow) load on
first use of ``get``, ``list_models``, ``info``, ``preprocess`` or a family package, so
``python -m zoo --help`` and ``zoo.utils`` stay fast.

Example:
    >>> import zoo
    >>> zoo.list_models(task="classification", pattern="resnet*")
    >>> model = zoo.get("vgg16", weights=None, classes=10, input_shape=(64, 64, 3))
    >>> zoo.info("resnet50")["num_params"]
"""

import importlib
from typing import Any

from zoo.registry import UnknownModelError, get, list_models, register

__version__ = "0.1.0"
__all__ = ["get", "list_models", "info", "register", "preprocess", "UnknownModelError", "__version__"]

_LAZY = {"info": ("zoo.modelinfo", "info"), "preprocess": ("zoo.preprocessing", "preprocess")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"zoo.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"zoo.{name}":
            raise
        raise AttributeError(f"module 'zoo' has no attribute {name!r}") from None
