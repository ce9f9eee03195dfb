"""torchvision checkpoints for the FPN detectors: the tensor-name mappings, as data.

The body's rows are the ResNet classifiers' (``zoo.classification.resnet.torchvision_rules`` under
``backbone.body.``); the heads' layers carry torchvision's module paths, so each mapping is a short
table of names; ``zoo.weights_torch`` checks every tensor (missing, extra, wrongly shaped)
before anything is assigned.

Example:
    >>> model = load_torchvision_weights(zoo.get("fasterrcnn_resnet50_fpn"), "fasterrcnn_resnet50_fpn", "COCO_V1")
"""

from __future__ import annotations

import os
from typing import Any

from zoo.classification.resnet import torchvision_rules
from zoo.detection.fpn import DEPTHS
from zoo.preprocessing import coco_category_names
from zoo.weights_torch import Rule, TorchMapping, is_torch_file, load_torch_weights


def fpn_rcnn_mapping(
    depth: int = 50, mask: bool = False, keypoints: bool = False, v2: bool = False
) -> TorchMapping:
    """The mapping of ``fasterrcnn_resnet50_fpn`` (with ``mask``: Mask R-CNN; ``keypoints``: Keypoint R-CNN)."""
    rows = torchvision_rules("bottleneck", DEPTHS[depth], "backbone.body.")
    for i in range(4):
        for block in ("inner_blocks", "layer_blocks"):
            rows.append(Rule(f"backbone.fpn.{block}.{i}.0", f"fpn_{block}_{i}", "conv"))
            if v2:
                rows.append(Rule(f"backbone.fpn.{block}.{i}.1", f"fpn_{block}_{i}_norm", "bn"))
    rows.append(Rule("rpn.head.conv.0.0", "rpn_conv", "conv"))
    if v2:
        rows.append(Rule("rpn.head.conv.1.0", "rpn_conv_1", "conv"))
        for i in range(4):
            rows.append(Rule(f"roi_heads.box_head.{i}.0", f"box_head_{i}_conv", "conv"))
            rows.append(Rule(f"roi_heads.box_head.{i}.1", f"box_head_{i}_norm", "bn"))
        rows.append(Rule("roi_heads.box_head.5", "box_head_fc", "dense_nchw", source="box_head_3_relu"))
    else:
        rows.append(Rule("roi_heads.box_head.fc6", "fc6", "dense_nchw", source="box_pooled"))
        rows.append(Rule("roi_heads.box_head.fc7", "fc7", "dense"))
    rows += [
        Rule("rpn.head.cls_logits", "rpn_cls", "conv"),
        Rule("rpn.head.bbox_pred", "rpn_deltas", "conv"),
        Rule("roi_heads.box_predictor.cls_score", "cls_score", "dense"),
        Rule("roi_heads.box_predictor.bbox_pred", "bbox_pred", "dense"),
    ]
    if mask:
        rows += [Rule(f"roi_heads.mask_head.{i}.0", f"mask_head_{i}", "conv") for i in range(4)]
        rows += [
            Rule(
                "roi_heads.mask_predictor.conv5_mask", "conv5_mask", "conv"
            ),  # IOHW -> HWOI: the same transpose
            Rule("roi_heads.mask_predictor.mask_fcn_logits", "mask_fcn_logits", "conv"),
        ]
    if keypoints:
        rows += [Rule(f"roi_heads.keypoint_head.{2 * i}", f"keypoint_head_{2 * i}", "conv") for i in range(8)]
        rows.append(Rule("roi_heads.keypoint_predictor.kps_score_lowres", "kps_score_lowres", "conv"))
    kind = "Mask" if mask else "Keypoint" if keypoints else "Faster"
    head = "v2: BatchNorm FPN, 2 RPN convs, FastRCNNConvFCHead" if v2 else "v1: TwoMLPHead box head"
    return TorchMapping(tuple(rows), layout=f"torchvision {kind} R-CNN ResNet-{depth}-FPN ({head})")


MAPPINGS = {
    "fasterrcnn_resnet50_fpn": lambda: fpn_rcnn_mapping(50),
    "fasterrcnn_resnet50_fpn_v2": lambda: fpn_rcnn_mapping(50, v2=True),
    "maskrcnn_resnet50_fpn": lambda: fpn_rcnn_mapping(50, mask=True),
    "keypointrcnn_resnet50_fpn": lambda: fpn_rcnn_mapping(50, keypoints=True),
}


def load_torchvision_weights(model: Any, name: str, weights: str | os.PathLike) -> Any:
    """Applies ``weights`` (a torchvision weight-set name, a ``.pth`` or a ``.weights.h5``) to an FPN model.

    The COCO sets also name the classes (``model.class_names``: torchvision's 91 COCO categories).
    """
    if str(weights).endswith(".weights.h5"):
        model.load_weights(weights)
        return model
    load_torch_weights(model, weights, MAPPINGS[name](), torchvision_model=name)
    if not is_torch_file(weights) and model.num_classes == 91:
        model.class_names = coco_category_names()
    elif not is_torch_file(weights) and name.startswith("keypointrcnn") and model.num_classes == 2:
        model.class_names = ("__background__", "person")
    return model
