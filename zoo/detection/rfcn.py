"""R-FCN (Dai et al., NeurIPS 2016): region-based fully convolutional networks on Faster R-CNN's RPN.

Boxes are **xyxy in absolute pixels** of the model input everywhere (the zoo's convention).

R-FCN keeps Faster R-CNN's body, RPN, proposals, target sampling and four-loss joint training
(``zoo.detection.faster_rcnn.FasterRCNN``, subclassed, nothing copied) and replaces the per-RoI
head by computation shared over the whole image: after a 1x1 ``rfcn_conv`` (1024 channels, ReLU),
``rfcn_cls`` gives ``k * k * C`` position-sensitive score maps (C = objects + background) and
``rfcn_bbox`` ``k * k * 4`` class-agnostic box maps (the paper's default); each proposal is
position-sensitive RoI pooled (``zoo.layers.roi.PSRoIPooling``, k = 3: bin ``(i, j)`` averages
only its own map) and the ``k * k`` bins vote by averaging into the class logits [B, P, C] and box
deltas (shared by every class, returned as [B, P, C, 4] so the decoder and ``head_loss`` are
Faster R-CNN's). There is no per-RoI layer with weights.

Architectures (data in ``DEFAULT_CFGS``): ``resnet50`` = ResNet-50 up to conv4 (stride 16) plus
the conv5 stage run fully convolutionally at stride 1 (the paper keeps stride 16 by setting res5's
stride to 1; it also dilates res5's 3x3 convolutions by 2, which is not done here), ImageNet names
``conv5_block*`` so the backbone loads by name; ``vgg16`` = VGG16 conv5_3 (``width`` < 1 for CPU
training; not in the paper, the same pipeline on the zoo's VGG body).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from zoo.classification.vgg import scaled_filters as _scaled
from zoo.detection.faster_rcnn import FasterRCNN, create_two_stage, register_two_stage
from zoo.layers.roi import PSRoIPooling

PAPER = "Dai et al., R-FCN: Object Detection via Region-based Fully Convolutional Networks, NeurIPS 2016"


def _res5_full_conv(feature_shape: tuple[int, int, int]) -> keras.Model:
    """ResNet-50's conv5 stage at stride 1 on the whole conv4 map (keras.applications names)."""
    from zoo.classification.resnet import bottleneck_block

    x = inputs = keras.Input(feature_shape, name="conv4_features")
    for b in range(1, 4):
        x = bottleneck_block(x, 512, 1, "B", f"conv5_block{b}")
    return keras.Model(inputs, x, name="resnet50_res5_stride1")


def _identity(feature_shape: tuple[int, int, int]) -> keras.Model:
    inputs = keras.Input(feature_shape, name="conv5_3_features")
    return keras.Model(inputs, keras.layers.Identity(name="identity")(inputs), name="vgg16_no_head")


