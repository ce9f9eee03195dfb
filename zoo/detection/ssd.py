"""SSD: Single Shot MultiBox Detector with a VGG16 body (Liu et al., ECCV 2016).

Variants are data: ``CONFIGS`` holds SSD300 and SSD512 (extra layers, source maps, default boxes
per location, scales); one private builder makes both. The network is the paper's Fig. 2:

- VGG16 (configuration D of ``zoo.classification.vgg.CONFIGS``) with keras.applications layer
  names (``block1_conv1`` ... ``block5_conv3``), so ImageNet VGG16 "notop" weights load by name.
  Its 2x2 max-pools round up (Caffe's ceil mode, ``padding="same"`` here): 300 -> 150 -> 75 -> 38,
  the paper's 38x38 conv4_3. pool5 is 3x3 with stride 1.
- fc6 as a 3x3 convolution dilated by 6 with 1024 filters, fc7 as a 1x1 convolution with 1024.
- conv4_3 is L2-normalised with a learned per-channel scale initialised to 20 (``conv4_3_norm``).
- Extra layers ``conv8_1``/``conv8_2`` ... ``conv11_1``/``conv11_2`` (SSD512 adds ``conv12``).
- A 3x3 convolution per source map predicts, for every default box, ``num_classes`` logits
  (``<source>_mbox_conf``; class 0 is the background) and 4 box offsets (``<source>_mbox_loc``).

SSD300 has six source maps 38, 19, 10, 5, 3, 1 with 4, 6, 6, 6, 4, 4 default boxes per cell:
8732 boxes; SSD512 has seven (64 ... 1): 24564. The model outputs raw ``class_logits``
[B, N, num_classes] and ``box_deltas`` [B, N, 4] (SSD's variances 0.1/0.2, i.e. weights
``SSD_WEIGHTS``) for training, prediction and export alike; ``detect`` (zoo.detection.postprocess)
turns them into boxes, scores and classes in the original images' pixels.

Input: RGB images, float 0..255, of the size the model was built for (``model.image_size``). The
VGG mean is subtracted inside the model (``image_normalization``); ImageNet VGG16 weights were
trained on BGR input, so loading them reverses block1_conv1's input channels once.

Smaller inputs (for CPU training and tests) use the same layers and weights: the source-map sizes
and the default boxes follow from the input size (read from the built model), and where a map
becomes smaller than a 3x3 "valid" convolution of the paper (conv10_2, conv11_2) that
convolution is zero-padded just enough to keep a 1x1 output. Inputs under ``min_size`` pixels
raise a ``ValueError``. A ``width`` multiplier (default 1, the paper) scales every convolution of
the body and the extra layers; only width 1 takes ImageNet weights.
"""

from __future__ import annotations

import math
import os
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo import weights_torch
from zoo.classification.vgg import scaled_filters as _scaled
from zoo.classification.vgg import vgg_features
from zoo.detection.base import (
    Detector,
    PostprocessConfig,
    caffe_normalization,
    check_kwargs,
    flip_input_channels,
)
from zoo.detection.losses import multibox_loss, scale_loss_for_replicas
from zoo.layers import L2Normalization
from zoo.ops import anchors as anchor_ops
from zoo.ops.boxes import SSD_WEIGHTS
from zoo.registry import register, resolve_num_classes
from zoo.weights import WeightsError, imagenet_file, load_by_name, load_weights

PAPER = "Liu et al., SSD: Single Shot MultiBox Detector, ECCV 2016"

