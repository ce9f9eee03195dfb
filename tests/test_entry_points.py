"""Bad input at the public entry points ``zoo.get`` and ``zoo.detection.detect`` gives clear errors
(the cases of docs/RESULTS.md, "Reliability")."""

import numpy as np
import pytest

import zoo
from zoo.detection import detect
from zoo.detection.base import Detector

VGG = dict(weights=None, input_shape=(32, 32, 3))


@pytest.mark.parametrize(
    "name, kwargs, error, text",
    [
        ("resnet_50", {}, zoo.UnknownModelError, "Did you mean: resnet50"),
        (50, {}, TypeError, "Model name must be a string"),
        ("vgg11", dict(VGG, clases=3), TypeError, "unknown keyword argument.*clases.*Accepted"),
        ("vgg11", dict(VGG, classes="10"), ValueError, "classes must be a positive integer"),
        ("vgg11", dict(VGG, classes=0), ValueError, "classes must be a positive integer"),
        ("vgg11", dict(VGG, classes=2.5), ValueError, "classes must be a positive integer"),
        ("vgg11", dict(weights=None, input_shape=(32, 32)), ValueError, r"\(height, width, channels\)"),
        ("vgg11", dict(weights=None, input_shape=(8, 8, 3)), ValueError, "too small"),
        ("vgg11", dict(VGG, weights="/nonexistent/w.h5"), Exception, "Weight file not found"),
        ("vgg11", dict(VGG, include_top=False, pooling="maxx"), ValueError, "pooling must be"),
        ("ssd_vgg16", dict(num_classes=1), ValueError, "num_classes must be an integer >= 2"),
        ("ssd_vgg16", dict(num_classes="3"), ValueError, "num_classes must be an integer >= 2"),
    ],
)
def test_zoo_get_bad_arguments(name, kwargs, error, text):
    with pytest.raises(error, match=text):
        zoo.get(name, **kwargs)


class _Detector(Detector):
    """A zoo detector (the contract's mixin) whose network must never run: the input checks come first."""

    name = "fake"
    image_size = (32, 32)

    def detect_batch(self, images, **kwargs):  # pragma: no cover - never reached here
        raise AssertionError("detect_batch must not run on bad input")


@pytest.mark.parametrize(
    "images, text",
    [
        (np.zeros((50, 70)), r"images must be one image \[H, W, 3\]"),
        (np.zeros((50, 70, 4)), r"Image 0 must have shape \[H, W, 3\] \(RGB\)"),
        ([], "images is empty"),
        (np.zeros((0, 70, 3)), "Image 0 is empty"),
        (np.full((5, 7, 3), np.nan), "Image 0 contains NaN or inf"),
        (np.full((5, 7, 3), "a"), "must hold real numbers"),
        ([np.zeros((5, 7, 3)), np.zeros((5, 7))], r"Image 1 must have shape"),
    ],
)
def test_detect_refuses_bad_images(images, text):
    with pytest.raises(ValueError, match=text):
        detect(_Detector(), images)


def test_detect_refuses_non_detectors_and_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        detect(_Detector(), np.zeros((5, 7, 3)), batch_size=0)
    with pytest.raises(ValueError, match="is not a zoo detector"):
        detect(object(), np.zeros((5, 7, 3)))
