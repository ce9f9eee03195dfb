"""Input preprocessing matching each weight set, and ImageNet label decoding.

Modes (as keras.applications names them):

- ``"caffe"``: RGB -> BGR, subtract the ImageNet mean per channel, no scaling (VGG16/19
  and ResNet50/101/152 ImageNet weights).
- ``"tf"`` / ``"inception"``: scale pixels to [-1, 1] (Inception v3).
- ``"torch"``: scale to [0, 1], then normalise with the ImageNet mean and std
  (torchvision-style models).

``preprocess(name, weights="torchvision")`` (or a torchvision weight-set name) returns the
whole transform those weights were evaluated with (:class:`TorchvisionTransform`: resize the
shorter side, center crop, scale, normalise), from the published data in
``zoo/data/torchvision_weights.json``.

Every function takes RGB pixels in [0, 255], channels-last, and uses keras.ops, so it
runs on any backend and can be folded into an exported graph.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
from keras import ops

from zoo.registry import entry

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)
MODES = ("caffe", "tf", "inception", "torch", "unit", "none")


def preprocess_input(x: Any, mode: str = "caffe") -> Any:
    """Preprocesses RGB images in [0, 255] (channels-last) for the given weight set.

    Example:
        >>> preprocess_input(np.full((1, 2, 2, 3), 255.0), mode="tf").max()
        1.0
    """
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    if x.shape[-1] != 3 and mode in ("caffe", "torch"):
        raise ValueError(f"preprocess mode {mode!r} needs 3-channel RGB images, got shape {tuple(x.shape)}")
    if mode == "caffe":
        return ops.flip(x, axis=-1) - ops.convert_to_tensor(CAFFE_MEAN_BGR, "float32")
    if mode in ("tf", "inception"):
        return x / 127.5 - 1.0
    if mode == "torch":
        mean = ops.convert_to_tensor(TORCH_MEAN, "float32")
        std = ops.convert_to_tensor(TORCH_STD, "float32")
        return (x / 255.0 - mean) / std
    if mode == "unit":  # models trained on [0, 1] images (the recipes' small models)
        return x / 255.0
    if mode == "none":
        return x
    raise ValueError(f"Unknown preprocessing mode {mode!r}; choose from {', '.join(MODES)}")


class TorchvisionTransform:
    """torchvision's ``ImageClassification`` transform with keras.ops: RGB [0, 255] images
    (one [H, W, 3] or a batch) -> resized (shorter side ``resize_size``), center-cropped to
    ``crop_size``, scaled to [0, 1] and normalised with ``mean``/``std``; channels-last.

    Example:
        >>> t = zoo.preprocess("resnet50", weights="IMAGENET1K_V2")  # resize 232, crop 224
        >>> t(np.zeros((480, 640, 3), "uint8")).shape
        (1, 224, 224, 3)
    """

    def __init__(
        self,
        resize_size: int,
        crop_size: int,
        mean: tuple[float, ...] = TORCH_MEAN,
        std: tuple[float, ...] = TORCH_STD,
        interpolation: str = "bilinear",
    ) -> None:
        self.resize_size, self.crop_size = int(resize_size), int(crop_size)
        self.mean, self.std, self.interpolation = tuple(mean), tuple(std), interpolation

    def __repr__(self) -> str:
        return (
            f"TorchvisionTransform(resize_size={self.resize_size}, crop_size={self.crop_size}, "
            f"mean={self.mean}, std={self.std}, interpolation={self.interpolation!r})"
        )

    def __call__(self, images: Any) -> Any:
        x = ops.cast(ops.convert_to_tensor(images), "float32")
        if len(x.shape) == 3:
            x = x[None]
        h, w = int(x.shape[1]), int(x.shape[2])
        short, long = min(h, w), max(h, w)
        new_long = int(self.resize_size * long / short)
        size = (self.resize_size, new_long) if h <= w else (new_long, self.resize_size)
        x = ops.image.resize(x, size, interpolation=self.interpolation, antialias=True)
        top = int(round((size[0] - self.crop_size) / 2.0))
        left = int(round((size[1] - self.crop_size) / 2.0))
        x = x[:, top : top + self.crop_size, left : left + self.crop_size, :]
        mean = ops.convert_to_tensor(self.mean, "float32")
        std = ops.convert_to_tensor(self.std, "float32")
        return (x / 255.0 - mean) / std


def preprocess(name: str, weights: str | None = None) -> Callable[[Any], Any]:
    """Returns the preprocessing function for registered model ``name``'s weights.

    Args:
        name: registered model name.
        weights: None (the default weights' mode), or ``"torchvision"`` / a torchvision
            weight-set name (``"IMAGENET1K_V2"``): that set's published transform.

    Example:
        >>> fn = zoo.preprocess("vgg16")   # caffe mode
        >>> batch = fn(images_uint8)
        >>> tv = zoo.preprocess("resnet50", weights="torchvision")   # resize 232, crop 224, mean/std
    """
    e = entry(name)
    if weights is not None:
        from zoo.weights_torch import torchvision_weights

        model = e.references.get("torchvision_model")
        if model is None:
            raise ValueError(
                f"{name!r} has no torchvision weights; call zoo.preprocess({name!r}) without weights"
            )
        t = torchvision_weights(model, weights, name=name).transforms
        if "crop_size" not in t:
            raise ValueError(f"{name!r} {weights!r}: {t.get('scale', 'no classification transform')}")
        return TorchvisionTransform(t["resize_size"], t["crop_size"], t["mean"], t["std"], t["interpolation"])
    mode = e.preprocess or "none"
    fn = functools.partial(preprocess_input, mode=mode)
    fn.__doc__ = f"Preprocessing for {name!r} ({mode!r} mode): RGB in [0, 255] -> model input."
    return fn


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> list[tuple[str, str]]:
    """The 1000 ImageNet classes as (WordNet id, name), in the index order of the weights."""
    text = resources.files("zoo.data").joinpath("imagenet_class_index.json").read_text()
    index = json.loads(text)
    return [tuple(index[str(i)]) for i in range(len(index))]


@functools.lru_cache(maxsize=1)
def coco_category_names() -> tuple[str, ...]:
    """torchvision's 91 COCO category names by class id (0 ``__background__``, unused ids ``N/A``).

    Example:
        >>> coco_category_names()[1]
        'person'
    """
    text = resources.files("zoo.data").joinpath("coco_names.txt").read_text()
    return tuple(line for line in text.splitlines() if line)


def decode_predictions(preds: Any, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """Decodes ImageNet probabilities [B, 1000] into (wnid, name, score) lists, best first.

    Works offline (the class index is bundled with the zoo).
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(
            f"decode_predictions expects a batch of 1000 ImageNet scores, got shape {preds.shape}"
        )
    classes = imagenet_classes()
    out = []
    for row in preds:
        best = np.argsort(row)[::-1][:top]
        out.append([(*classes[i], float(row[i])) for i in best])
    return out
