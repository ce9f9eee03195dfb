"""Mask R-CNN (He et al., ICCV 2017): Faster R-CNN plus a per-class mask branch on RoIAlign features.

Boxes are **xyxy in absolute pixels** of the model input. Built on :class:`FasterRCNN` (body, RPN,
box head and its four losses unchanged) with:

- a mask branch on ``RoIAlign`` 14x14 features of the body (stride 16; sampling ratio 2, aligned):
  four 3x3 convolutions (256), a 2x2 stride-2 transposed convolution to 28x28 and a 1x1 convolution
  with one mask logit map per class (``mask_logits`` [R, 28, 28, num_classes]) -- the paper's FPN
  mask head, applied here to the C4 feature map;
- a fifth loss: per-pixel sigmoid cross-entropy of the ground-truth class's 28x28 map, on the
  foreground RoIs only. The 28x28 targets are the ground-truth masks cut out at each RoI with the
  same RoIAlign (spatial scale 1) and thresholded at 0.5;
- inference: masks predicted for the final detections and pasted back into the image
  (bilinear, thresholded at 0.5): ``detect_batch`` adds ``masks`` [B, K, H, W] uint8 to the
  detections dict.

Training data: ``(images, targets)`` with ``targets["masks"]`` [B, G, H, W] (1 inside the object),
e.g. ``zoo.data.shapes.shapes_dataset(..., with_masks=True)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.classification.vgg import scaled_filters
from zoo.detection.faster_rcnn import PAPER as FASTER_RCNN_PAPER
from zoo.detection.faster_rcnn import FasterRCNN, create_two_stage, register_two_stage
from zoo.layers.roi import RoIAlign, roi_align

PAPER = "He et al., Mask R-CNN, ICCV 2017"


def _mask_head(pooled_shape: tuple[int, int, int], num_classes: int, channels: int) -> keras.Model:
    rois = keras.Input(pooled_shape, name="mask_rois")
    x = rois
    init = keras.initializers.HeNormal()
    for i in range(1, 5):
        x = keras.layers.Conv2D(
            channels, 3, padding="same", activation="relu", kernel_initializer=init, name=f"mask_conv{i}"
        )(x)
    x = keras.layers.Conv2DTranspose(
        channels, 2, strides=2, activation="relu", kernel_initializer=init, name="mask_deconv"
    )(x)
    x = keras.layers.Conv2D(num_classes, 1, kernel_initializer=init, name="mask_logits")(x)
    return keras.Model(rois, x, name="mask_head")


def paste_masks(masks: Any, boxes: Any, image_size: tuple[int, int]) -> Any:
    """Pastes M x M mask probabilities into the image inside their boxes (bilinear), 0 outside.

    Args:
        masks: [B, K, M, M] probabilities; boxes: [B, K, 4] xyxy pixels; image_size: (H, W).

    Returns:
        [B, K, H, W] float32 probabilities (threshold at 0.5 for binary masks).

    Example:
        >>> full = paste_masks(ops.sigmoid(mask_logits), dets["boxes"], (128, 128)) >= 0.5
    """
    height, width = (int(v) for v in image_size)
    masks = ops.convert_to_tensor(masks, dtype="float32")
    boxes = ops.convert_to_tensor(boxes, dtype="float32")
    m = int(masks.shape[-1])

    def weights(start: Any, end: Any, size: int) -> Any:
        # mask coordinate of each pixel centre; triangle kernel = bilinear interpolation weights
        centres = ops.arange(size, dtype="float32") + 0.5
        extent = ops.maximum(end - start, 1e-6)[..., None]
        u = (centres - start[..., None]) / extent * m - 0.5  # [B, K, size]
        inside = (u >= -0.5) & (u <= m - 0.5)
        u = ops.clip(u, 0.0, m - 1.0)
        w = ops.maximum(1.0 - ops.abs(u[..., None] - ops.arange(m, dtype="float32")), 0.0)  # [B, K, size, M]
        return ops.where(inside[..., None], w, 0.0)

    wy = weights(boxes[..., 1], boxes[..., 3], height)
    wx = weights(boxes[..., 0], boxes[..., 2], width)
    rows = ops.einsum("bkhm,bkmn->bkhn", wy, masks)
    return ops.einsum("bkhn,bkwn->bkhw", rows, wx)


class MaskTraining:
    """The mask loss of the Mask R-CNN models (a mixin before the two-stage model class).

    Ground-truth masks are RoIAligned onto each foreground RoI at ``mask_size`` (``mask_target_aligned``:
    half-pixel RoIAlign; torchvision's ``project_masks_on_boxes`` uses False), optionally binarised at
    0.5 (``binary_mask_targets``; torchvision keeps them soft), and the target class's mask logits get
    the mean per-pixel binary cross-entropy. Models provide ``mask_logits(features, boxes)``.
    """

    mask_target_aligned: bool = True
    binary_mask_targets: bool = True

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The four two-stage losses plus the mask loss on foreground RoIs."""
        if not isinstance(y, dict) or "masks" not in y:
            raise ValueError(
                "Mask R-CNN targets need 'masks' [B, G, H, W] besides boxes/classes/valid; "
                "use zoo.data.shapes.shapes_dataset(..., with_masks=True)."
            )
        parts, r, feats = self.detection_losses(x, y, y_pred, training=training)
        parts["mask_loss"] = self.mask_loss(feats, r, y["masks"], training=training)
        return self._total_loss(parts)

    def mask_loss(
        self, features: Any, roi_targets: dict[str, Any], gt_masks: Any, training: bool = True
    ) -> Any:
        """Mean per-pixel binary cross-entropy of the target class's mask over foreground RoIs."""
        masks = ops.cast(gt_masks, "float32")
        g, h, w = masks.shape[1], masks.shape[2], masks.shape[3]
        # roi_targets puts the (at most fg_fraction * S) foreground RoIs first: the mask branch only
        # needs those slots, as the reference computes masks on positives only.
        n_fg = max(
            1, min(int(roi_targets["rois"].shape[1]), math.ceil(self.roi_batch * self.roi_fg_fraction))
        )
        roi_targets = {k: roi_targets[k][:, :n_fg] for k in ("rois", "classes", "matched_gt")}
        rois = roi_targets["rois"]
        batch = ops.shape(rois)[0]
        flat_idx = ops.arange(batch, dtype="int32")[:, None] * g + roi_targets["matched_gt"]
        boxes = ops.reshape(rois, (-1, 4))
        crop_rois = ops.concatenate([ops.cast(ops.reshape(flat_idx, (-1, 1)), "float32"), boxes], axis=1)
        target = roi_align(
            ops.reshape(masks, (-1, h, w, 1)),
            crop_rois,
            self.mask_size,
            spatial_scale=1.0,
            sampling_ratio=2,
            aligned=self.mask_target_aligned,
        )[..., 0]
        if self.binary_mask_targets:
            target = ops.cast(target >= 0.5, "float32")  # [B*S, M, M]
        logits = self.mask_logits(features, rois, training=training)  # [B, S, M, M, C]
        labels = ops.maximum(roi_targets["classes"], 0)
        picked = ops.take_along_axis(logits, labels[:, :, None, None, None], axis=-1)[..., 0]
        picked = ops.reshape(picked, (-1, self.mask_size, self.mask_size))
        bce = ops.binary_crossentropy(target, picked, from_logits=True)
        fg = ops.reshape(ops.cast(roi_targets["classes"] > 0, "float32"), (-1,))
        per_roi = ops.mean(bce, axis=(1, 2))
        return ops.sum(per_roi * fg) / ops.maximum(ops.sum(fg), 1.0)


@keras.saving.register_keras_serializable(package="zoo")
class MaskRCNN(MaskTraining, FasterRCNN):
    """Faster R-CNN + mask branch (see the module docstring). Arguments as :class:`FasterRCNN`, plus:

    Args:
        mask_size: output mask side (28; the RoIAlign grid is half of it, 14).
        mask_channels: width of the mask branch convolutions (256).

    Example:
        >>> model = zoo.get("mask_rcnn_resnet50", num_classes=4, input_shape=(128, 128, 3))
        >>> model.compile(optimizer="adam")
        >>> model.fit(shapes_dataset(image_size=128, with_masks=True), steps_per_epoch=10)
        >>> model.detect_batch(images)["masks"].shape  # [B, 100, 128, 128]
    """

    loss_names = (*FasterRCNN.loss_names, "mask_loss")

    def __init__(self, mask_size: int = 28, mask_channels: int = 256, **kwargs: Any):
        if int(mask_size) < 2 or int(mask_size) % 2:
            raise ValueError(f"mask_size must be an even number >= 2, got {mask_size}")
        super().__init__(**kwargs)
        self.mask_size = int(mask_size)
        self.mask_channels = int(mask_channels)
        channels = int(self.backbone.output.shape[-1])
        half = self.mask_size // 2
        self.mask_pooler = RoIAlign(
            half, 1.0 / self.stride, sampling_ratio=2, aligned=True, name="mask_roi_align"
        )
        self.mask_head = _mask_head((half, half, channels), self.num_classes, self.mask_channels)

    def mask_logits(self, features: Any, boxes: Any, training: bool = False) -> Any:
        """Per-class mask logits [B, K, M, M, C] for boxes [B, K, 4] (xyxy pixels)."""
        num = boxes.shape[1]
        batch = ops.shape(boxes)[0]
        idx = ops.repeat(ops.cast(ops.arange(batch), "float32"), num)[:, None]
        rois = ops.concatenate([idx, ops.reshape(ops.stop_gradient(boxes), (-1, 4))], axis=1)
        logits = self.mask_head(self.mask_pooler([features, rois]), training=training)
        return ops.reshape(logits, (-1, num, self.mask_size, self.mask_size, self.num_classes))

    # ----- inference. Two paths with the same masks: in a graph (``detections``, export) the mask
    # branch runs on all K output slots (static shapes); ``predict`` / ``detect_batch`` (NumPy out)
    # decode the boxes in the compiled step and run the mask branch afterwards on the kept
    # detections only, computing just their class's map, and paste only those.
    _defer_masks = False

    def predict_step(self, *args: Any) -> Any:
        """Keras' predict step: the detections and the body features; masks follow in ``predict``."""
        self._defer_masks = True
        try:
            return super().predict_step(*args)
        finally:
            self._defer_masks = False

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``keras.Model.predict`` with ``masks`` [N, K, H, W] uint8 added for the kept detections."""
        return self.masks_for_detections(super().predict(x, *args, **kwargs))

    def detect_batch(self, images: Any, **settings: Any) -> dict[str, Any]:
        """As :meth:`Detector.detect_batch`, with ``masks`` [B, K, H, W] uint8 (only kept detections
        go through the mask branch)."""
        dets = super().detect_batch(images, **settings)
        return self.masks_for_detections(dets) if isinstance(dets, dict) and "features" in dets else dets

    def masks_for_detections(self, dets: dict[str, Any]) -> dict[str, Any]:
        """Detections + body ``features`` (NumPy, from the predict step) -> detections + ``masks``.

        The mask branch runs on the ``num_detections`` kept boxes of each image only (not the K
        slots), the 1x1 output layer only for each box's class, and the masks are pasted in their
        boxes only; other slots get empty masks, as in the graph path.
        """
        dets = {k: np.asarray(v) for k, v in dets.items()}
        features = dets.pop("features")
        boxes, classes = dets["boxes"].astype("float32"), dets["classes"].astype("int64")
        b, k = boxes.shape[:2]
        height, width = (int(v) for v in self.image_size)
        masks = np.zeros((b, k, height, width), "uint8")
        keep = [np.flatnonzero(classes[i] >= 0) for i in range(b)]
        if sum(len(j) for j in keep):
            rois = np.concatenate(
                [
                    np.concatenate([np.full((len(j), 1), i, "float32"), boxes[i, j]], 1)
                    for i, j in enumerate(keep)
                ]
            )
            cls = np.concatenate([classes[i, j] for i, j in enumerate(keep)])
            probs = self._class_masks(features, rois, cls)
            start = 0
            for i, j in enumerate(keep):
                if len(j):
                    p = probs[None, start : start + len(j)]
                    full = ops.convert_to_numpy(paste_masks(p, boxes[i, j][None], self.image_size))[0]
                    masks[i, j] = full >= 0.5
                    start += len(j)
        dets["masks"] = masks
        return dets

    def _class_masks(self, features: np.ndarray, rois: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Mask probabilities [R, M, M] of each RoI's class: the mask branch up to the upsampling,
        then the output 1x1 convolution's column of that class only."""
        head = self.__dict__.get("_mask_trunk")
        if head is None:
            head = keras.Model(self.mask_head.input, self.mask_head.get_layer("mask_deconv").output)
            self.__dict__["_mask_trunk"] = head  # not tracked: shares the mask head's layers
        pooled = self.mask_pooler([ops.convert_to_tensor(features), ops.convert_to_tensor(rois)])
        trunk = ops.convert_to_numpy(head(pooled, training=False))  # [R, M, M, channels]
        kernel, bias = (ops.convert_to_numpy(w) for w in self.mask_head.get_layer("mask_logits").weights)
        logits = np.einsum("rhwc,rc->rhw", trunk, kernel[0, 0].T[classes]) + bias[classes][:, None, None]
        return 1.0 / (1.0 + np.exp(-logits))

    def extend_detections(self, dets: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        """Adds ``masks`` [B, K, H, W] uint8 (pixels of ``image_size``) for the final detections
        (in the predict step: the body ``features`` instead, see :meth:`masks_for_detections`)."""
        if self._defer_masks:
            return {**dets, "features": out["features"]}
        logits = self.mask_logits(out["features"], dets["boxes"])
        classes = ops.maximum(ops.cast(dets["classes"], "int32"), 0)
        probs = ops.sigmoid(ops.take_along_axis(logits, classes[:, :, None, None, None], axis=-1)[..., 0])
        full = paste_masks(probs, dets["boxes"], self.image_size)
        valid = (ops.cast(dets["classes"], "int32") >= 0)[:, :, None, None]
        dets = dict(dets)
        dets["masks"] = ops.cast((full >= 0.5) & valid, "uint8")
        return dets

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_size": self.mask_size, "mask_channels": self.mask_channels}


# Per registered name (timm's default_cfgs); extra keys are constructor defaults.
DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "mask_rcnn_resnet50": {
        "arch": "resnet50",
        "input_shape": (800, 800, 3),
        "num_classes": 81,
        # The paper's test-time proposals for the C4 body: "300 for the C4 backbone (as in [36]) and
        # 1000 for FPN" (Sec. 3.1, Inference); 1000 (Detectron's C4 config) triples the box head's
        # RoIs and the inference memory (docs/RESULTS.md, "Mask R-CNN (C4) inference cost").
        "test_proposals": (6000, 300),
        "paper": PAPER + " (C4 body; " + FASTER_RCNN_PAPER.split(",")[0] + " box branch)",
        "references": {
            "coco_mask_ap": 30.3,
            "coco_mask_ap_source": "He et al. 2017 Table 2a (ResNet-50-C4, COCO minival, mask AP)",
        },
    },
    "mask_rcnn_vgg16": {
        "arch": "vgg16",
        "input_shape": (600, 800, 3),
        "num_classes": 21,
        "paper": f"{PAPER} (the paper used ResNet-C4/FPN bodies; this is the course's VGG16 variant for CPU, "
        f"with the VGG16 body and box branch of {FASTER_RCNN_PAPER})",
        "references": {},
    },
}


@register_two_stage("mask_rcnn_resnet50", DEFAULT_CFGS)
def mask_rcnn_resnet50(
    num_classes: int | None = None,
    input_shape: Sequence[int] | None = (800, 800, 3),
    weights: Any = None,
    **kwargs: Any,
) -> MaskRCNN:
    """Mask R-CNN, ResNet-50 C4 body, RoIAlign 14x14 box head (res5) and mask branch (28x28 per class).

    Keyword arguments are :class:`MaskRCNN`'s (mask_channels, test_proposals, postprocess, ...).

    Example:
        >>> model = zoo.get("mask_rcnn_resnet50", num_classes=4, input_shape=(128, 128, 3))
    """
    name = "mask_rcnn_resnet50"
    return create_two_stage(
        name, DEFAULT_CFGS[name], num_classes, input_shape, weights, cls=MaskRCNN, **kwargs
    )


@register_two_stage("mask_rcnn_vgg16", DEFAULT_CFGS)
def mask_rcnn_vgg16(
    num_classes: int | None = None,
    input_shape: Sequence[int] | None = (600, 800, 3),
    weights: Any = None,
    width: float = 1.0,
    mask_channels: int | None = None,
    **kwargs: Any,
) -> MaskRCNN:
    """Mask R-CNN on ``faster_rcnn_vgg16``: conv5_3 body, RPN, RoI max pooling 7x7 + fc6/fc7 box head,
    plus the mask branch (RoIAlign 14x14 on conv5_3, four 3x3 convs, 28x28 per-class masks).

    Not in the paper (He et al. 2017 use ResNet-C4/FPN bodies, see ``mask_rcnn_resnet50``): the
    course's VGG16 variant, which trains from scratch on a CPU at small ``width`` (channel multiplier
    of the body and fc layers, as in ``faster_rcnn_vgg16``). ``mask_channels`` defaults to
    ``256 * width`` (the paper's 256 at width 1). ``weights="imagenet_backbone"`` (width 1 only)
    loads the ImageNet VGG16 body and fc6/fc7 by layer name; the mask branch starts from scratch.

    Example:
        >>> model = zoo.get("mask_rcnn_vgg16", num_classes=4, input_shape=(128, 128, 3), width=0.125)
        >>> model.detect_batch(images)["masks"]  # [B, 100, 128, 128] uint8
    """
    name = "mask_rcnn_vgg16"
    channels = scaled_filters(256, width) if mask_channels is None else mask_channels
    return create_two_stage(
        name, DEFAULT_CFGS[name], num_classes, input_shape, weights, cls=MaskRCNN, width=width,
        mask_channels=channels, **kwargs,
    )  # fmt: skip
