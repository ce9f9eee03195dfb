"""Faster and Mask R-CNN with a ResNet-50-FPN body, torchvision's layout (COCO checkpoints load as they are).

The family of ``torchvision.models.detection.fasterrcnn_resnet50_fpn`` / ``maskrcnn_resnet50_fpn``,
followed exactly (Ren et al. 2015 + Lin et al. 2017 + He et al. 2017), as zoo detectors
(``zoo.detection.base.Detector``):

- Body: ResNet-50 in torchvision's layout, FrozenBatchNorm (not trainable), stem and layer1 frozen
  (``zoo.detection.fpn.resnet_body``), then the feature pyramid P2-P5 + max-pooled P6
  (``zoo.detection.fpn.feature_pyramid``, 256 channels).
- RPN: one shared head (3x3 conv + 1x1 objectness + 1x1 deltas, ``RPNHead``) over P2-P6; one anchor
  size per level (32, 64, 128, 256, 512) x ratios 0.5, 1, 2, torchvision's ``AnchorGenerator``
  (rounded base anchors centred at ``cell * stride``, stride = input side // map side). Proposals: per
  level the 1000 best logits (2000 in training), decode (weights 1, 1, 1, 1), clip, drop boxes under
  1e-3 px, NMS 0.7 per level, keep the 1000 best (2000 in training) of all levels.
- Box branch: ``MultiScaleRoIAlign`` 7x7 (sampling ratio 2, eq. 1 level of each RoI among P2-P5),
  ``fc6`` / ``fc7`` (1024, ReLU) on the flattened RoI (``TwoMLPHead``), ``cls_score`` and per-class
  ``bbox_pred`` (weights 10, 10, 5, 5).
- Mask branch (Mask R-CNN): RoIAlign 14x14, four 3x3 convs of 256 (``mask_head_0..3``), a 2x2
  stride-2 transposed conv (``conv5_mask``) and a 1x1 conv to one 28x28 mask per class
  (``mask_fcn_logits``).

Post-processing (``POSTPROCESS``, torchvision's ``box_score_thresh=0.05, box_nms_thresh=0.5,
box_detections_per_img=100``): softmax, per-class decoding, clipping, boxes under 0.01 px dropped,
per-class NMS, the 100 best. Masks leave the graph as 28x28 probabilities of each detection's class
(``mask_probs``); :meth:`MaskRCNNFPN.paste_masks` puts them into image pixels as torchvision does
(``paste_masks_in_image``: one pixel of padding, bilinear resize to the integer box, soft masks).

Input: RGB 0..255 at ``image_size``, sides multiples of 32; torchvision's mean/std normalisation is
inside the model. ``zoo.detection.detect`` applies torchvision's transform: resize so the short side
is ``min_size`` (800) and the long side at most ``max_size`` (1333), keeping the aspect ratio, then pad
bottom/right to ``image_size`` with the mean colour (0 after normalisation, as torchvision's padding);
boxes come back in the original image's pixels. The default input (800, 1344) takes a landscape
image whole; portrait images want ``input_shape=(1344, 800, 3)``. Features near the padding depend on
how much padding there is (as in torchvision, where they depend on the other images of the batch).

Training: ``model.fit`` on the zoo's batch format (``zoo.data``): RPN targets (IoU 0.7 / 0.3, 256
anchors, half positive), 512 RoIs per image with 25 % foreground (IoU >= 0.5, background below 0.5),
smooth L1 with beta 1/9 for both box losses (torchvision's losses), the mask loss on foreground RoIs.

Example:
    >>> model = zoo.get("fasterrcnn_resnet50_fpn", weights="torchvision")   # COCO_V1, 91 classes
    >>> dets = zoo.detection.detect(model, photo)                          # COCO names in model.class_names
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.detection.base import Detector, PostprocessConfig
from zoo.detection.faster_rcnn import TwoStageTraining
from zoo.detection.fpn import PAPER as FPN_PAPER
from zoo.detection.fpn import feature_pyramid, freeze_stages, resnet_body
from zoo.detection.mask_rcnn import MaskTraining
from zoo.detection.rpn import RPNHead
from zoo.layers.roi import MultiScaleRoIAlign
from zoo.ops.boxes import FASTER_RCNN_WEIGHTS, clip_boxes, decode_boxes
from zoo.ops.nms import batched_nms, non_max_suppression
from zoo.registry import register, resolve_num_classes

TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)
ANCHOR_SIZES = (32.0, 64.0, 128.0, 256.0, 512.0)
ANCHOR_RATIOS = (0.5, 1.0, 2.0)
# torchvision's RegionProposalNetwork settings: (training, testing).
RPN_PRE_NMS_TOP_N = (2000, 1000)
RPN_POST_NMS_TOP_N = (2000, 1000)


def fpn_anchors(
    image_size: Sequence[int],
    feature_sizes: Sequence[Sequence[int]],
    sizes: Sequence[float] = ANCHOR_SIZES,
    ratios: Sequence[float] = ANCHOR_RATIOS,
) -> list[np.ndarray]:
    """torchvision's ``AnchorGenerator`` for one size per level: per level [H_l * W_l * len(ratios), 4].

    Base anchors ``round([-w, -h, w, h] / 2)`` with ``h = s sqrt(r)``, ``w = s / sqrt(r)`` (float32, round
    half to even), shifted to ``(x * stride_x, y * stride_y)``, ``stride = image side // map side``;
    order: row-major cell, then ratio. Boxes xyxy pixels.

    Example:
        >>> [a.shape for a in fpn_anchors((64, 64), [(16, 16), (8, 8)], sizes=(32, 64))]
        [(768, 4), (192, 4)]
    """
    if len(sizes) != len(feature_sizes):
        raise ValueError(f"one anchor size per level: got {len(sizes)} sizes for {len(feature_sizes)} levels")
    out = []
    ratios_t = np.asarray(ratios, "float32")
    h_ratios = np.sqrt(ratios_t)
    w_ratios = np.float32(1.0) / h_ratios
    for size, (fh, fw) in zip(sizes, feature_sizes):
        ws = w_ratios * np.float32(size)
        hs = h_ratios * np.float32(size)
        base = np.round(np.stack([-ws, -hs, ws, hs], axis=1) / np.float32(2.0))
        sy, sx = int(image_size[0]) // int(fh), int(image_size[1]) // int(fw)
        ys, xs = np.meshgrid(np.arange(fh) * sy, np.arange(fw) * sx, indexing="ij")
        shifts = np.stack([xs.ravel(), ys.ravel(), xs.ravel(), ys.ravel()], axis=1).astype("float32")
        out.append((shifts[:, None, :] + base[None]).reshape(-1, 4).astype("float32"))
    return out


def level_proposals(
    logits: Sequence[Any],
    deltas: Sequence[Any],
    anchors: Sequence[np.ndarray],
    image_size: Sequence[int],
    pre_nms_top_n: int = 1000,
    post_nms_top_n: int = 1000,
    nms_iou: float = 0.7,
    min_size: float = 1e-3,
    image_sizes: Any = None,
) -> tuple[Any, Any, Any]:
    """torchvision's ``RegionProposalNetwork.filter_proposals`` with fixed shapes (keras.ops).

    Per level the ``pre_nms_top_n`` best objectness logits, decoded (weights 1), clipped to the image,
    boxes narrower or lower than ``min_size`` dropped, NMS at ``nms_iou`` within each level, the
    ``post_nms_top_n`` best over all levels.

    Args:
        logits: per level [B, A_l]; deltas: per level [B, A_l, 4]; anchors: per level [A_l, 4].
        image_size: (height, width) of the input.
        image_sizes: optional [B, 2] (height, width) of each image's content (the rest is padding);
            boxes are clipped to it, as torchvision clips to the resized image. None: ``image_size``.

    Returns:
        (boxes [B, P, 4], scores [B, P] sigmoid objectness, valid [B, P]), best first, P = post_nms_top_n
        (or fewer if there are fewer candidates); empty slots hold zeros.
    """
    height, width = (float(v) for v in image_size)
    clip_h, clip_w = _clip_sizes(image_sizes, image_size)
    top_boxes, top_scores, top_levels = [], [], []
    for level, (lg, dl, an) in enumerate(zip(logits, deltas, anchors)):
        k = min(int(pre_nms_top_n), int(an.shape[0]))
        score, idx = ops.top_k(ops.cast(lg, "float32"), k=k, sorted=True)
        idx = ops.cast(idx, "int32")
        picked = ops.take_along_axis(ops.cast(dl, "float32"), idx[..., None], axis=1)
        anchor = ops.take(ops.convert_to_tensor(an), idx, axis=0)  # [B, k, 4]
        top_boxes.append(clip_boxes(decode_boxes(picked, anchor), clip_h, clip_w))
        top_scores.append(score)
        top_levels.append(ops.full_like(score, float(level)))
    boxes = ops.stop_gradient(ops.concatenate(top_boxes, axis=1))
    scores = ops.stop_gradient(ops.sigmoid(ops.concatenate(top_scores, axis=1)))
    levels = ops.concatenate(top_levels, axis=1)
    big = ((boxes[..., 2] - boxes[..., 0]) >= min_size) & ((boxes[..., 3] - boxes[..., 1]) >= min_size)
    # NMS within each level at once: shift each level's boxes apart (torchvision's coordinate trick).
    shifted = boxes + (levels * (max(height, width) + 1.0))[..., None]
    total = int(boxes.shape[1])
    keep, _ = non_max_suppression(
        shifted, ops.where(big, scores, -math.inf), min(int(post_nms_top_n), total), float(nms_iou)
    )
    valid = keep >= 0
    safe = ops.maximum(keep, 0)
    out_boxes = ops.where(valid[..., None], ops.take_along_axis(boxes, safe[..., None], axis=1), 0.0)
    out_scores = ops.where(valid, ops.take_along_axis(scores, safe, axis=1), 0.0)
    return out_boxes, out_scores, valid


def _clip_sizes(image_sizes: Any, image_size: Sequence[int]) -> tuple[Any, Any]:
    """(heights, widths) to clip boxes [B, N, ...] to: per image [B, 1] tensors, or the input size."""
    if image_sizes is None:
        return float(image_size[0]), float(image_size[1])
    sizes = ops.cast(image_sizes, "float32")
    return sizes[:, 0:1], sizes[:, 1:2]


def _box_head(pooled_shape: tuple[int, int, int], representation: int = 1024) -> keras.Model:
    """torchvision's ``TwoMLPHead``: flatten, fc6, ReLU, fc7, ReLU."""
    rois = keras.Input(pooled_shape, name="box_pooled")
    x = keras.layers.Flatten(name="box_flatten")(rois)
    x = keras.layers.Dense(representation, activation="relu", name="fc6")(x)
    x = keras.layers.Dense(representation, activation="relu", name="fc7")(x)
    return keras.Model(rois, x, name="box_head")