@keras.saving.register_keras_serializable(package="zoo")
class RFCN(FasterRCNN):
    """R-FCN: Faster R-CNN's RPN and training with position-sensitive score maps as the second stage.

    Outputs and training are ``FasterRCNN``'s (same dict; ``box_deltas`` [B, P, C, 4] holds the
    class-agnostic deltas for every class).

    Args:
        k: position-sensitive grid (k x k bins; 3 as the paper's default).
        rfcn_channels: width of the 1x1 convolution before the score maps (1024, scaled by ``width``).
        **kwargs: ``FasterRCNN``'s (arch, num_classes, image_shape, width, anchor_sizes, ...).

    Example:
        >>> model = zoo.get("rfcn_vgg16", num_classes=4, input_shape=(96, 96, 3), width=0.0625,
        ...                 anchor_sizes=(16, 32, 64))
        >>> model.compile(optimizer=keras.optimizers.SGD(1e-3, momentum=0.9))
        >>> model.fit(zoo.data.shapes.shapes_dataset(image_size=96), steps_per_epoch=10)
    """

    def __init__(self, *args: Any, k: int = 3, rfcn_channels: int = 1024, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if int(k) < 1:
            raise ValueError(f"k (position-sensitive bins per side) must be >= 1, got {k}")
        self.k = int(k)
        self.rfcn_channels = int(rfcn_channels)
        # Faster R-CNN's per-RoI head is not part of R-FCN: untrack it so it owns no weights here.
        for attr in ("head", "cls_score", "bbox_pred", "roi_pooler"):
            self._tracker.untrack(getattr(self, attr))
        fh, fw = self.feature_size
        fc = int(self.backbone.output.shape[-1])
        self.head = _res5_full_conv((fh, fw, fc)) if self.arch == "resnet50" else _identity((fh, fw, fc))
        self.cls_score = None
        self.bbox_pred = None
        self.roi_pooler = PSRoIPooling(self.k, 1.0 / self.stride, name="ps_roi_pool")
        hc = int(self.head.output.shape[-1])
        self.rfcn_conv = keras.layers.Conv2D(
            _scaled(self.rfcn_channels, self.width), 1, activation="relu", name="rfcn_conv"
        )
        self.rfcn_cls = keras.layers.Conv2D(
            self.k * self.k * self.num_classes,
            1,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            name="rfcn_cls",
        )
        self.rfcn_bbox = keras.layers.Conv2D(
            self.k * self.k * 4,
            1,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            name="rfcn_bbox",
        )
        self.rfcn_conv.build((None, fh, fw, hc))
        self.rfcn_cls.build((None, fh, fw, self.rfcn_conv.filters))
        self.rfcn_bbox.build((None, fh, fw, self.rfcn_conv.filters))

    def roi_head(self, features: Any, boxes: Any, training: bool = False) -> tuple[Any, Any]:
        """Voted class logits [B, P, C] and deltas [B, P, C, 4] (class-agnostic, repeated per class).

        At inference (``training=False``) RoIs with no non-empty bin (``PSRoIPooling.covered``) get
        certain-background logits, as padded proposal slots do; in training their loss is left as it
        is (constant, no gradient reaches it).
        """
        num = boxes.shape[1]
        batch = ops.shape(boxes)[0]
        x = self.rfcn_conv(self.head(features, training=training))
        idx = ops.repeat(ops.cast(ops.arange(batch), "float32"), num)[:, None]
        rois = ops.concatenate([idx, ops.reshape(boxes, (-1, 4))], axis=1)
        logits = ops.mean(self.roi_pooler([self.rfcn_cls(x), rois]), axis=(1, 2))  # vote: average
        deltas = ops.mean(self.roi_pooler([self.rfcn_bbox(x), rois]), axis=(1, 2))
        logits = ops.reshape(logits, (-1, num, self.num_classes))
        if not training:
            # An RoI whose every bin is empty (a thin box on the right or bottom edge) votes 0 for every
            # class: a uniform softmax (1 / C per class, 0.25 at C = 4) that no training can change and that
            # outranked every object of an undertrained model. It sees no feature: certain background.
            covered = ops.reshape(self.roi_pooler.covered(rois, self.feature_size), (-1, num, 1))
            background = ops.one_hot(ops.zeros_like(covered[..., 0], dtype="int32"), self.num_classes) * 1e4
            logits = ops.where(covered, logits, background)
        deltas = ops.reshape(deltas, (-1, num, 1, 4))
        return logits, ops.repeat(deltas, self.num_classes, axis=2)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k, "rfcn_channels": self.rfcn_channels}


DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "rfcn_resnet50": {
        "arch": "resnet50",
        "input_shape": (600, 800, 3),
        "num_classes": 21,
        "paper": PAPER,
        "references": {
            "voc07_map": 79.5,
            "voc07_map_source": "paper Table 4 (ResNet-101, VOC 07+12 trainval, VOC07 test); no ResNet-50 VOC row",
            "gpu_s_per_image": 0.17,
            "gpu_s_per_image_source": "paper Table 4 (K40, ResNet-101, 300 RoIs)",
        },
    },
    "rfcn_vgg16": {
        "arch": "vgg16",
        "input_shape": (600, 800, 3),
        "num_classes": 21,
        "paper": PAPER + " (VGG16 body: the zoo's variant, not in the paper)",
        "references": {},
    },
}


@register_two_stage("rfcn_resnet50", DEFAULT_CFGS)
def rfcn_resnet50(
    num_classes: int | None = None,
    input_shape: Sequence[int] | None = (600, 800, 3),
    weights: Any = None,
    **kwargs: Any,
) -> RFCN:
    """R-FCN with ResNet-50: conv4 body + stride-1 conv5, 3x3 position-sensitive score/box maps.

    ``weights="imagenet_backbone"`` loads ImageNet ResNet-50 (conv1..conv5) by layer name. Other
    keyword arguments are :class:`RFCN`'s / ``FasterRCNN``'s.

    Example:
        >>> model = zoo.get("rfcn_resnet50", num_classes=21, weights="imagenet_backbone")
    """
    name = "rfcn_resnet50"
    return create_two_stage(name, DEFAULT_CFGS[name], num_classes, input_shape, weights, cls=RFCN, **kwargs)


@register_two_stage("rfcn_vgg16", DEFAULT_CFGS)
def rfcn_vgg16(
    num_classes: int | None = None,
    input_shape: Sequence[int] | None = (600, 800, 3),
    weights: Any = None,
    width: float = 1.0,
    **kwargs: Any,
) -> RFCN:
    """R-FCN with a VGG16 conv5_3 body (``width`` < 1 for CPU-sized training).

    Example:
        >>> model = zoo.get("rfcn_vgg16", num_classes=4, input_shape=(96, 96, 3), width=0.0625)
    """
    name = "rfcn_vgg16"
    return create_two_stage(
        name, DEFAULT_CFGS[name], num_classes, input_shape, weights, cls=RFCN, width=width, **kwargs
    )