# An extra layer: (name, filters, kernel, stride, zero padding). Paper Fig. 2 / the authors' Caffe model.
CONFIGS: dict[str, dict[str, Any]] = {
    "ssd300": {
        "image_size": 300,
        "extras": [
            ("conv8_1", 256, 1, 1, 0), ("conv8_2", 512, 3, 2, 1),
            ("conv9_1", 128, 1, 1, 0), ("conv9_2", 256, 3, 2, 1),
            ("conv10_1", 128, 1, 1, 0), ("conv10_2", 256, 3, 1, 0),
            ("conv11_1", 128, 1, 1, 0), ("conv11_2", 256, 3, 1, 0),
        ],
        "sources": ("conv4_3_norm", "fc7", "conv8_2", "conv9_2", "conv10_2", "conv11_2"),
        "boxes_per_location": (4, 6, 6, 6, 4, 4),
        "s_min": 0.2,
        "s_max": 0.9,
        "num_boxes": 8732,
        "min_size": 32,
    },
    "ssd512": {
        "image_size": 512,
        "extras": [
            ("conv8_1", 256, 1, 1, 0), ("conv8_2", 512, 3, 2, 1),
            ("conv9_1", 128, 1, 1, 0), ("conv9_2", 256, 3, 2, 1),
            ("conv10_1", 128, 1, 1, 0), ("conv10_2", 256, 3, 2, 1),
            ("conv11_1", 128, 1, 1, 0), ("conv11_2", 256, 3, 2, 1),
            ("conv12_1", 128, 1, 1, 0), ("conv12_2", 256, 4, 1, 1),
        ],
        "sources": ("conv4_3_norm", "fc7", "conv8_2", "conv9_2", "conv10_2", "conv11_2", "conv12_2"),
        "boxes_per_location": (4, 6, 6, 6, 6, 4, 4),
        "s_min": 0.15,
        "s_max": 0.9,
        "num_boxes": 24564,
        "min_size": 32,
    },
}  # fmt: skip