def _conv_fc_box_head(
    pooled_shape: tuple[int, int, int], convs: int = 4, representation: int = 1024
) -> keras.Model:
    """torchvision's ``FastRCNNConvFCHead`` (v2): 4 x (conv3x3 256 no bias, BatchNorm, ReLU), flatten, fc 1024, ReLU."""
    rois = keras.Input(pooled_shape, name="box_pooled")
    x = rois
    for i in range(convs):
        x = keras.layers.Conv2D(256, 3, padding="same", use_bias=False, name=f"box_head_{i}_conv")(x)
        x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"box_head_{i}_norm")(x)
        x = keras.layers.ReLU(name=f"box_head_{i}_relu")(x)
    x = keras.layers.Flatten(name="box_flatten")(x)
    x = keras.layers.Dense(representation, activation="relu", name="box_head_fc")(x)
    return keras.Model(rois, x, name="box_head")


def _mask_head(pooled_shape: tuple[int, int, int], num_classes: int, channels: int = 256) -> keras.Model:
    """torchvision's ``MaskRCNNHeads`` (4 x conv3x3 + ReLU) and ``MaskRCNNPredictor``."""
    rois = keras.Input(pooled_shape, name="mask_pooled")
    x = rois
    for i in range(4):
        x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"mask_head_{i}")(x)
    x = keras.layers.Conv2DTranspose(channels, 2, strides=2, activation="relu", name="conv5_mask")(x)
    x = keras.layers.Conv2D(num_classes, 1, name="mask_fcn_logits")(x)
    return keras.Model(rois, x, name="mask_head")


