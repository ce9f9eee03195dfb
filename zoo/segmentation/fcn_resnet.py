"""FCN with a dilated ResNet body: torchvision's ``fcn_resnet50`` / ``fcn_resnet101`` (COCO checkpoints load).

The network of ``torchvision.models.segmentation.fcn_resnet50`` (Long et al.'s FCN head on a ResNet
whose layer3 and layer4 use dilation 2 and 4 instead of stride, output stride 8):

- body: ``zoo.detection.fpn.resnet_body(depth, dilation=(False, True, True))`` (torchvision's layout,
  the ResNet classifiers' layer names; BatchNorm eps 1e-5);
- head (``classifier_*``): 3x3 conv 2048 -> 512 without bias, BatchNorm, ReLU, dropout 0.1, 1x1
  conv to the class logits; the auxiliary head (``aux_classifier_*``, on layer3, 1024 -> 256) the
  same, used in training only (torchvision's ``aux_loss``: total = main + 0.5 aux);
- both upsampled bilinearly (half-pixel centres, torch's ``align_corners=False``) to the input size.

Input: RGB 0..255 of any size; torchvision's mean/std normalisation is inside the model. Output:
per-pixel class logits [B, H, W, num_classes] (with ``aux=True``: ``{"out", "aux"}``, and
``predict`` returns ``out``). COCO_WITH_VOC_LABELS_V1: the 21 VOC classes (background first).

Example:
    >>> model = zoo.get("fcn_resnet50", weights="torchvision")      # 21 VOC classes
    >>> model.predict(photos_520).argmax(-1)                         # class map
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from zoo.detection.fpn import BN_EPSILON, resnet_body
from zoo.registry import register, resolve_num_classes

PAPER = "Long, Shelhamer & Darrell, FCN, CVPR 2015 (torchvision's dilated ResNet form; Yu & Koltun 2016)"
TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)
VOC_CLASSES = (
    "__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip


def _fcn_head(x: Any, num_classes: int, name: str) -> Any:
    """torchvision's ``FCNHead``: conv3x3 (C -> C/4, no bias), BN, ReLU, dropout 0.1, conv1x1."""
    x = keras.layers.Conv2D(x.shape[-1] // 4, 3, padding="same", use_bias=False, name=f"{name}_0")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name=f"{name}_1")(x)
    x = keras.layers.ReLU(name=f"{name}_2")(x)
    x = keras.layers.Dropout(0.1, name=f"{name}_3")(x)
    return keras.layers.Conv2D(num_classes, 1, name=f"{name}_4")(x)


def _upsample(x: Any, size: tuple[int, int], name: str) -> Any:
    return keras.layers.Resizing(size[0], size[1], interpolation="bilinear", name=name)(x)


@keras.saving.register_keras_serializable(package="zoo")
class FCNResNet(keras.Model):
    """FCN on a dilated ResNet (see the module docstring).

    Args:
        num_classes: classes including the background (VOC: 21).
        image_shape: (height, width, 3); fixed, since the logits are resized to it.
        depth: 50 or 101.
        aux: add the auxiliary head on layer3 (its loss weighs 0.5 in ``fit``).
        class_names: optional ``num_classes`` names.
    """

    def __init__(
        self,
        num_classes: int = 21,
        image_shape: Sequence[int] = (520, 520, 3),
        depth: int = 50,
        aux: bool = False,
        class_names: Sequence[str] | None = None,
        **kwargs: Any,
    ):
        h, w, c = (int(v) for v in image_shape)
        if c != 3 or min(h, w) < 32:
            raise ValueError(f"image_shape must be (height >= 32, width >= 32, 3), got {tuple(image_shape)}")
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be >= 2 (background + classes), got {num_classes}")
        image = keras.Input((h, w, 3), name="image")
        x = keras.layers.Normalization(
            mean=[255.0 * m for m in TORCHVISION_MEAN],
            variance=[(255.0 * s) ** 2 for s in TORCHVISION_STD],
            name="image_normalization",
        )(image)
        _, _, c4, c5 = resnet_body(x, depth, dilation=(False, True, True), frozen_bn=False)
        out = _upsample(_fcn_head(c5, int(num_classes), "classifier"), (h, w), "out")
        outputs: Any = out
        if aux:
            outputs = {
                "out": out,
                "aux": _upsample(_fcn_head(c4, int(num_classes), "aux_classifier"), (h, w), "aux"),
            }
        kwargs.setdefault("name", f"fcn_resnet{depth}")
        super().__init__(inputs=image, outputs=outputs, **kwargs)
        self.num_classes = int(num_classes)
        self.image_shape = (h, w, 3)
        self.depth = int(depth)
        self.aux = bool(aux)
        self.class_names = None if class_names is None else tuple(class_names)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss on ``out``, plus 0.5 times it on ``aux`` (torchvision's training)."""
        if not self.aux:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        loss_fn = keras.losses.get(self.loss) if isinstance(self.loss, str) else self.loss
        if loss_fn is None:
            raise ValueError("compile FCNResNet with a loss, e.g. zoo.segmentation.losses.SegmentationLoss()")
        total = loss_fn(y, y_pred["out"]) + 0.5 * loss_fn(y, y_pred["aux"])
        for extra in self.losses:
            total = total + ops.sum(extra)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """The compiled metrics on ``out`` (the auxiliary head is a training aid)."""
        return super().compute_metrics(x, y, y_pred["out"] if self.aux else y_pred, sample_weight)

    def predict_step(self, data: Any) -> Any:
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        out = self(x, training=False)
        return out["out"] if self.aux else out

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "image_shape": self.image_shape,
            "depth": self.depth,
            "aux": self.aux,
            "class_names": None if self.class_names is None else list(self.class_names),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> FCNResNet:
        return cls(**config)


def _create_fcn_resnet(
    name: str,
    num_classes: int | None = None,
    input_shape: Sequence[int] = (520, 520, 3),
    weights: Any = None,
    aux: bool | None = None,
    classes: int | None = None,
) -> FCNResNet:
    """The one FCN-ResNet creator: ``DEFAULT_CFGS[name]`` + the arguments of ``fcn_resnet50``."""
    depth = DEFAULT_CFGS[name]["depth"]
    num_classes = int(resolve_num_classes(num_classes, classes, default=21))
    torch_weights = weights is not None and not str(weights).endswith(".weights.h5")
    aux = torch_weights if aux is None else bool(aux)  # the COCO checkpoints hold the auxiliary head
    names = VOC_CLASSES if num_classes == 21 else None
    model = FCNResNet(num_classes, tuple(input_shape), depth, aux=aux, class_names=names)
    if weights is None:
        return model
    if str(weights).endswith(".weights.h5"):
        model.load_weights(weights)
        return model
    from zoo.segmentation.fcn_resnet_weights import load_torchvision_weights

    return load_torchvision_weights(model, name, weights)


#: One entry per public name: the ResNet depth and torchvision's COCO_WITH_VOC_LABELS_V1 numbers.
DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "fcn_resnet50": {"depth": 50, "miou": 60.5, "pixel_acc": 91.4},
    "fcn_resnet101": {"depth": 101, "miou": 63.7, "pixel_acc": 91.9},
}


def _register(name: str) -> Any:
    """``register`` with ``DEFAULT_CFGS[name]``'s entry data; the builder gets the creator's signature."""
    cfg = DEFAULT_CFGS[name]
    refs = {
        "coco_voc_miou": cfg["miou"],
        "coco_voc_pixel_acc": cfg["pixel_acc"],
        "coco_voc_source": f"torchvision FCN_ResNet{cfg['depth']}_Weights.COCO_WITH_VOC_LABELS_V1 (COCO val2017, VOC classes)",
    }
    params = list(inspect.signature(_create_fcn_resnet).parameters.values())[1:]

    def decorator(fn: Any) -> Any:
        fn.__signature__ = inspect.Signature(params, return_annotation=FCNResNet)
        return register(
            name,
            task="segmentation",
            paper=PAPER,
            input_shape=(520, 520, 3),
            weights=("torchvision", "COCO_WITH_VOC_LABELS_V1"),
            references=refs,
            preprocess="none",
        )(fn)

    return decorator


@_register("fcn_resnet50")
def fcn_resnet50(**kwargs: Any) -> FCNResNet:
    """FCN-ResNet-50 (dilated, output stride 8; torchvision COCO_WITH_VOC_LABELS_V1: mIoU 60.5).

    Args:
        num_classes: classes with the background (21 VOC classes by default); ``classes`` too.
        input_shape: (height, width, 3).
        weights: None, ``"torchvision"`` / ``"COCO_WITH_VOC_LABELS_V1"``, a ``.pth`` or ``.weights.h5``.
        aux: the auxiliary head (default: on with torchvision weights, which hold it).

    Example:
        >>> model = zoo.get("fcn_resnet50", num_classes=3, input_shape=(64, 64, 3))
    """
    return _create_fcn_resnet("fcn_resnet50", **kwargs)


@_register("fcn_resnet101")
def fcn_resnet101(**kwargs: Any) -> FCNResNet:
    """FCN-ResNet-101 (torchvision COCO_WITH_VOC_LABELS_V1: mIoU 63.7). Arguments as ``fcn_resnet50``.

    Example:
        >>> model = zoo.get("fcn_resnet101", num_classes=3, input_shape=(64, 64, 3))
    """
    return _create_fcn_resnet("fcn_resnet101", **kwargs)