def _check_input_shape(input_shape: Any, variant: str) -> tuple[int, int, int]:
    cfg = CONFIGS[variant]
    try:
        h, w, c = (None if v is None else int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{variant}: input_shape must be (height, width, 3), got {input_shape!r}") from None
    if h is None or w is None:
        raise ValueError(
            f"{variant}: input_shape {tuple(input_shape)} must have a fixed height and width; the default "
            "boxes depend on the feature-map sizes. Resize images to one size (zoo.detection.detect does)."
        )
    if c != 3:
        raise ValueError(f"{variant}: input must have 3 (RGB) channels, got {c}")
    if min(h, w) < cfg["min_size"]:
        raise ValueError(
            f"{variant}: input size {h}x{w} is too small; SSD needs at least {cfg['min_size']}x{cfg['min_size']} "
            f"pixels (the paper uses {cfg['image_size']}x{cfg['image_size']})."
        )
    return h, w, c


def _conv(x: Any, filters: int, kernel: int, name: str, **kwargs: Any) -> Any:
    return keras.layers.Conv2D(filters, kernel, activation="relu", name=name, **kwargs)(x)


def _network(
    image: Any,
    num_classes: int,
    variant: str,
    width: float,
    boxes_per_location: tuple[int, ...],
    mean: tuple[float, ...] | None = None,
) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """Builds the SSD graph on ``image``; returns (outputs dict, source-map sizes)."""
    cfg = CONFIGS[variant]
    if mean is None:
        x = caffe_normalization(image)
    else:  # another RGB mean (torchvision's COCO SSD300: 123, 117, 104)
        x = keras.layers.Normalization(mean=list(mean), variance=[1.0] * 3, name="image_normalization")(image)
    features: dict[str, Any] = {}
    taps: dict[str, Any] = {}
    # VGG16's blocks 1-5 with Caffe's ceil-mode pooling (38x38 conv4_3 at 300 px), no pool5
    x = vgg_features(x, "D", last_pool=False, width=width, pool_padding="same", taps=taps)
    features["conv4_3"] = taps["block4"]
    x = keras.layers.MaxPooling2D(3, strides=1, padding="same", name="pool5")(x)
    x = _conv(x, _scaled(1024, width), 3, "fc6", padding="same", dilation_rate=6)
    x = features["fc7"] = _conv(x, _scaled(1024, width), 1, "fc7")
    features["conv4_3_norm"] = L2Normalization(scale=20.0, name="conv4_3_norm")(features["conv4_3"])
    for name, filters, kernel, stride, pad in cfg["extras"]:
        size = min(x.shape[1], x.shape[2])
        # The paper's padding; more only where a map is smaller than the kernel (small inputs).
        pad = max(pad, math.ceil((kernel - size) / 2))
        if pad:
            x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        x = features[name] = _conv(x, _scaled(filters, width), kernel, name, strides=stride)
    logits, deltas, sizes = [], [], []
    for source, k in zip(cfg["sources"], boxes_per_location):
        f = features[source]
        h, w = int(f.shape[1]), int(f.shape[2])
        sizes.append((h, w))
        conf = keras.layers.Conv2D(k * num_classes, 3, padding="same", name=f"{source}_mbox_conf")(f)
        loc = keras.layers.Conv2D(k * 4, 3, padding="same", name=f"{source}_mbox_loc")(f)
        logits.append(keras.layers.Reshape((h * w * k, num_classes), name=f"{source}_mbox_conf_flat")(conf))
        deltas.append(keras.layers.Reshape((h * w * k, 4), name=f"{source}_mbox_loc_flat")(loc))
    outputs = {
        "class_logits": keras.layers.Concatenate(axis=1, name="class_logits")(logits),
        "box_deltas": keras.layers.Concatenate(axis=1, name="box_deltas")(deltas),
    }
    return outputs, sizes


def ssd_default_boxes_for(
    variant: str, image_size: tuple[int, int], feature_sizes: list[tuple[int, int]]
) -> np.ndarray:
    """Default boxes [N, 4] (xyxy pixels) of ``variant`` for an image size and its source-map sizes.

    Example:
        >>> ssd_default_boxes_for("ssd300", (300, 300), [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]).shape
        (8732, 4)
    """
    cfg = CONFIGS[variant]
    boxes = anchor_ops.ssd_default_boxes(
        image_size,
        feature_sizes,
        boxes_per_location=cfg["boxes_per_location"],
        s_min=cfg["s_min"],
        s_max=cfg["s_max"],
    )
    return np.asarray(boxes, dtype="float32")


# torchvision's SSD300 (ssd300_vgg16, COCO_V1): its default boxes differ from the paper's (scales,
# steps, width/height clipped to the image) and its mean is (123, 117, 104) = 255 x its Normalize mean.
TORCHVISION_SSD300 = {
    "scales": (0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05),
    "steps": (8, 16, 32, 64, 100, 300),
    "mean": tuple(255.0 * m for m in (0.48235, 0.45882, 0.40784)),
    "postprocess": {
        "score_threshold": 0.01,
        "iou_threshold": 0.45,
        "max_detections": 200,
        "pre_nms_top_k": 400,
    },
}


def torchvision_default_boxes(
    image_size: tuple[int, int],
    feature_sizes: list[tuple[int, int]],
    boxes_per_location: tuple[int, ...],
    scales: tuple[float, ...],
    steps: tuple[float, ...],
) -> np.ndarray:
    """torchvision's ``DefaultBoxGenerator`` (clip=True) as [N, 4] xyxy pixels.

    Per map k: sizes s_k and sqrt(s_k s_{k+1}), then (s_k sqrt(r), s_k / sqrt(r)) and its transpose
    for r in (2,) (4 boxes) or (2, 3) (6 boxes); widths/heights clipped to [0, 1]; centres
    (j + 0.5) * step / image size; all scaled by the image size.

    Example:
        >>> torchvision_default_boxes((300, 300), [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
        ...                           (4, 6, 6, 6, 4, 4), TORCHVISION_SSD300["scales"], TORCHVISION_SSD300["steps"]).shape
        (8732, 4)
    """
    img_h, img_w = image_size
    if len(scales) != len(feature_sizes) + 1 or len(steps) != len(feature_sizes):
        raise ValueError(f"scales needs {len(feature_sizes) + 1} entries and steps {len(feature_sizes)}")
    out = []
    for k, ((fh, fw), n) in enumerate(zip(feature_sizes, boxes_per_location)):
        s, s_next = scales[k], scales[k + 1]
        wh = [(s, s), (math.sqrt(s * s_next),) * 2]
        for r in (2.0,) if n == 4 else (2.0, 3.0):
            wh += [(s * math.sqrt(r), s / math.sqrt(r)), (s / math.sqrt(r), s * math.sqrt(r))]
        wh = np.clip(np.asarray(wh, np.float64), 0.0, 1.0) * np.array([img_w, img_h])
        cy, cx = np.meshgrid(
            (np.arange(fh) + 0.5) * steps[k], (np.arange(fw) + 0.5) * steps[k], indexing="ij"
        )
        centers = np.stack([cx.ravel(), cy.ravel()], -1)[:, None, :]
        half = wh[None] / 2.0
        out.append(np.concatenate([centers - half, centers + half], -1).reshape(-1, 4))
    return np.concatenate(out, 0).astype(np.float32)


@keras.saving.register_keras_serializable(package="zoo")
class SSD(Detector, keras.Model):
    """SSD detector: a functional Keras model with the multibox loss built in (a zoo ``Detector``).

    ``model(images)`` outputs ``{"class_logits": [B, N, num_classes], "box_deltas": [B, N, 4]}``
    (raw; class 0 is the background); ``model.predict(images)`` / ``detect_batch`` return the
    detections dict (softmax, decoding against ``default_boxes``, per-class NMS with the model's
    ``postprocess`` settings; defaults ``SSD.POSTPROCESS``: the paper's score 0.01, NMS 0.45, top 400).
    ``fit`` takes ``(images, targets)`` with targets = dict(boxes [B, G, 4] xyxy pixels
    of the model's input size, classes [B, G] int32 in 1..num_classes-1 (-1 pad), valid [B, G] bool),
    the batch format of ``zoo.data``; matching, hard negative mining and the loss happen in
    ``compute_loss``. Attributes: ``default_boxes`` [N, 4] (xyxy pixels; settable, which also
    updates the compiled post-processing), ``feature_sizes``, ``image_size`` (height, width),
    ``num_classes``, ``variant``.

    Args:
        num_classes, image_shape, variant, width: the network (see ``CONFIGS``).
        neg_pos_ratio, pos_iou: hard negative mining ratio and matching IoU of the loss.
        s_min, s_max, boxes_per_location: the default boxes (None: the variant's, the paper's).
        default_boxes: explicit [N, 4] boxes instead of generated ones (stored in the config).
        class_names, postprocess: the detector contract (``zoo.detection.base``).

    Build with ``zoo.get("ssd_vgg16", ...)``; compile with an optimizer only (no ``loss=``).

    Example:
        >>> model = zoo.get("ssd_vgg16", num_classes=4, input_shape=(96, 96, 3))
        >>> model.compile(optimizer="adam")
        >>> model.fit(zoo.data.shapes.shapes_dataset(image_size=96), steps_per_epoch=10)
    """

    POSTPROCESS = PostprocessConfig(
        score_threshold=0.01, iou_threshold=0.45, max_detections=100, pre_nms_top_k=400
    )
    anchor_based = True
    box_weights = SSD_WEIGHTS

    def __init__(
        self,
        num_classes: int = 21,
        image_shape: tuple[int, int, int] = (300, 300, 3),
        variant: str = "ssd300",
        width: float = 1.0,
        neg_pos_ratio: float = 3.0,
        pos_iou: float = 0.5,
        s_min: float | None = None,
        s_max: float | None = None,
        boxes_per_location: tuple[int, ...] | None = None,
        default_boxes: Any = None,
        class_names: tuple[str, ...] | None = None,
        postprocess: dict[str, Any] | None = None,
        scales: tuple[float, ...] | None = None,
        steps: tuple[float, ...] | None = None,
        mean: tuple[float, ...] | None = None,
        **kwargs: Any,
    ):
        if variant not in CONFIGS:
            raise ValueError(f"Unknown SSD variant {variant!r}; choose from {', '.join(CONFIGS)}")
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
            raise ValueError(
                f"num_classes must be an integer >= 2 (object classes + the background class 0), got {num_classes!r}"
            )
        if not float(width) > 0:
            raise ValueError(f"width must be positive, got {width}")
        cfg = CONFIGS[variant]
        self_boxes = {
            "s_min": float(cfg["s_min"] if s_min is None else s_min),
            "s_max": float(cfg["s_max"] if s_max is None else s_max),
            "boxes_per_location": tuple(int(k) for k in (boxes_per_location or cfg["boxes_per_location"])),
        }
        # torchvision's default boxes (explicit scales and steps) instead of the paper's formula
        tv_boxes = {"scales": scales, "steps": steps} if scales is not None else {}
        if len(self_boxes["boxes_per_location"]) != len(cfg["sources"]):
            raise ValueError(
                f"boxes_per_location needs one entry per source map ({len(cfg['sources'])}), "
                f"got {self_boxes['boxes_per_location']}"
            )
        h, w, c = _check_input_shape(image_shape, variant)
        image = keras.Input((h, w, c), name="image")
        outputs, sizes = _network(
            image, int(num_classes), variant, float(width), self_boxes["boxes_per_location"], mean
        )
        kwargs.setdefault("name", f"{variant}_vgg16")
        super().__init__(inputs=image, outputs=outputs, **kwargs)
        self.init_detector(num_classes, (h, w), class_names=class_names, postprocess=postprocess)
        self.image_shape = (h, w, c)
        self.variant = variant
        self.width = float(width)
        self.neg_pos_ratio = float(neg_pos_ratio)
        self.pos_iou = float(pos_iou)
        self.box_config = {**self_boxes, **tv_boxes, "mean": None if mean is None else tuple(mean)}
        self.feature_sizes = sizes
        self.num_default_boxes = sum(
            fh * fw * k for (fh, fw), k in zip(sizes, self_boxes["boxes_per_location"])
        )
        explicit = default_boxes is not None
        if not explicit and tv_boxes:
            default_boxes = torchvision_default_boxes(
                (h, w), sizes, self_boxes["boxes_per_location"], **tv_boxes
            )
        elif not explicit:
            default_boxes = anchor_ops.ssd_default_boxes((h, w), sizes, **self_boxes)
        self.default_boxes = default_boxes
        object.__setattr__(self, "_explicit_boxes", explicit)  # generated boxes follow from the config
        self.cls_loss_tracker = keras.metrics.Mean(name="cls_loss")
        self.box_loss_tracker = keras.metrics.Mean(name="box_loss")

    @property
    def default_boxes(self) -> np.ndarray:
        """Default boxes [N, 4], xyxy pixels of ``image_size`` (anchors of ``box_deltas``)."""
        return self._default_boxes

    @default_boxes.setter
    def default_boxes(self, boxes: Any) -> None:
        boxes = np.array(boxes, dtype="float32")
        if boxes.shape != (self.num_default_boxes, 4):
            raise ValueError(
                f"default_boxes must have shape ({self.num_default_boxes}, 4) (the heads' boxes), got {boxes.shape}"
            )
        boxes.setflags(write=False)
        object.__setattr__(self, "_default_boxes", boxes)
        object.__setattr__(self, "_explicit_boxes", True)
        self.invalidate_compiled()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Multibox loss (zoo.detection.losses.multibox_loss) of a batch against padded ground truth."""
        if y is None:
            raise ValueError(
                "SSD.fit/evaluate need targets: pass (images, dict(boxes=[B, G, 4], classes=[B, G], valid=[B, G]))."
            )
        if not isinstance(y, dict) or "boxes" not in y or "classes" not in y:
            raise ValueError(
                "SSD targets must be a dict with 'boxes' [B, G, 4] (xyxy pixels), 'classes' [B, G] "
                f"and optionally 'valid' [B, G]; got {type(y).__name__}"
            )
        parts = multibox_loss(
            y_pred["class_logits"],
            y_pred["box_deltas"],
            self.default_boxes,
            y["boxes"],
            y["classes"],
            y.get("valid"),
            pos_iou=self.pos_iou,
            neg_pos_ratio=self.neg_pos_ratio,
            weights=self.box_weights,
        )
        self.cls_loss_tracker.update_state(parts["cls_loss"])
        self.box_loss_tracker.update_state(parts["box_loss"])
        loss = scale_loss_for_replicas(parts["loss"])
        for extra in self.losses:
            loss = loss + scale_loss_for_replicas(ops.sum(extra))
        return loss

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "image_shape": self.image_shape,
            "variant": self.variant,
            "width": self.width,
            "neg_pos_ratio": self.neg_pos_ratio,
            "pos_iou": self.pos_iou,
            **self.box_config,
            "default_boxes": self.default_boxes.tolist() if self._explicit_boxes else None,
            **self.detector_config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> SSD:
        config = dict(config)
        config["image_shape"] = tuple(config["image_shape"])
        return cls(**config)


def default_boxes_for(model: keras.Model) -> np.ndarray:
    """The default boxes (anchors) [N, 4], xyxy pixels of the model's input size, of a detector.

    Example:
        >>> default_boxes_for(zoo.get("ssd_vgg16")).shape
        (8732, 4)
    """
    boxes = getattr(model, "default_boxes", None)
    if boxes is None:
        raise ValueError(f"Model {model.name!r} has no default boxes (is it a zoo SSD model?)")
    return boxes


def _load_imagenet_backbone(model: SSD) -> None:
    if model.width != 1.0:
        raise WeightsError(
            f"weights='imagenet_backbone' needs width=1.0 (the VGG16 ImageNet layer shapes), got width={model.width}"
        )
    loaded = load_by_name(model, imagenet_file("vgg16", include_top=False), strict=False)
    if "block1_conv1" in loaded:  # keras.applications' VGG16 expects BGR input; this model takes RGB.
        flip_input_channels(model.get_layer("block1_conv1"))


# Per registered name (timm's default_cfgs): the variant, the input size and the paper's numbers.
DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "ssd_vgg16": {
        "variant": "ssd300",
        "input_shape": (300, 300, 3),
        "torchvision": "ssd300_vgg16",
        "references": {
            "torchvision_model": "ssd300_vgg16",
            "num_default_boxes": 8732,
            "voc07_map": 74.3,
            "voc07_map_source": "paper Table 1 (SSD300, VOC2007+2012 trainval)",
        },
    },
    "ssd512_vgg16": {
        "variant": "ssd512",
        "input_shape": (512, 512, 3),
        "references": {
            "num_default_boxes": 24564,
            "voc07_map": 76.8,
            "voc07_map_source": "paper Table 1 (SSD512, VOC2007+2012 trainval)",
        },
    },
}


def _create_ssd(
    name: str,
    num_classes: int | None = None,
    input_shape: Any = None,
    weights: Any = None,
    *,
    classes: int | None = None,
    **kwargs: Any,
) -> SSD:
    """The one SSD creator: ``DEFAULT_CFGS[name]`` + the builder's arguments (``SSD``'s keywords)."""
    cfg = DEFAULT_CFGS[name]
    layout = kwargs.pop("layout", "paper")
    check_kwargs(SSD, kwargs, name)
    if layout not in ("paper", "torchvision"):
        raise ValueError(f"{name}: layout must be 'paper' or 'torchvision', got {layout!r}")
    if layout == "torchvision" and not cfg.get("torchvision"):
        raise ValueError(f"{name}: torchvision has no such SSD; layout='torchvision' is for ssd300_vgg16")
    torch_weights = weights_torch.is_torch_file(weights) or (cfg.get("torchvision") and weights in _TV_SETS)
    if torch_weights or layout == "torchvision":
        return _torchvision_ssd(name, num_classes, classes, input_shape, weights, kwargs)
    n = resolve_num_classes(num_classes, classes, default=21)
    model = SSD(
        num_classes=n, image_shape=tuple(input_shape or cfg["input_shape"]), variant=cfg["variant"], **kwargs
    )
    if weights is None:
        return model
    if isinstance(weights, str) and weights == "imagenet_backbone":
        _load_imagenet_backbone(model)
        return model
    if isinstance(weights, str) and weights == "imagenet":
        raise WeightsError(
            "SSD has no ImageNet detection weights; use weights='imagenet_backbone' (VGG16 body only), None, or a path."
        )
    if isinstance(weights, (str, os.PathLike)):
        return load_weights(model, weights)
    raise WeightsError(f"weights must be None, 'imagenet_backbone' or a file path, got {weights!r}")


_TV_SETS = ("torchvision", *weights_torch.weight_sets("ssd300_vgg16"))


def torchvision_mapping(num_sources: int = 6) -> weights_torch.TorchMapping:
    """torchvision SSD300-VGG16 state-dict names -> zoo layers (all 36 convolutions and the L2Norm scale)."""
    body = ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1", "block3_conv2",
            "block3_conv3", "block4_conv1", "block4_conv2", "block4_conv3"]  # fmt: skip
    rows = [
        (f"backbone.features.{i}", layer, "conv")
        for i, layer in zip((0, 2, 5, 7, 10, 12, 14, 17, 19, 21), body)
    ]
    rows += [(f"backbone.extra.0.{i}", f"block5_conv{c}", "conv") for c, i in enumerate((1, 3, 5), start=1)]
    rows += [("backbone.extra.0.7.1", "fc6", "conv"), ("backbone.extra.0.7.3", "fc7", "conv")]
    for e in range(1, 5):
        rows += [
            (f"backbone.extra.{e}.0", f"conv{e + 7}_1", "conv"),
            (f"backbone.extra.{e}.2", f"conv{e + 7}_2", "conv"),
        ]
    rows.append(("backbone.scale_weight", "conv4_3_norm", "vector"))
    for i, source in enumerate(CONFIGS["ssd300"]["sources"][:num_sources]):
        rows += [(f"head.classification_head.module_list.{i}", f"{source}_mbox_conf", "conv"),
                 (f"head.regression_head.module_list.{i}", f"{source}_mbox_loc", "conv")]  # fmt: skip
    return weights_torch.TorchMapping(tuple(weights_torch.rules(rows)), layout="torchvision ssd300_vgg16")


def _torchvision_ssd(
    name: str, num_classes: Any, classes: Any, input_shape: Any, weights: Any, kwargs: dict[str, Any]
) -> SSD:
    """SSD300 in torchvision's configuration (default boxes, mean, COCO names, 200 detections) + its checkpoint."""
    from zoo.preprocessing import coco_category_names

    n = resolve_num_classes(num_classes, classes, default=91)
    if n != 91:
        raise ValueError(f"{name}: torchvision's COCO weights have 91 classes (background included), got {n}")
    if kwargs.get("width", 1.0) != 1.0:
        raise ValueError(f"{name}: torchvision weights need width=1.0")
    tv = TORCHVISION_SSD300
    settings = dict(scales=tv["scales"], steps=tv["steps"], mean=tv["mean"], postprocess=tv["postprocess"])
    settings["class_names"] = coco_category_names()
    model = SSD(num_classes=n, image_shape=tuple(input_shape or (300, 300, 3)), **{**settings, **kwargs})
    if weights is None:
        return model
    if not (weights_torch.is_torch_file(weights) or weights in _TV_SETS):  # e.g. convert-weights' .h5
        return load_weights(model, weights)
    return weights_torch.load_torch_weights(
        model, weights, torchvision_mapping(), torchvision_model="ssd300_vgg16"
    )


