"""zoo: a Keras 3 model zoo with transfer-learning recipes and LiteRT deployment.

Example:
    >>> import zoo
    >>> zoo.list_models(task="classification", pattern="resnet*")
    >>> model = zoo.get("vgg16", weights=None, classes=10, input_shape=(64, 64, 3))
    >>> zoo.info("resnet50")["num_params"]
"""

from zoo import classification, detection, generative, segmentation, text  # noqa: E402,F401  (registers models)
from zoo.modelinfo import info  # noqa: E402
from zoo.preprocessing import preprocess  # noqa: E402
from zoo.registry import UnknownModelError, get, list_models, register

__version__ = "0.1.0"
__all__ = ["get", "list_models", "info", "register", "preprocess", "UnknownModelError", "__version__"]
