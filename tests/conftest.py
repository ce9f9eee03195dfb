"""Shared test set-up: quiet TensorFlow, a fresh Keras session per test, tiny image helper.

The torch parity tests (``tests/torch/``, marker ``torch``, ``make test-torch``) need torch and
torchvision imported before TensorFlow in one process (the reverse segfaults here), so this file
imports keras lazily: ``pytest_configure`` imports torch first when the run selects ``torch``
tests, and ``tests/torch/`` is not collected otherwise.
"""

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("KERAS_BACKEND") == "jax":
    # JAX on the CPU compiles each op for each new shape, weight initialisers included: building
    # GoogLeNet at 32 px compiled 68 random-uniform kernels, over 80 % of its build time
    # (2026-12-02). Tests need correct code, not fast code: XLA's LLVM back end at -O0 halved that
    # build, and a compilation cache on disk lets the xdist workers, the tests and later runs share
    # the kernels of equal shapes (a second build of GoogLeNet: 3x faster). Results do not change.
    os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"zoo-jax-cache-{os.getuid()}")
    )
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
_TORCH_DIR = Path(__file__).resolve().parent / "torch"


def _torch_selected(config) -> bool:
    """True when the marker expression selects torch tests (``-m torch``, not ``-m 'not torch'``)."""
    expression = config.getoption("markexpr", "") or ""
    return re.search(r"(?<!not )\btorch\b", expression) is not None


def pytest_configure(config):
    if _torch_selected(config):
        try:
            import torch  # noqa: F401
            import torchvision  # noqa: F401
        except ImportError:
            pass  # the parity tests then skip, naming the extra


def pytest_ignore_collect(collection_path, config):
    if not _torch_selected(config) and _TORCH_DIR in (collection_path, *collection_path.parents):
        return True
    return None


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