def _register(name: str, alias: str | None = None) -> Any:
    """``register`` with the entry data of ``DEFAULT_CFGS[name]`` (under ``alias`` if given)."""
    cfg = DEFAULT_CFGS[name]
    return register(
        alias or name,
        task="detection",
        paper=PAPER,
        input_shape=cfg["input_shape"],
        weights=("imagenet_backbone", *(_TV_SETS if cfg.get("torchvision") else ())),
        references=cfg["references"],
    )


@_register("ssd_vgg16")
def ssd_vgg16(
    num_classes: int | None = None,
    input_shape: tuple[int, int, int] | None = (300, 300, 3),
    weights: Any = None,
    width: float = 1.0,
    layout: str = "paper",
    **kwargs: Any,
) -> SSD:
    """SSD300 with a VGG16 body (paper Fig. 2): 6 source maps, 8732 default boxes at 300x300.

    Args:
        num_classes: classes including the background class 0 (PASCAL VOC: 21; ``classes=`` also works).
        input_shape: (height, width, 3); smaller sizes use the same layers (see the module docstring).
        weights: None, ``"imagenet_backbone"`` (keras.applications VGG16 notop weights into the body)
            or a path to a full SSD weight file (``model.save_weights``).
        width: channel multiplier of the body and extra layers (1.0 = the paper).
        layout: ``"paper"``, or ``"torchvision"``: torchvision's COCO configuration (default boxes, mean,
            91 COCO names, 200 detections), which torchvision weights select by themselves; give it to
            load a ``.weights.h5`` written by ``python -m zoo convert-weights``.
        **kwargs: more ``SSD`` arguments (``postprocess``, ``class_names``, ``s_min`` ...).

    Example:
        >>> model = zoo.get("ssd_vgg16", num_classes=21, input_shape=(300, 300, 3), weights=None)
        >>> model.default_boxes.shape
        (8732, 4)
    """
    return _create_ssd("ssd_vgg16", num_classes, input_shape, weights, width=width, layout=layout, **kwargs)


@_register("ssd512_vgg16")
def ssd512_vgg16(
    num_classes: int | None = None,
    input_shape: tuple[int, int, int] | None = (512, 512, 3),
    weights: Any = None,
    width: float = 1.0,
    **kwargs: Any,
) -> SSD:
    """SSD512 with a VGG16 body: 7 source maps (conv12_2 added), 24564 default boxes at 512x512.

    Arguments as ``ssd_vgg16``.

    Example:
        >>> model = zoo.get("ssd512_vgg16", num_classes=21)
        >>> model.default_boxes.shape
        (24564, 4)
    """
    return _create_ssd("ssd512_vgg16", num_classes, input_shape, weights, width=width, **kwargs)


# A declared alias (torchvision's name for SSD300): the same builder and entry data.
ssd300_vgg16 = _register("ssd_vgg16", alias="ssd300_vgg16")(ssd_vgg16)