def _check_image_shape(image_shape: Any) -> tuple[int, int, int]:
    try:
        h, w, c = (int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be (height, width, 3), got {image_shape!r}") from None
    if c != 3 or h % 32 or w % 32 or min(h, w) < 64:
        raise ValueError(
            f"input_shape {tuple(image_shape)}: FPN detectors need RGB input whose sides are multiples of 32 "
            "and at least 64 (torchvision pads its batches to multiples of 32), e.g. (800, 1344, 3)."
        )
    return h, w, c


def _rois(boxes: Any) -> Any:
    """[B, P, 4] boxes -> [B * P, 5] RoIs (batch index first)."""
    num = boxes.shape[1]
    idx = ops.repeat(ops.cast(ops.arange(ops.shape(boxes)[0]), "float32"), num)[:, None]
    return ops.concatenate([idx, ops.reshape(ops.cast(boxes, "float32"), (-1, 4))], axis=1)


@keras.saving.register_keras_serializable(package="zoo")
class FasterRCNNFPN(TwoStageTraining, Detector, keras.Model):
    """Faster R-CNN with a ResNet-FPN body (torchvision's ``fasterrcnn_resnet50_fpn``; see the module).

    ``call`` (training and inference alike) returns ``features`` (P2-P6), ``rpn_logits`` [B, A],
    ``rpn_deltas`` [B, A, 4], ``proposals`` [B, P, 4] (test settings), ``proposal_scores``,
    ``proposal_valid``, ``class_logits`` [B, P, C] and ``box_deltas`` [B, P, C, 4]; ``predict`` /
    ``detect_batch`` / ``zoo.detection.detect`` return the detections dict.

    Args:
        num_classes: object classes + 1 (COCO checkpoints: 91, torchvision's category ids).
        image_shape: fixed input (height, width, 3), sides multiples of 32.
        depth: ResNet depth (50 or 101).
        variant: ``"v1"`` (torchvision's original: TwoMLPHead, one RPN conv) or ``"v2"`` (Li et al. 2021's
            improved recipe as ``fasterrcnn_resnet50_fpn_v2``: BatchNorm in the pyramid, two RPN convs,
            ``FastRCNNConvFCHead`` box head).
        anchor_sizes, anchor_ratios: one size per pyramid level (P2-P6), ratios h / w.
        rpn_pre_nms_top_n, rpn_post_nms_top_n: (training, testing) proposals per level / kept.
        rpn_nms_iou, rpn_batch, roi_batch, roi_fg_fraction: RPN NMS and the two samplers.
        min_size, max_size: torchvision's resize for ``zoo.detection.detect``.
        class_names, postprocess: the detector contract (defaults ``POSTPROCESS``).
        seed: seed of the samplers.
    """

    POSTPROCESS = PostprocessConfig(
        score_threshold=0.05, iou_threshold=0.5, max_detections=100, pre_nms_top_k=None
    )
    box_weights = FASTER_RCNN_WEIGHTS
    head_sigma = 3.0  # torchvision: smooth L1 beta 1/9 in both box losses
    roi_bg_iou = (0.0, 0.5)
    loss_names: tuple[str, ...] = ("rpn_cls_loss", "rpn_reg_loss", "cls_loss", "box_loss")

    def __init__(
        self,
        num_classes: int = 91,
        image_shape: Sequence[int] = (800, 1344, 3),
        depth: int = 50,
        variant: str = "v1",
        anchor_sizes: Sequence[float] = ANCHOR_SIZES,
        anchor_ratios: Sequence[float] = ANCHOR_RATIOS,
        rpn_pre_nms_top_n: Sequence[int] = RPN_PRE_NMS_TOP_N,
        rpn_post_nms_top_n: Sequence[int] = RPN_POST_NMS_TOP_N,
        rpn_nms_iou: float = 0.7,
        rpn_batch: int = 256,
        roi_batch: int = 512,
        roi_fg_fraction: float = 0.25,
        min_size: int = 800,
        max_size: int = 1333,
        class_names: Sequence[str] | None = None,
        postprocess: dict[str, Any] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
            raise ValueError(
                f"num_classes must be an integer >= 2 (objects + background 0), got {num_classes!r}"
            )
        self.image_shape = _check_image_shape(image_shape)
        self.init_detector(
            num_classes, self.image_shape[:2], class_names=class_names, postprocess=postprocess
        )
        if variant not in ("v1", "v2"):
            raise ValueError(f"variant must be 'v1' or 'v2', got {variant!r}")
        self.variant = variant
        self.depth = int(depth)
        self.anchor_sizes = tuple(float(s) for s in anchor_sizes)
        self.anchor_ratios = tuple(float(r) for r in anchor_ratios)
        self.rpn_pre_nms_top_n = tuple(int(v) for v in rpn_pre_nms_top_n)
        self.rpn_post_nms_top_n = tuple(int(v) for v in rpn_post_nms_top_n)
        self.rpn_nms_iou = float(rpn_nms_iou)
        self.rpn_batch = int(rpn_batch)
        self.roi_batch = int(roi_batch)
        self.roi_fg_fraction = float(roi_fg_fraction)
        self.min_size = int(min_size)
        self.max_size = int(max_size)
        self.seed = seed

        image = keras.Input(self.image_shape, name="image")
        x = keras.layers.Normalization(
            mean=[255.0 * m for m in TORCHVISION_MEAN],
            variance=[(255.0 * s) ** 2 for s in TORCHVISION_STD],
            name="image_normalization",
        )(image)
        pyramid = feature_pyramid(resnet_body(x, self.depth), norm=variant == "v2")
        self.backbone = keras.Model(image, pyramid, name=f"resnet{self.depth}_fpn")
        freeze_stages(self.backbone, 1)
        sizes = [(int(p.shape[1]), int(p.shape[2])) for p in pyramid]
        self.feature_sizes = sizes
        self.level_anchors = fpn_anchors(self.image_size, sizes, self.anchor_sizes, self.anchor_ratios)
        self.anchors = np.concatenate(self.level_anchors, axis=0)
        channels = int(pyramid[0].shape[-1])
        self.rpn = RPNHead(
            len(self.anchor_ratios), channels, conv_depth=2 if variant == "v2" else 1, name="rpn"
        )
        self.box_pooler = MultiScaleRoIAlign(
            7, tuple(1.0 / (4 * 2**i) for i in range(4)), name="box_roi_pool"
        )
        self.box_head = (_conv_fc_box_head if variant == "v2" else _box_head)((7, 7, channels))
        self.cls_score = keras.layers.Dense(self.num_classes, name="cls_score")
        self.bbox_pred = keras.layers.Dense(4 * self.num_classes, name="bbox_pred")
        self.sampler = keras.random.SeedGenerator(seed)
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}
        self.rpn.build((None, *sizes[0], channels))
        self.cls_score.build((None, 1024))
        self.bbox_pred.build((None, 1024))
        self.built = True

    # ----- pieces (also timed separately by tools/bench_two_stage.py-like scripts)
    def features(self, images: Any, training: bool = False) -> list[Any]:
        """Pyramid maps [P2, P3, P4, P5, P6]."""
        return list(self.backbone(images, training=training))

    def rpn_outputs(self, features: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        """Per level objectness logits [B, A_l] and deltas [B, A_l, 4] (the shared head on each map)."""
        outs = [self.rpn(f) for f in features]
        return [o[0] for o in outs], [o[1] for o in outs]

    def proposals(
        self, logits: Sequence[Any], deltas: Sequence[Any], training: bool = False, image_sizes: Any = None
    ) -> tuple:
        """(boxes [B, P, 4], scores [B, P], valid [B, P]) with torchvision's train or test settings."""
        phase = 0 if training else 1
        return level_proposals(
            logits,
            deltas,
            self.level_anchors,
            self.image_size,
            self.rpn_pre_nms_top_n[phase],
            self.rpn_post_nms_top_n[phase],
            self.rpn_nms_iou,
            image_sizes=image_sizes,
        )

    def roi_head(self, features: Sequence[Any], boxes: Any, training: bool = False) -> tuple[Any, Any]:
        """Class logits [B, P, C] and per-class deltas [B, P, C, 4] for boxes [B, P, 4] (xyxy pixels)."""
        num = boxes.shape[1]
        pooled = self.box_pooler([*features[:4], _rois(ops.stop_gradient(boxes))])
        x = self.box_head(pooled, training=training)
        logits = ops.reshape(self.cls_score(x), (-1, num, self.num_classes))
        return logits, ops.reshape(self.bbox_pred(x), (-1, num, self.num_classes, 4))

    def call(self, images: Any, training: bool = False) -> dict[str, Any]:
        """Raw outputs for ``images`` [B, H, W, 3], or ``{"images", "image_sizes"}`` where
        ``image_sizes`` [B, 2] is each image's content size inside the padded input
        (``prepare_images`` makes both; boxes are then clipped to the content, as torchvision does)."""
        sizes = None
        if isinstance(images, dict):
            images, sizes = images["images"], images.get("image_sizes")
        feats = self.features(images, training=training)
        logits, deltas = self.rpn_outputs(feats)
        if sizes is None:
            sizes = ops.zeros((ops.shape(images)[0], 2), "float32") + ops.convert_to_tensor(
                [float(v) for v in self.image_size]
            )
        sizes = ops.cast(sizes, "float32")
        boxes, scores, valid = self.proposals(logits, deltas, training=False, image_sizes=sizes)
        cls_logits, box_deltas = self.roi_head(feats, boxes, training=training)
        return {
            "features": feats,
            "rpn_logits": ops.concatenate(logits, axis=1),
            "rpn_deltas": ops.concatenate(deltas, axis=1),
            "proposals": boxes,
            "proposal_scores": scores,
            "proposal_valid": valid,
            "image_sizes": sizes,
            "class_logits": cls_logits,
            "box_deltas": box_deltas,
        }

    # ----- the contract's decoding (torchvision's RoIHeads.postprocess_detections)
    def decode_anchors(self, raw: dict[str, Any]) -> Any:
        return raw["proposals"]

    def decode_predictions(self, raw: dict[str, Any], postprocess: PostprocessConfig | None = None) -> dict:
        settings = self.postprocess if postprocess is None else postprocess
        scores = ops.softmax(ops.cast(raw["class_logits"], "float32"), axis=-1)
        boxes = decode_boxes(raw["box_deltas"], raw["proposals"][:, :, None, :], self.box_weights)
        clip_h, clip_w = _clip_sizes(raw["image_sizes"], self.image_size)  # [B, 1] each
        boxes = clip_boxes(boxes, clip_h[..., None], clip_w[..., None])  # boxes [B, P, C, 4]
        big = ((boxes[..., 2] - boxes[..., 0]) >= 1e-2) & ((boxes[..., 3] - boxes[..., 1]) >= 1e-2)
        scores = ops.where(big & raw["proposal_valid"][..., None], scores, 0.0)
        dets = batched_nms(
            boxes,
            scores,
            max_detections=settings.max_detections,
            iou_threshold=settings.iou_threshold,
            score_threshold=settings.score_threshold,
            pre_nms_top_k=settings.pre_nms_top_k,
        )
        return self.extend_detections(dets, raw)

    # ----- training (torchvision's losses, through TwoStageTraining)
    def training_proposals(self, y_pred: dict[str, Any]) -> tuple[Any, Any, Any]:
        """torchvision's training proposals (2000 per level -> NMS 0.7 -> 2000) from the raw outputs."""
        splits = np.cumsum([int(a.shape[0]) for a in self.level_anchors])[:-1].tolist()
        logits = ops.split(y_pred["rpn_logits"], splits, axis=1)
        deltas = ops.split(y_pred["rpn_deltas"], splits, axis=1)
        return self.proposals(logits, deltas, training=True, image_sizes=y_pred.get("image_sizes"))

    # ----- torchvision's transform (used by zoo.detection.detect)
    def resize_scale(self, height: int, width: int) -> float:
        """torchvision's ``GeneralizedRCNNTransform`` scale, further limited to fit ``image_size``."""
        scale = min(self.min_size / min(height, width), self.max_size / max(height, width))
        return min(scale, self.image_size[0] / height, self.image_size[1] / width)

    def prepare_images(
        self, images: Sequence[np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """torchvision's transform: keep-aspect resize (short side ``min_size``, long side at most
        ``max_size``, bilinear, half-pixel), padded bottom/right with the mean colour to ``image_size``.

        Returns:
            (model inputs ``{"images": [B, H, W, 3] float32 0..255, "image_sizes": [B, 2] resized
            content size}``, meta: ``scale`` [B, 2] (y, x) original / resized, ``sizes`` [B, 2]
            original (height, width)).
        """
        height, width = self.image_size
        pad = np.array([255.0 * m for m in TORCHVISION_MEAN], "float32")
        batch = np.empty((len(images), height, width, 3), "float32")
        batch[:] = pad
        scales, sizes, content = [], [], []
        for i, im in enumerate(images):
            h, w = im.shape[:2]
            factor = self.resize_scale(h, w)
            rh, rw = (
                max(1, min(height, int(np.floor(h * factor)))),
                max(1, min(width, int(np.floor(w * factor)))),
            )
            im = np.asarray(im, "float32")
            if (rh, rw) != (h, w):
                im = np.asarray(
                    ops.convert_to_numpy(ops.image.resize(im, (rh, rw), interpolation="bilinear"))
                )
            batch[i, :rh, :rw] = im
            scales.append((h / rh, w / rw))
            sizes.append((h, w))
            content.append((rh, rw))
        meta = {"scale": np.asarray(scales, "float32"), "sizes": np.asarray(sizes, "int64")}
        return {"images": batch, "image_sizes": np.asarray(content, "float32")}, meta

    def finish_detections(
        self, detections: dict[str, np.ndarray], meta: dict[str, np.ndarray]
    ) -> dict[str, Any]:
        """Detections in the batch's pixels -> each original image's pixels (see ``prepare_images``)."""
        out = dict(detections)
        sy, sx = meta["scale"][:, 0], meta["scale"][:, 1]
        factor = np.stack([sx, sy, sx, sy], axis=-1)[:, None, :]
        out["boxes"] = (np.asarray(detections["boxes"]) * factor).astype("float32")
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "image_shape": self.image_shape,
            "depth": self.depth,
            "variant": self.variant,
            "anchor_sizes": self.anchor_sizes,
            "anchor_ratios": self.anchor_ratios,
            "rpn_pre_nms_top_n": self.rpn_pre_nms_top_n,
            "rpn_post_nms_top_n": self.rpn_post_nms_top_n,
            "rpn_nms_iou": self.rpn_nms_iou,
            "rpn_batch": self.rpn_batch,
            "roi_batch": self.roi_batch,
            "roi_fg_fraction": self.roi_fg_fraction,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "seed": self.seed,
            **self.detector_config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> FasterRCNNFPN:
        return cls(**config)


@keras.saving.register_keras_serializable(package="zoo")
class MaskRCNNFPN(MaskTraining, FasterRCNNFPN):
    """Mask R-CNN with a ResNet-FPN body (torchvision's ``maskrcnn_resnet50_fpn``; see the module).

    The detections dict also holds ``mask_probs`` [B, K, 28, 28]: each detection's class mask
    (sigmoid), in the box's frame; :meth:`paste_masks` puts them into image pixels.
    """

    loss_names = (*FasterRCNNFPN.loss_names, "mask_loss")
    mask_size = 28
    mask_target_aligned = (
        False  # torchvision's project_masks_on_boxes: roi_align(aligned=False), soft targets
    )
    binary_mask_targets = False

    def __init__(self, mask_channels: int = 256, **kwargs: Any):
        super().__init__(**kwargs)
        self.mask_channels = int(mask_channels)
        channels = int(self.backbone.outputs[0].shape[-1])
        self.mask_pooler = MultiScaleRoIAlign(14, self.box_pooler.spatial_scales, name="mask_roi_pool")
        self.mask_head = _mask_head((14, 14, channels), self.num_classes, self.mask_channels)

    def mask_logits(self, features: Sequence[Any], boxes: Any, training: bool = False) -> Any:
        """Per-class mask logits [B, K, 28, 28, C] for boxes [B, K, 4] (xyxy pixels)."""
        num = boxes.shape[1]
        logits = self.mask_head(
            self.mask_pooler([*features[:4], _rois(ops.stop_gradient(boxes))]), training=training
        )
        return ops.reshape(logits, (-1, num, self.mask_size, self.mask_size, self.num_classes))

    def extend_detections(self, detections: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
        logits = self.mask_logits(raw["features"], detections["boxes"])
        classes = ops.maximum(ops.cast(detections["classes"], "int32"), 0)
        probs = ops.sigmoid(ops.take_along_axis(logits, classes[:, :, None, None, None], axis=-1)[..., 0])
        valid = (ops.cast(detections["classes"], "int32") >= 0)[:, :, None, None]
        return {**detections, "mask_probs": ops.where(valid, probs, 0.0)}

    def finish_detections(
        self, detections: dict[str, np.ndarray], meta: dict[str, np.ndarray]
    ) -> dict[str, Any]:
        """Adds ``masks``: per image a [K, H, W] float array of soft masks in the original pixels
        (threshold at 0.5 for binary masks), as torchvision returns them."""
        out = super().finish_detections(detections, meta)
        out["masks"] = [
            self.paste_masks(out["mask_probs"][i, :n], out["boxes"][i, :n], meta["sizes"][i])
            for i, n in enumerate(np.asarray(out["num_detections"]))
        ]
        return out

    @staticmethod
    def paste_masks(mask_probs: np.ndarray, boxes: np.ndarray, image_size: Sequence[int]) -> np.ndarray:
        """torchvision's ``paste_masks_in_image``: [K, M, M] box-frame masks -> [K, H, W] soft masks.

        Each mask gets one pixel of zero padding, its box is enlarged by (M + 2) / M, truncated to
        integers, and the mask is resized bilinearly (half-pixel centres) to the box's integer size
        ``x2 - x1 + 1`` by ``y2 - y1 + 1`` and pasted, clipped to the image.
        """
        mask_probs = np.asarray(mask_probs, "float32")
        boxes = np.asarray(boxes, "float32")
        height, width = (int(v) for v in image_size)
        out = np.zeros((len(mask_probs), height, width), "float32")
        if not len(mask_probs):
            return out
        m = mask_probs.shape[-1]
        scale = np.float32(m + 2) / np.float32(m)
        padded = np.pad(mask_probs, ((0, 0), (1, 1), (1, 1)))
        half_w = (boxes[:, 2] - boxes[:, 0]) * np.float32(0.5) * scale
        half_h = (boxes[:, 3] - boxes[:, 1]) * np.float32(0.5) * scale
        cx = (boxes[:, 2] + boxes[:, 0]) * np.float32(0.5)
        cy = (boxes[:, 3] + boxes[:, 1]) * np.float32(0.5)
        expanded = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1).astype("int64")
        for i, (x0, y0, x1, y1) in enumerate(expanded):
            w, h = max(int(x1 - x0 + 1), 1), max(int(y1 - y0 + 1), 1)
            resized = _resize_bilinear(padded[i], h, w)
            xa, xb = max(x0, 0), min(x1 + 1, width)
            ya, yb = max(y0, 0), min(y1 + 1, height)
            if xb > xa and yb > ya:
                out[i, ya:yb, xa:xb] = resized[ya - y0 : yb - y0, xa - x0 : xb - x0]
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_channels": self.mask_channels}


COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)  # fmt: skip
COCO_PERSON = ("__background__", "person")


def keypoint_targets(rois: Any, keypoints: Any, heatmap_size: int = 56) -> tuple[Any, Any]:
    """torchvision's ``keypoints_to_heatmap``: the heatmap cell of each keypoint in its RoI.

    Args:
        rois: [..., 4] xyxy pixels; keypoints: [..., P, 3] = (x, y, visibility) pixels.

    Returns:
        (cell index ``y * size + x`` [..., P] int32, valid [..., P] bool: visible and inside the RoI;
        a keypoint exactly on the RoI's right or bottom edge goes to the last cell).
    """
    rois = ops.cast(rois, "float32")
    keypoints = ops.cast(keypoints, "float32")
    size = float(heatmap_size)
    x1, y1, x2, y2 = (rois[..., i][..., None] for i in range(4))
    px, py = keypoints[..., 0], keypoints[..., 1]
    cx = ops.floor((px - x1) * (size / (x2 - x1)))
    cy = ops.floor((py - y1) * (size / (y2 - y1)))
    cx = ops.where(px == x2, size - 1.0, cx)
    cy = ops.where(py == y2, size - 1.0, cy)
    ok = (cx >= 0) & (cy >= 0) & (cx < size) & (cy < size) & (keypoints[..., 2] > 0)
    return ops.cast(ops.where(ok, cy * size + cx, 0.0), "int32"), ok


def _keypoint_head(
    pooled_shape: tuple[int, int, int], num_keypoints: int, channels: int = 512
) -> keras.Model:
    """torchvision's ``KeypointRCNNHeads`` (8 x conv3x3 512 + ReLU) and ``KeypointRCNNPredictor``
    (transposed conv 4x4 / 2 to the keypoints, then bilinear 2x): 14x14 RoIs -> 56x56 heatmaps."""
    rois = keras.Input(pooled_shape, name="keypoint_pooled")
    x = rois
    for i in range(8):
        x = keras.layers.Conv2D(
            channels, 3, padding="same", activation="relu", name=f"keypoint_head_{2 * i}"
        )(x)
    x = keras.layers.Conv2DTranspose(num_keypoints, 4, strides=2, padding="same", name="kps_score_lowres")(x)
    x = keras.layers.UpSampling2D(2, interpolation="bilinear", name="kps_upsample")(x)
    return keras.Model(rois, x, name="keypoint_head")


@keras.saving.register_keras_serializable(package="zoo")
class KeypointRCNNFPN(FasterRCNNFPN):
    """Keypoint R-CNN with a ResNet-FPN body (torchvision's ``keypointrcnn_resnet50_fpn``).

    The detections dict also holds ``keypoint_heatmaps`` [B, K, 56, 56, P] (P = 17 COCO keypoints) of
    each detection, in its box's frame; :meth:`decode_keypoints` turns them into (x, y, 1) image
    points and scores as torchvision does (``heatmaps_to_keypoints``: bicubic resize of each heatmap
    to the box's ceiled size, argmax, +0.5, the value there as the score).

    Args:
        num_keypoints: P (17 for COCO persons).
        keypoint_names: P names (COCO's by default when P = 17).
        **kwargs: :class:`FasterRCNNFPN` arguments (``num_classes`` 2: background and person).
    """

    loss_names = (*FasterRCNNFPN.loss_names, "keypoint_loss")
    heatmap_size = 56

    def __init__(self, num_keypoints: int = 17, keypoint_names: Sequence[str] | None = None, **kwargs: Any):
        kwargs.setdefault("num_classes", 2)
        super().__init__(**kwargs)
        if int(num_keypoints) < 1:
            raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
        self.num_keypoints = int(num_keypoints)
        if keypoint_names is None and self.num_keypoints == len(COCO_KEYPOINTS):
            keypoint_names = COCO_KEYPOINTS
        if keypoint_names is not None and len(keypoint_names) != self.num_keypoints:
            raise ValueError(
                f"keypoint_names has {len(keypoint_names)} names for {self.num_keypoints} keypoints"
            )
        self.keypoint_names = None if keypoint_names is None else tuple(keypoint_names)
        channels = int(self.backbone.outputs[0].shape[-1])
        self.keypoint_pooler = MultiScaleRoIAlign(
            14, self.box_pooler.spatial_scales, name="keypoint_roi_pool"
        )
        self.keypoint_head = _keypoint_head((14, 14, channels), self.num_keypoints)

    def keypoint_logits(self, features: Sequence[Any], boxes: Any, training: bool = False) -> Any:
        """Heatmap logits [B, K, 56, 56, P] for boxes [B, K, 4] (xyxy pixels)."""
        num = boxes.shape[1]
        pooled = self.keypoint_pooler([*features[:4], _rois(ops.stop_gradient(boxes))])
        maps = self.keypoint_head(pooled, training=training)
        size = self.heatmap_size
        return ops.reshape(maps, (-1, num, size, size, self.num_keypoints))

    def extend_detections(self, detections: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
        maps = self.keypoint_logits(raw["features"], detections["boxes"])
        valid = (ops.cast(detections["classes"], "int32") >= 0)[:, :, None, None, None]
        return {**detections, "keypoint_heatmaps": ops.where(valid, maps, 0.0)}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The four losses plus the keypoint loss (softmax over the 56x56 cells of each visible keypoint)."""
        if not isinstance(y, dict) or "keypoints" not in y:
            raise ValueError(
                "Keypoint R-CNN targets need 'keypoints' [B, G, P, 3] = (x, y, visibility) in input pixels "
                "besides boxes/classes/valid."
            )
        parts, r, feats = self.detection_losses(x, y, y_pred, training=training)
        parts["keypoint_loss"] = self.keypoint_loss(feats, r, y["keypoints"], training=training)
        return self._total_loss(parts)

    def keypoint_loss(
        self, features: Sequence[Any], targets: dict[str, Any], gt_keypoints: Any, training: bool = True
    ) -> Any:
        """torchvision's ``keypointrcnn_loss``: each visible keypoint inside its RoI is the class of one cell."""
        n_fg = max(1, min(int(targets["rois"].shape[1]), math.ceil(self.roi_batch * self.roi_fg_fraction)))
        rois = targets["rois"][:, :n_fg]
        fg = targets["classes"][:, :n_fg] > 0
        kp = ops.take_along_axis(
            ops.cast(gt_keypoints, "float32"), targets["matched_gt"][:, :n_fg, None, None], axis=1
        )  # [B, S, P, 3]
        size = self.heatmap_size
        target, ok = keypoint_targets(rois, kp, size)
        ok = ok & fg[..., None]
        logits = self.keypoint_logits(features, rois, training=training)  # [B, S, 56, 56, P]
        logits = ops.reshape(ops.transpose(logits, (0, 1, 4, 2, 3)), (-1, size * size))
        ce = keras.losses.sparse_categorical_crossentropy(
            ops.reshape(target, (-1,)), logits, from_logits=True
        )
        weight = ops.reshape(ops.cast(ok, "float32"), (-1,))
        return ops.sum(ce * weight) / ops.maximum(ops.sum(weight), 1.0)

    def finish_detections(
        self, detections: dict[str, np.ndarray], meta: dict[str, np.ndarray]
    ) -> dict[str, Any]:
        """Adds ``keypoints`` [B, K, P, 3] = (x, y, 1) in the original pixels and ``keypoint_scores`` [B, K, P]."""
        out = super().finish_detections(detections, meta)
        heatmaps = np.asarray(out["keypoint_heatmaps"])
        b, k = heatmaps.shape[:2]
        points = np.zeros((b, k, self.num_keypoints, 3), "float32")
        scores = np.zeros((b, k, self.num_keypoints), "float32")
        for i, n in enumerate(np.asarray(out["num_detections"])):
            boxes = np.asarray(detections["boxes"])[i, :n]  # in the batch's pixels, as the heatmaps
            points[i, :n], scores[i, :n] = self.decode_keypoints(heatmaps[i, :n], boxes)
            points[i, :n, :, 0] *= meta["scale"][i, 1]
            points[i, :n, :, 1] *= meta["scale"][i, 0]
        out["keypoints"], out["keypoint_scores"] = points, scores
        return out

    @staticmethod
    def decode_keypoints(heatmaps: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """torchvision's ``heatmaps_to_keypoints``: [K, 56, 56, P] heatmaps + [K, 4] boxes ->
        (keypoints [K, P, 3] = (x, y, 1) image pixels, scores [K, P])."""
        heatmaps = np.asarray(heatmaps, "float32")
        boxes = np.asarray(boxes, "float32")
        k, p = len(heatmaps), heatmaps.shape[-1] if heatmaps.ndim == 4 else 0
        points = np.zeros((k, p, 3), "float32")
        scores = np.zeros((k, p), "float32")
        widths = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
        heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        for i in range(k):
            w, h = int(np.ceil(widths[i])), int(np.ceil(heights[i]))
            roi_map = _resize_bicubic(np.transpose(heatmaps[i], (2, 0, 1)), h, w)  # [P, h, w]
            pos = roi_map.reshape(p, -1).argmax(axis=1)
            x_int, y_int = pos % w, pos // w
            points[i, :, 0] = (x_int + np.float32(0.5)) * (widths[i] / np.float32(w)) + boxes[i, 0]
            points[i, :, 1] = (y_int + np.float32(0.5)) * (heights[i] / np.float32(h)) + boxes[i, 1]
            points[i, :, 2] = 1.0
            scores[i] = roi_map[np.arange(p), y_int, x_int]
        return points, scores

    def get_config(self) -> dict[str, Any]:
        names = None if self.keypoint_names is None else list(self.keypoint_names)
        return {**super().get_config(), "num_keypoints": self.num_keypoints, "keypoint_names": names}


def _resize_bicubic(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """torch's bicubic interpolation (A = -0.75, half-pixel centres, edge taps clamped) of [N, h, w] maps."""

    def weights(out: int, size: int) -> np.ndarray:
        a = -0.75
        src = (np.arange(out, dtype="float64") + 0.5) * (size / out) - 0.5
        base = np.floor(src)
        t = src - base
        taps = np.stack([t + 1, t, 1 - t, 2 - t], axis=1)
        near = ((a + 2) * taps - (a + 3)) * taps * taps + 1
        far = ((a * taps - 5 * a) * taps + 8 * a) * taps - 4 * a
        coef = np.where(np.abs(taps) <= 1, near, far)
        matrix = np.zeros((out, size))
        for j in range(4):
            idx = np.clip(base.astype("int64") - 1 + j, 0, size - 1)
            np.add.at(matrix, (np.arange(out), idx), coef[:, j])
        return matrix

    wy, wx = weights(height, maps.shape[1]), weights(width, maps.shape[2])
    return np.einsum("oh,nhw,pw->nop", wy, maps.astype("float64"), wx).astype("float32")


def _resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a 2-D map, half-pixel centres, no antialiasing (torch ``align_corners=False``)."""

    def axis(out: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.maximum(
            (np.arange(out, dtype="float32") + 0.5) * (np.float32(size) / np.float32(out)) - 0.5, 0
        )
        lo = np.minimum(np.floor(src).astype("int64"), size - 1)
        hi = np.minimum(lo + 1, size - 1)
        return lo, hi, (src - lo).astype("float32")

    y0, y1, fy = axis(height, image.shape[0])
    x0, x1, fx = axis(width, image.shape[1])
    top = image[y0][:, x0] * (1 - fx) + image[y0][:, x1] * fx
    bottom = image[y1][:, x0] * (1 - fx) + image[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


def _create(
    cls: type[FasterRCNNFPN],
    name: str,
    num_classes: Any,
    classes: Any,
    input_shape: Any,
    weights: Any,
    **kwargs: Any,
):
    num_classes = resolve_num_classes(num_classes, classes, default=91)
    model = cls(num_classes=num_classes, image_shape=tuple(input_shape), name=name, **kwargs)
    if weights is None:
        return model
    from zoo.detection.fpn_weights import load_torchvision_weights

    return load_torchvision_weights(model, name, weights)


_PAPERS = {
    "fasterrcnn_resnet50_fpn": f"Ren et al. 2015 + {FPN_PAPER}",
    "fasterrcnn_resnet50_fpn_v2": f"Li et al., Benchmarking Detection Transfer Learning with ViTs, 2021 + {FPN_PAPER}",
    "keypointrcnn_resnet50_fpn": f"He et al., Mask R-CNN (keypoint branch), ICCV 2017 + {FPN_PAPER}",
    "maskrcnn_resnet50_fpn": f"He et al., Mask R-CNN, ICCV 2017 + {FPN_PAPER}",
}


@register(
    "fasterrcnn_resnet50_fpn",
    task="detection",
    paper=_PAPERS["fasterrcnn_resnet50_fpn"],
    input_shape=(800, 1344, 3),
    weights=("torchvision", "COCO_V1"),
    references={
        "coco_box_map": 37.0,
        "coco_box_map_source": "torchvision FasterRCNN_ResNet50_FPN_Weights.COCO_V1",
    },
    preprocess="none",
)
def fasterrcnn_resnet50_fpn(
    num_classes: int | None = None,
    input_shape: Sequence[int] = (800, 1344, 3),
    weights: Any = None,
    classes: int | None = None,
    **kwargs: Any,
) -> FasterRCNNFPN:
    """Faster R-CNN ResNet-50-FPN (torchvision's layout; COCO_V1: box mAP 37.0).

    Args:
        num_classes: objects + background (COCO: 91, the default); ``classes`` is accepted too.
        input_shape: (height, width, 3), sides multiples of 32 (smaller for CPU experiments).
        weights: None, ``"torchvision"`` / ``"COCO_V1"`` (the torch hub cache), a ``.pth`` or
            ``.weights.h5`` path.
        **kwargs: :class:`FasterRCNNFPN` settings (proposal counts, samplers, ``postprocess``).

    Example:
        >>> model = zoo.get("fasterrcnn_resnet50_fpn", num_classes=4, input_shape=(256, 256, 3))
    """
    return _create(
        FasterRCNNFPN, "fasterrcnn_resnet50_fpn", num_classes, classes, input_shape, weights, **kwargs
    )


@register(
    "fasterrcnn_resnet50_fpn_v2",
    task="detection",
    paper=_PAPERS["fasterrcnn_resnet50_fpn_v2"],
    input_shape=(800, 1344, 3),
    weights=("torchvision", "COCO_V1"),
    references={
        "coco_box_map": 46.7,
        "coco_box_map_source": "torchvision FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1",
    },
    preprocess="none",
)
def fasterrcnn_resnet50_fpn_v2(
    num_classes: int | None = None,
    input_shape: Sequence[int] = (800, 1344, 3),
    weights: Any = None,
    classes: int | None = None,
    **kwargs: Any,
) -> FasterRCNNFPN:
    """Faster R-CNN ResNet-50-FPN v2 (torchvision's layout; COCO_V1: box mAP 46.7).

    BatchNorm in the pyramid and the box head (``FastRCNNConvFCHead``: four 3x3 convolutions and one
    fully connected layer), two RPN convolutions. Arguments as :func:`fasterrcnn_resnet50_fpn`.

    Example:
        >>> model = zoo.get("fasterrcnn_resnet50_fpn_v2", num_classes=4, input_shape=(256, 256, 3))
    """
    return _create(
        FasterRCNNFPN,
        "fasterrcnn_resnet50_fpn_v2",
        num_classes,
        classes,
        input_shape,
        weights,
        variant="v2",
        **kwargs,
    )


@register(
    "maskrcnn_resnet50_fpn",
    task="detection",
    paper=_PAPERS["maskrcnn_resnet50_fpn"],
    input_shape=(800, 1344, 3),
    weights=("torchvision", "COCO_V1"),
    references={
        "coco_box_map": 37.9,
        "coco_mask_map": 34.6,
        "coco_map_source": "torchvision MaskRCNN_ResNet50_FPN_Weights.COCO_V1",
    },
    preprocess="none",
)
def maskrcnn_resnet50_fpn(
    num_classes: int | None = None,
    input_shape: Sequence[int] = (800, 1344, 3),
    weights: Any = None,
    classes: int | None = None,
    **kwargs: Any,
) -> MaskRCNNFPN:
    """Mask R-CNN ResNet-50-FPN (torchvision's layout; COCO_V1: box mAP 37.9, mask mAP 34.6).

    Arguments as :func:`fasterrcnn_resnet50_fpn`, plus ``mask_channels`` (256).

    Example:
        >>> model = zoo.get("maskrcnn_resnet50_fpn", num_classes=4, input_shape=(256, 256, 3))
    """
    return _create(MaskRCNNFPN, "maskrcnn_resnet50_fpn", num_classes, classes, input_shape, weights, **kwargs)


@register(
    "keypointrcnn_resnet50_fpn",
    task="detection",
    paper=_PAPERS["keypointrcnn_resnet50_fpn"],
    input_shape=(800, 1344, 3),
    weights=("torchvision", "COCO_V1", "COCO_LEGACY"),
    references={
        "coco_box_map": 54.6,
        "coco_keypoint_map": 65.0,
        "coco_map_source": "torchvision KeypointRCNN_ResNet50_FPN_Weights.COCO_V1 (person category)",
    },
    preprocess="none",
)
def keypointrcnn_resnet50_fpn(
    num_classes: int | None = None,
    input_shape: Sequence[int] = (800, 1344, 3),
    weights: Any = None,
    classes: int | None = None,
    num_keypoints: int = 17,
    **kwargs: Any,
) -> KeypointRCNNFPN:
    """Keypoint R-CNN ResNet-50-FPN (torchvision's layout; COCO_V1: box mAP 54.6, keypoint mAP 65.0).

    Args:
        num_classes: objects + background (COCO persons: 2, the default); ``classes`` too.
        num_keypoints: keypoints per object (17 COCO keypoints, names in ``model.keypoint_names``).
        Others as :func:`fasterrcnn_resnet50_fpn`.

    Example:
        >>> model = zoo.get("keypointrcnn_resnet50_fpn", input_shape=(256, 256, 3))
    """
    num_classes = resolve_num_classes(num_classes, classes, default=2)
    return _create(
        KeypointRCNNFPN, "keypointrcnn_resnet50_fpn", num_classes, None, input_shape, weights,
        num_keypoints=num_keypoints, **kwargs,
    )  # fmt: skip
