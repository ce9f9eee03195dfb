"""Fast R-CNN (Girshick, ICCV 2015): Faster R-CNN's second stage fed with external (selective-search) proposals.

Boxes are **xyxy in absolute pixels** of the model input everywhere (the zoo's convention).

:class:`FastRCNN` subclasses ``zoo.detection.faster_rcnn.FasterRCNN`` with ``has_rpn = False``:
the body, RoI max pooling 7x7 (VGG16) or RoIAlign + res5 (ResNet-50), the fc6/fc7 head,
``cls_score`` / ``bbox_pred``, the RoI sampling (``roi_targets``: ground truth added, 25 %
foreground at IoU >= 0.5, background in [0.1, 0.5)), the multitask loss (softmax cross-entropy +
smooth L1, ``head_loss``) and the decoding are Faster R-CNN's code, not a copy; only the
proposals come from the input instead of an RPN. The paper's sampling is the default here:
``roi_batch=64`` RoIs per image (its 128 per two-image mini-batch), 25 % foreground.

Input: a dict ``{"images": [B, H, W, 3] RGB 0..255, "proposals": [B, P, 4]}``; rows of
``proposals`` with zero width or height are padding (:func:`proposal_batch` pads lists of
proposals). ``call`` returns Faster R-CNN's dict without the RPN outputs (``features``,
``proposals``, ``proposal_scores``, ``proposal_valid``, ``class_logits``, ``box_deltas``);
``detect_batch({"images": ..., "proposals": ...})`` gives the zoo's detections dict.

Example:
    >>> model = fast_rcnn_vgg16(num_classes=4, input_shape=(96, 96, 3), width=0.125)
    >>> model.compile(optimizer="adam")
    >>> model.fit(dataset_of_dicts_and_targets, steps_per_epoch=50)
    >>> dets = model.detect_batch({"images": images, "proposals": proposal_batch(boxes, 300)})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.detection.faster_rcnn import FasterRCNN, create_two_stage

PAPER = "Girshick, Fast R-CNN, ICCV 2015"

DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "fast_rcnn_vgg16": {
        "arch": "vgg16",
        "input_shape": (600, 800, 3),
        "num_classes": 21,
        "roi_batch": 64,
        "paper": PAPER,
        "references": {
            "voc07_map": 66.9,
            "voc07_map_source": "paper Table 1 (VGG16, VOC07 trainval, selective search ~2000 proposals)",
            "gpu_s_per_image": 0.32,
            "gpu_s_per_image_source": "paper Table 4 (K40, VGG16, without SVD; proposals excluded)",
        },
    },
}


def proposal_batch(proposals: Sequence[np.ndarray], max_proposals: int) -> np.ndarray:
    """Lists of [N_i, 4] proposals -> [B, max_proposals, 4] float32, the first ``max_proposals`` each,
    zero rows (padding) after.

    Example:
        >>> proposal_batch([np.ones((3, 4)) * [0, 0, 5, 5]], 4)[0, 3]   # -> [0, 0, 0, 0]
    """
    out = np.zeros((len(proposals), int(max_proposals), 4), np.float32)
    for i, p in enumerate(proposals):
        p = np.asarray(p, np.float32).reshape(-1, 4)[: int(max_proposals)]
        out[i, : len(p)] = p
    return out


@keras.saving.register_keras_serializable(package="zoo")
class FastRCNN(FasterRCNN):
    """Fast R-CNN: ``FasterRCNN`` without the RPN, trained on the proposals given with the images.

    Args: ``FasterRCNN``'s (the RPN's are accepted and unused); ``roi_batch`` 64 (the paper).

    Example:
        >>> model = FastRCNN(num_classes=4, image_shape=(96, 96, 3), width=0.125)
        >>> raw = model({"images": images, "proposals": boxes})
    """

    has_rpn = False
    loss_names = ("cls_loss", "box_loss")

    def __init__(self, *args: Any, roi_batch: int = 64, **kwargs: Any):
        super().__init__(*args, roi_batch=roi_batch, **kwargs)

    def _split(self, inputs: Any) -> tuple[Any, Any]:
        if not isinstance(inputs, dict) or "images" not in inputs or "proposals" not in inputs:
            raise ValueError(
                "Fast R-CNN takes a dict {'images': [B, H, W, 3], 'proposals': [B, P, 4] xyxy pixels (zero rows "
                f"pad)}}; got {type(inputs).__name__}. Make proposals with zoo.detection.proposals.selective_search "
                "and pad them with zoo.detection.fast_rcnn.proposal_batch"
            )
        return inputs["images"], ops.cast(inputs["proposals"], "float32")

    def call(self, inputs: Any, training: bool = False) -> dict[str, Any]:
        images, boxes = self._split(inputs)
        feats = self.features(images, training=training)
        valid = (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
        cls_logits, box_deltas = self.roi_head(feats, boxes, training=training)
        background = ops.one_hot(ops.zeros_like(valid, dtype="int32"), self.num_classes) * 1e4
        cls_logits = ops.where(valid[..., None], cls_logits, background)
        return {
            "features": feats,
            "proposals": boxes,
            "proposal_scores": ops.cast(valid, "float32"),
            "proposal_valid": valid,
            "class_logits": cls_logits,
            "box_deltas": box_deltas,
        }

    def rpn_losses(self, gt_boxes: Any, gt_valid: Any, y_pred: dict[str, Any]) -> dict[str, Any]:
        return {}

    def training_proposals(self, y_pred: dict[str, Any]) -> tuple[Any, Any, Any]:
        """The input proposals (the RoIs are sampled from them and the ground truth)."""
        return y_pred["proposals"], y_pred["proposal_scores"], y_pred["proposal_valid"]


def fast_rcnn_vgg16(
    num_classes: int | None = None,
    input_shape: Sequence[int] | None = (600, 800, 3),
    weights: Any = None,
    width: float = 1.0,
    **kwargs: Any,
) -> FastRCNN:
    """Fast R-CNN with VGG16 (conv5_3, RoI max pooling 7x7, fc6/fc7), 64 RoIs per image.

    ``weights`` as ``faster_rcnn_vgg16`` ("imagenet_backbone" loads the body and fc6/fc7 by name).
    Not in the registry: its input is a dict with the proposals, which the registry's image-only
    contract (``zoo.detection.detect(model, photo)``) cannot supply.

    Example:
        >>> model = fast_rcnn_vgg16(num_classes=4, input_shape=(96, 96, 3), width=0.125)
    """
    name = "fast_rcnn_vgg16"
    return create_two_stage(
        name, DEFAULT_CFGS[name], num_classes, input_shape, weights, cls=FastRCNN, width=width, **kwargs
    )
