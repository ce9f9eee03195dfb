"""Shared test set-up: quiet TensorFlow, a fresh Keras session per test, tiny image helper."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _wants_torch() -> bool:
    """True when this run selects the torch-marked parity tests (``make test-torch``)."""
    import sys

    argv = " ".join(sys.argv)
    return "torch" in argv.split("-m", 1)[-1] if "-m" in argv else False


# torch and torchvision must be imported before TensorFlow in one process (the reverse segfaults),
# so the torch parity run imports them here, before keras.
if _wants_torch():
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        pass
else:
    # Parity tests import torch at module level: collecting them after keras would crash.
    collect_ignore_glob = ["torch/*"]

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
