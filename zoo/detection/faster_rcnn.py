"""Faster R-CNN (Ren et al., NeurIPS 2015) with VGG16 or ResNet-50 (C4) bodies, trained end to end.

Boxes are **xyxy in absolute pixels** of the model input everywhere (the zoo's convention).

Architectures (data in ``ARCHS``):

- ``vgg16``: VGG16 configuration D up to ``block5_conv3`` (conv5_3, stride 16, keras.applications
  layer names), RPN with a 512-channel 3x3 convolution, RoI max pooling 7x7 (Fast R-CNN), then the
  classifier's ``fc1``/``fc2`` (fc6/fc7, 4096, dropout 0.5), so ImageNet VGG16 weights load by name.
- ``resnet50``: the paper's ResNet variant (He et al. 2016, "C4"): ResNet-50 up to
  ``conv4_block6_out`` (stride 16, 1024 channels) as the body, RoIAlign 14x14 (sampling ratio 2)
  and the whole ``conv5`` stage (stride 2, keras.applications names ``conv5_block1`` ...) plus
  global average pooling as the per-RoI head. Not the FPN variant.

Heads: ``cls_score`` (softmax over ``num_classes`` = objects + background class 0) and
``bbox_pred`` (per-class box deltas, weights ``FASTER_RCNN_WEIGHTS`` = (10, 10, 5, 5)).

``call`` returns the same structure in training and inference: the body's ``features``, the RPN's
``rpn_logits`` / ``rpn_deltas``, the test-time ``proposals`` (6000 -> NMS 0.7 -> 300) with
``proposal_scores``, and the RoI head's raw ``class_logits`` [B, P, C] and ``box_deltas``
[B, P, C, 4] on them (``training`` only switches dropout; under ``fit``'s compiled step the unused
proposal branch is pruned from the graph). ``model.predict`` / ``detect_batch`` /
``zoo.detection.detect`` decode them with the model's ``postprocess`` settings (defaults
``FasterRCNN.POSTPROCESS``: per-class NMS 0.3, score > 0.05, 100 per image: py-faster-rcnn's test
settings), the one post-processing path of ``zoo.detection.base.Detector``.

Training (``model.fit((images, targets))``, the batch format of ``zoo.data``): ``compute_loss``
assigns anchor targets, makes the
training proposals (12000 -> NMS 0.7 -> 2000 by default), samples 128 RoIs per image (25 %
foreground) with the ground truth added, runs the RoI head on them and returns the sum of the four
losses (RPN cls + RPN smooth L1 with sigma 3 + head softmax CE + head smooth L1 with sigma 1, as
py-faster-rcnn). Proposals are not differentiated through (approximate joint training, as the
reference). ``compute_loss`` only uses keras.ops, so ``fit`` works on TensorFlow and JAX.

Input: RGB float 0..255 of the fixed size the model was built for; the ImageNet (caffe) mean is
subtracted inside the model. Small inputs and ``width`` < 1 (narrower VGG, CPU training) use the
same code; anchor sizes are an argument (the paper's 128, 256, 512 suit ~600 px images).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.classification.vgg import scaled_filters as _scaled
from zoo.classification.vgg import vgg_features
from zoo.detection.base import (
    Detector,
    PostprocessConfig,
    caffe_normalization,
    check_kwargs,
    flip_input_channels,
)
from zoo.detection.losses import scale_loss_for_replicas, smooth_l1, softmax_cross_entropy
from zoo.detection.rpn import RPN_TEST, RPN_TRAIN, RPNHead, propose, roi_targets, rpn_loss, rpn_targets
from zoo.layers.roi import RoIAlign, RoIPooling
from zoo.ops.anchors import grid_anchors
from zoo.ops.boxes import FASTER_RCNN_WEIGHTS
from zoo.registry import register, resolve_num_classes
from zoo.weights import WeightsError, imagenet_file, load_by_name

PAPER = (
    "Ren et al., Faster R-CNN: Towards Real-Time Object Detection with Region Proposal Networks, NeurIPS 2015"
)
PAPER_ANCHOR_SIZES = (128.0, 256.0, 512.0)  # for images with a 600 px short side

# Per architecture: feature stride, RPN conv width, pooler, pooled size, head output width.
ARCHS: dict[str, dict[str, Any]] = {
    "vgg16": {"stride": 16, "rpn_channels": 512, "pooler": "roi_pool", "pooled_size": 7, "head_dim": 4096},
    "resnet50": {
        "stride": 16,
        "rpn_channels": 1024,
        "pooler": "roi_align",
        "pooled_size": 14,
        "head_dim": 2048,
    },
}


def _vgg16_body(image_shape: tuple[int, int, int], width: float) -> keras.Model:
    image = keras.Input(image_shape, name="image")
    # conv1_1 .. conv5_3 (stride 16), keras.applications names; width < 1 for CPU-sized training
    x = vgg_features(caffe_normalization(image), "D", last_pool=False, width=width)
    return keras.Model(image, x, name="vgg16_conv5_3")


def _vgg16_head(pooled_shape: tuple[int, int, int], width: float) -> keras.Model:
    rois = keras.Input(pooled_shape, name="pooled_rois")
    x = keras.layers.Flatten(name="flatten")(rois)
    x = keras.layers.Dense(_scaled(4096, width), activation="relu", name="fc1")(x)
    x = keras.layers.Dropout(0.5, name="fc1_dropout")(x)
    x = keras.layers.Dense(_scaled(4096, width), activation="relu", name="fc2")(x)
    x = keras.layers.Dropout(0.5, name="fc2_dropout")(x)
    return keras.Model(rois, x, name="vgg16_fc6_fc7")


def _resnet50_body(image_shape: tuple[int, int, int]) -> keras.Model:
    from zoo.classification.resnet import resnet50

    full = resnet50(include_top=False, weights=None, input_shape=image_shape)
    image = keras.Input(image_shape, name="image")
    body = keras.Model(full.input, full.get_layer("conv4_block6_out").output)
    return keras.Model(image, body(caffe_normalization(image)), name="resnet50_c4")


def _resnet50_head(pooled_shape: tuple[int, int, int]) -> keras.Model:
    from zoo.classification.resnet import bottleneck_block

    rois = keras.Input(pooled_shape, name="pooled_rois")
    x = rois
    for b in range(1, 4):
        x = bottleneck_block(x, 512, 2 if b == 1 else 1, "B", f"conv5_block{b}")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(rois, x, name="resnet50_res5_head")


def _check_image_shape(image_shape: Any, stride: int) -> tuple[int, int, int]:
    try:
        h, w, c = (int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"input_shape must be a fixed (height, width, 3); got {image_shape!r}. Faster R-CNN's anchors "
            "depend on the feature-map size; resize images to one size (zoo.detection.detect does)."
        ) from None
    if c != 3:
        raise ValueError(f"input must have 3 (RGB) channels, got {c}")
    if min(h, w) < 2 * stride:
        raise ValueError(
            f"input size {h}x{w} is too small; Faster R-CNN needs at least {2 * stride} px a side"
        )
    return h, w, c


class TwoStageTraining:
    """The joint training of the two-stage detectors (a mixin before ``Detector``): RPN targets and
    loss on ``self.anchors``, RoI sampling on ``self.training_proposals(y_pred)``, the head losses.

    Class attributes choose the reference's settings: ``rpn_sigma`` / ``head_sigma`` (smooth L1
    beta = 1 / sigma^2; py-faster-rcnn 3 and 1, torchvision 3 and 3) and ``roi_bg_iou`` (background
    IoU range; py-faster-rcnn [0.1, 0.5), torchvision [0, 0.5)). Models provide ``anchors``,
    ``rpn_batch``, ``roi_batch``, ``roi_fg_fraction``, ``sampler``, ``loss_trackers``,
    ``training_proposals`` and ``roi_head``.
    """

    rpn_sigma: float = 3.0
    head_sigma: float = 1.0
    roi_bg_iou: tuple[float, float] = (0.1, 0.5)

    def detection_losses(self, x: Any, y: Any, y_pred: Any, training: bool = True) -> tuple[dict, dict, Any]:
        """The four losses, the sampled RoI targets and the features (``compute_loss``'s work)."""
        if not isinstance(y, dict) or "boxes" not in y or "classes" not in y:
            raise ValueError(
                f"{type(self).__name__} targets must be a dict with 'boxes' [B, G, 4] (xyxy pixels of the model "
                "input), 'classes' [B, G] (1..num_classes-1, -1 pad) and optionally 'valid' [B, G]; "
                f"got {type(y).__name__}"
            )
        gt_boxes = ops.cast(y["boxes"], "float32")
        gt_classes = ops.cast(y["classes"], "int32")
        gt_valid = y.get("valid")
        gt_valid = gt_classes > 0 if gt_valid is None else ops.cast(gt_valid, "bool") & (gt_classes > 0)
        feats = y_pred["features"]
        parts = self.rpn_losses(gt_boxes, gt_valid, y_pred)

        boxes, _, valid = self.training_proposals(y_pred)
        r = roi_targets(
            boxes,
            valid,
            gt_boxes,
            gt_classes,
            gt_valid,
            num_samples=self.roi_batch,
            fg_fraction=self.roi_fg_fraction,
            bg_iou=self.roi_bg_iou,
            weights=self.box_weights,
            seed=self.sampler,
        )
        cls_logits, box_deltas = self.roi_head(feats, r["rois"], training=training)
        cls_loss, box_loss = head_loss(cls_logits, box_deltas, r, sigma=self.head_sigma)
        parts.update(cls_loss=cls_loss, box_loss=box_loss)
        return parts, r, feats

    def rpn_losses(self, gt_boxes: Any, gt_valid: Any, y_pred: dict[str, Any]) -> dict[str, Any]:
        """The RPN's two losses (Fast R-CNN, fed external proposals, has none)."""
        t = rpn_targets(self.anchors, gt_boxes, gt_valid, num_samples=self.rpn_batch, seed=self.sampler)
        rpn_cls, rpn_reg = rpn_loss(y_pred["rpn_logits"], y_pred["rpn_deltas"], t, sigma=self.rpn_sigma)
        return {"rpn_cls_loss": rpn_cls, "rpn_reg_loss": rpn_reg}

    def _total_loss(self, parts: dict[str, Any]) -> Any:
        loss = 0.0
        for name, value in parts.items():
            self.loss_trackers[name].update_state(value)
            loss = loss + value
        for extra in self.losses:
            loss = loss + ops.sum(extra)
        return scale_loss_for_replicas(loss)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Sum of the four two-stage losses for a batch (see the module docstring)."""
        parts, _, _ = self.detection_losses(x, y, y_pred, training=training)
        return self._total_loss(parts)

    @property
    def metrics(self) -> list[Any]:
        return [*super().metrics, *self.loss_trackers.values()]


@keras.saving.register_keras_serializable(package="zoo")
class FasterRCNN(TwoStageTraining, Detector, keras.Model):
    """Faster R-CNN detector with the four-loss joint training built into ``compute_loss``.

    Outputs (``call``, training and inference alike): ``features``, ``rpn_logits`` [B, A],
    ``rpn_deltas`` [B, A, 4], ``proposals`` [B, P, 4], ``proposal_scores`` [B, P],
    ``class_logits`` [B, P, C], ``box_deltas`` [B, P, C, 4] (raw, relative to the proposals).
    ``predict`` / ``detect_batch`` return the detections dict (``zoo.detection.base.Detector``).

    Args:
        arch: "vgg16" or "resnet50" (see ``ARCHS``).
        num_classes: object classes + 1 (class 0 is the background).
        image_shape: fixed input (height, width, 3).
        width: channel multiplier of the VGG16 body and fc layers (1.0 = the paper; vgg16 only).
        anchor_sizes, anchor_ratios: RPN anchors per cell (paper: 128, 256, 512 x 0.5, 1, 2). None:
            the paper's sizes scaled by (short side / 600), i.e. exactly the paper's at 600 px.
        train_proposals, test_proposals: (pre-NMS top k, post-NMS top k) (12000, 2000) / (6000, 300).
        rpn_nms_iou: RPN NMS threshold (0.7).
        rpn_min_size: proposals narrower or lower than this (pixels) are dropped (py-faster-rcnn: 16).
        rpn_batch: anchors sampled per image (256, up to half positive).
        roi_batch, roi_fg_fraction: RoIs sampled per image for the head (128, 25 % foreground).
        dropout: keep the fc dropout (vgg16).
        seed: seed of the anchor/RoI sampling.
        class_names, postprocess: the detector contract (defaults ``FasterRCNN.POSTPROCESS``).

    Example:
        >>> model = zoo.get("faster_rcnn_vgg16", num_classes=4, input_shape=(128, 128, 3), width=0.25,
        ...                 anchor_sizes=(16, 32, 64))
        >>> model.compile(optimizer=keras.optimizers.SGD(1e-3, momentum=0.9))
        >>> model.fit(zoo.data.shapes.shapes_dataset(image_size=128), steps_per_epoch=10)
    """

    POSTPROCESS = PostprocessConfig(
        score_threshold=0.05, iou_threshold=0.3, max_detections=100, pre_nms_top_k=None
    )
    box_weights = FASTER_RCNN_WEIGHTS
    loss_names: tuple[str, ...] = ("rpn_cls_loss", "rpn_reg_loss", "cls_loss", "box_loss")
    has_rpn: bool = True  # Fast R-CNN (zoo.detection.fast_rcnn): False, the proposals are an input

    def __init__(
        self,
        arch: str = "vgg16",
        num_classes: int = 21,
        image_shape: Sequence[int] = (600, 800, 3),
        width: float = 1.0,
        anchor_sizes: Sequence[float] | None = None,
        anchor_ratios: Sequence[float] = (0.5, 1.0, 2.0),
        train_proposals: Sequence[int] = (RPN_TRAIN["pre_nms_top_k"], RPN_TRAIN["post_nms_top_k"]),
        test_proposals: Sequence[int] = (RPN_TEST["pre_nms_top_k"], RPN_TEST["post_nms_top_k"]),
        rpn_nms_iou: float = 0.7,
        rpn_min_size: float = 0.0,
        rpn_batch: int = 256,
        roi_batch: int = 128,
        roi_fg_fraction: float = 0.25,
        seed: int | None = None,
        class_names: Sequence[str] | None = None,
        postprocess: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if arch not in ARCHS:
            raise ValueError(f"Unknown Faster R-CNN arch {arch!r}; choose from {', '.join(ARCHS)}")
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
            raise ValueError(
                f"num_classes must be an integer >= 2 (objects + background 0), got {num_classes!r}"
            )
        if not float(width) > 0 or (arch != "vgg16" and float(width) != 1.0):
            raise ValueError(f"width must be positive (and 1.0 for {arch!r}), got {width}")
        cfg = ARCHS[arch]
        self.arch = arch
        self.image_shape = _check_image_shape(image_shape, cfg["stride"])
        self.init_detector(
            num_classes, self.image_shape[:2], class_names=class_names, postprocess=postprocess
        )
        self.width = float(width)
        self.stride = cfg["stride"]
        if anchor_sizes is None:  # the paper's 128, 256, 512 px for a 600 px short side, scaled
            anchor_sizes = [round(a * min(self.image_size) / 600.0, 2) for a in PAPER_ANCHOR_SIZES]
        self.anchor_sizes = tuple(float(s) for s in anchor_sizes)
        self.anchor_ratios = tuple(float(r) for r in anchor_ratios)
        self.train_proposals = tuple(int(v) for v in train_proposals)
        self.test_proposals = tuple(int(v) for v in test_proposals)
        self.rpn_nms_iou = float(rpn_nms_iou)
        self.rpn_min_size = float(rpn_min_size)
        self.rpn_batch = int(rpn_batch)
        self.roi_batch = int(roi_batch)
        self.roi_fg_fraction = float(roi_fg_fraction)
        self.seed = seed

        if arch == "vgg16":
            self.backbone = _vgg16_body(self.image_shape, self.width)
        else:
            self.backbone = _resnet50_body(self.image_shape)
        fh, fw, fc = (int(v) for v in self.backbone.output.shape[1:])
        self.feature_size = (fh, fw)
        self.anchors = grid_anchors((fh, fw), self.stride, self.anchor_sizes, self.anchor_ratios)
        k = len(self.anchor_sizes) * len(self.anchor_ratios)
        self.rpn = RPNHead(k, _scaled(cfg["rpn_channels"], self.width), name="rpn") if self.has_rpn else None
        p = cfg["pooled_size"]
        if cfg["pooler"] == "roi_pool":
            self.roi_pooler = RoIPooling(p, 1.0 / self.stride, name="roi_pool")
        else:
            self.roi_pooler = RoIAlign(p, 1.0 / self.stride, sampling_ratio=2, aligned=True, name="roi_align")
        if arch == "vgg16":
            self.head = _vgg16_head((p, p, fc), self.width)
        else:
            self.head = _resnet50_head((p, p, fc))
        self.cls_score = keras.layers.Dense(
            self.num_classes,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            name="cls_score",
        )
        self.bbox_pred = keras.layers.Dense(
            4 * self.num_classes,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            name="bbox_pred",
        )
        self.sampler = keras.random.SeedGenerator(seed)
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}
        # Build every weight now (summary, weight loading and counting work before the first call).
        if self.rpn is not None:
            self.rpn.build((None, fh, fw, fc))
        self.cls_score.build((None, int(self.head.output.shape[-1])))
        self.bbox_pred.build((None, int(self.head.output.shape[-1])))
        self.built = True

    # ----- pieces (also used by tools/bench_two_stage.py to time them separately)
    def features(self, images: Any, training: bool = False) -> Any:
        """Body feature map [B, H/16, W/16, C]."""
        return self.backbone(images, training=training)

    def rpn_outputs(self, features: Any) -> tuple[Any, Any]:
        """RPN objectness logits [B, A] and deltas [B, A, 4] (A = len(self.anchors))."""
        return self.rpn(features)

    def proposals(self, logits: Any, deltas: Any, training: bool = False) -> tuple[Any, Any, Any]:
        """(boxes [B, P, 4], scores [B, P], valid [B, P]) with the train or test settings."""
        pre, post = self.train_proposals if training else self.test_proposals
        return propose(
            logits,
            deltas,
            self.anchors,
            self.image_size,
            pre_nms_top_k=pre,
            post_nms_top_k=post,
            nms_iou=self.rpn_nms_iou,
            min_size=self.rpn_min_size,
        )

    def roi_head(self, features: Any, boxes: Any, training: bool = False) -> tuple[Any, Any]:
        """Class logits [B, P, C] and per-class deltas [B, P, C, 4] for boxes [B, P, 4] (xyxy pixels)."""
        num = boxes.shape[1]
        batch = ops.shape(boxes)[0]
        idx = ops.repeat(ops.cast(ops.arange(batch), "float32"), num)[:, None]
        rois = ops.concatenate([idx, ops.reshape(boxes, (-1, 4))], axis=1)
        pooled = self.roi_pooler([features, rois])
        x = self.head(pooled, training=training)
        logits = ops.reshape(self.cls_score(x), (-1, num, self.num_classes))
        deltas = ops.reshape(self.bbox_pred(x), (-1, num, self.num_classes, 4))
        return logits, deltas

    def call(self, images: Any, training: bool = False) -> dict[str, Any]:
        feats = self.features(images, training=training)
        logits, deltas = self.rpn_outputs(feats)
        boxes, scores, valid = self.proposals(logits, deltas, training=False)
        cls_logits, box_deltas = self.roi_head(feats, boxes, training=training)
        # Empty proposal slots: certain background, so they never become detections.
        background = ops.one_hot(ops.zeros_like(scores, dtype="int32"), self.num_classes) * 1e4
        cls_logits = ops.where(valid[..., None], cls_logits, background)
        return {
            "features": feats,
            "rpn_logits": logits,
            "rpn_deltas": deltas,
            "proposals": boxes,
            "proposal_scores": scores,
            "class_logits": cls_logits,
            "box_deltas": box_deltas,
        }

    def training_proposals(self, y_pred: dict[str, Any]) -> tuple[Any, Any, Any]:
        """The training proposals (12000 -> NMS 0.7 -> 2000) from the raw RPN outputs."""
        return self.proposals(y_pred["rpn_logits"], y_pred["rpn_deltas"], training=True)

    def decode_anchors(self, raw: dict[str, Any]) -> Any:
        """The second stage's deltas refer to the proposals."""
        return raw["proposals"]

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "arch": self.arch,
            "num_classes": self.num_classes,
            "image_shape": self.image_shape,
            "width": self.width,
            "anchor_sizes": self.anchor_sizes,
            "anchor_ratios": self.anchor_ratios,
            "train_proposals": self.train_proposals,
            "test_proposals": self.test_proposals,
            "rpn_nms_iou": self.rpn_nms_iou,
            "rpn_min_size": self.rpn_min_size,
            "rpn_batch": self.rpn_batch,
            "roi_batch": self.roi_batch,
            "roi_fg_fraction": self.roi_fg_fraction,
            "seed": self.seed,
            **self.detector_config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> FasterRCNN:
        return cls(**config)


def head_loss(
    class_logits: Any, box_deltas: Any, targets: dict[str, Any], sigma: float = 1.0
) -> tuple[Any, Any]:
    """Detection-head losses over the sampled RoIs: softmax cross-entropy and smooth L1 (sigma 1).

    The box loss takes the deltas of each foreground RoI's ground-truth class; both losses are
    divided by the number of sampled RoIs (py-faster-rcnn's normalisation).

    Args:
        class_logits: [B, S, C]; box_deltas: [B, S, C, 4]; targets: ``roi_targets`` output.

    Returns:
        (cls_loss, box_loss) scalars.
    """
    valid = ops.cast(targets["valid"], "float32")
    norm = ops.maximum(ops.sum(valid), 1.0)
    labels = ops.maximum(targets["classes"], 0)
    cls_loss = ops.sum(softmax_cross_entropy(class_logits, labels) * valid) / norm
    picked = ops.take_along_axis(ops.cast(box_deltas, "float32"), labels[..., None, None], axis=2)[:, :, 0]
    fg = ops.cast(targets["classes"] > 0, "float32")
    reg = ops.sum(smooth_l1(picked - targets["box_targets"], beta=1.0 / sigma**2), axis=-1)
    return cls_loss, ops.sum(reg * fg) / norm


def _body(model: FasterRCNN) -> keras.Model:
    """The model holding the body's named layers (the ResNet body is nested once)."""
    if model.arch == "vgg16":
        return model.backbone
    return next(layer for layer in model.backbone.layers if isinstance(layer, keras.Model))


def _load_by_name(model: FasterRCNN, weights: Any) -> list[str]:
    """weights="imagenet_backbone" or a legacy .h5 path: body (+ fc6/fc7 for vgg16) by layer name."""
    if weights == "imagenet_backbone":
        if model.width != 1.0:
            raise WeightsError("weights='imagenet_backbone' needs width=1.0 (ImageNet VGG16 has full widths)")
        # VGG16's fc1/fc2 (= fc6/fc7) are only in the file with the top.
        path = imagenet_file(model.arch, include_top=model.arch == "vgg16")
    else:
        path = weights
    body = _body(model)
    loaded = load_by_name(body, path, strict=False)
    try:
        loaded += load_by_name(model.head, path, strict=False)
    except WeightsError:
        pass  # a body-only file (no fc6/fc7, no conv5 stage) leaves the head at its initialisation
    if weights == "imagenet_backbone":
        # ImageNet VGG16/ResNet-50 were trained on BGR input; the model takes RGB: reverse the input channels.
        flip_input_channels(body.get_layer("block1_conv1" if model.arch == "vgg16" else "conv1_conv"))
    return loaded


def _apply_weights(model: FasterRCNN, weights: Any) -> FasterRCNN:
    """Applies a builder's ``weights=``: None, "imagenet_backbone", a ``.weights.h5`` or a legacy ``.h5``."""
    if weights is None:
        return model
    if str(weights).endswith(".weights.h5"):
        model.load_weights(weights)
    else:
        _load_by_name(model, weights)
    return model


# Per registered name (timm's default_cfgs): architecture, default input and classes, references.
# Mask R-CNN's entries live in zoo.detection.mask_rcnn and use the same creator.
DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "faster_rcnn_vgg16": {
        "arch": "vgg16",
        "input_shape": (600, 800, 3),
        "num_classes": 21,
        "paper": PAPER,
        "references": {
            "voc07_map": 69.9,
            "voc07_map_source": "paper Table 3 (RPN+VGG, shared, 300 proposals, VOC07 trainval)",
            "gpu_ms_per_image": 198,
            "gpu_ms_per_image_source": "paper Table 5 (K40: conv 141, proposal 10, region-wise 47)",
        },
    },
    "faster_rcnn_resnet50": {
        "arch": "resnet50",
        "input_shape": (600, 800, 3),
        "num_classes": 21,
        "paper": PAPER + "; He et al., Deep Residual Learning, CVPR 2016 (C4 variant)",
        "references": {
            "coco_map": 27.2,
            "coco_map_source": "He et al. 2016 Table 8 (ResNet-101 C4 on COCO test-dev, mAP@[.5:.95]); no ResNet-50 number in the paper",
        },
    },
}


def register_two_stage(name: str, cfgs: dict[str, dict[str, Any]]) -> Any:
    """``register`` with the entry data of ``cfgs[name]`` (a ``DEFAULT_CFGS`` table)."""
    cfg = cfgs[name]
    return register(
        name,
        task="detection",
        paper=cfg["paper"],
        input_shape=cfg["input_shape"],
        weights=("imagenet_backbone",),
        references=cfg["references"],
        preprocess="none",  # RGB 0..255: the caffe mean is subtracted inside the model
    )


def create_two_stage(
    name: str,
    cfg: dict[str, Any],
    num_classes: int | None = None,
    input_shape: Sequence[int] | None = None,
    weights: Any = None,
    *,
    cls: type[FasterRCNN] = FasterRCNN,
    classes: int | None = None,
    **kwargs: Any,
) -> FasterRCNN:
    """The one two-stage creator: ``cls(arch=cfg["arch"], name=name, ...)`` with ``weights`` applied.

    Args:
        name: the registered name (also the model's name).
        cfg: its ``DEFAULT_CFGS`` entry (arch, input_shape, num_classes; extra keys such as
            ``test_proposals`` are constructor defaults).
        num_classes, classes: object classes + background (either spelling; default ``cfg``'s).
        input_shape: fixed (height, width, 3) (default ``cfg``'s).
        weights: None, "imagenet_backbone", a ``.weights.h5`` file or a legacy ``.h5`` (by layer name).
        cls: the model class (FasterRCNN, MaskRCNN).
        **kwargs: more constructor arguments (anchor_sizes, test_proposals, postprocess, ...).

    Example:
        >>> model = create_two_stage("faster_rcnn_vgg16", DEFAULT_CFGS["faster_rcnn_vgg16"], 4, (128, 128, 3))
    """
    if not (weights is None or weights == "imagenet_backbone" or isinstance(weights, (str, os.PathLike))):
        raise ValueError(f"weights must be None, 'imagenet_backbone' or a file path, got {weights!r}")
    check_kwargs(cls, kwargs, name)
    reserved = {"arch", "input_shape", "num_classes", "paper", "references"}
    defaults = {k: v for k, v in cfg.items() if k not in reserved}
    model = cls(
        arch=cfg["arch"],
        name=name,
        num_classes=resolve_num_classes(num_classes, classes, default=cfg["num_classes"]),
        image_shape=tuple(input_shape or cfg["input_shape"]),
        **{**defaults, **kwargs},
    )
    return _apply_weights(model, weights)


@register_two_stage("faster_rcnn_vgg16", DEFAULT_CFGS)
def faster_rcnn_vgg16(
    num_classes: int | None = None,
    input_shape: Sequence[int] | None = (600, 800, 3),
    weights: Any = None,
    width: float = 1.0,
    **kwargs: Any,
) -> FasterRCNN:
    """Faster R-CNN with VGG16: conv5_3 body, RPN (512), RoI max pooling 7x7, fc6/fc7 head.

    ``weights="imagenet_backbone"`` loads keras.applications' ImageNet VGG16 (with top: conv layers
    and fc1/fc2 = fc6/fc7) by layer name; a ``.weights.h5`` path loads a saved detector. Other
    keyword arguments are :class:`FasterRCNN`'s (anchor_sizes, test_proposals, postprocess, ...).

    Example:
        >>> model = zoo.get("faster_rcnn_vgg16", num_classes=21, weights="imagenet_backbone")
        >>> dets = zoo.detection.detect(model, photo)
    """
    name = "faster_rcnn_vgg16"
    return create_two_stage(
        name, DEFAULT_CFGS[name], num_classes, input_shape, weights, width=width, **kwargs
    )


@register_two_stage("faster_rcnn_resnet50", DEFAULT_CFGS)
def faster_rcnn_resnet50(
    num_classes: int | None = None,
    input_shape: Sequence[int] | None = (600, 800, 3),
    weights: Any = None,
    **kwargs: Any,
) -> FasterRCNN:
    """Faster R-CNN with ResNet-50 C4: conv4 body, RPN (1024), RoIAlign 14x14, res5 + avg-pool head.

    Keyword arguments as ``faster_rcnn_vgg16`` (no ``width``).

    Example:
        >>> model = zoo.get("faster_rcnn_resnet50", num_classes=4, input_shape=(128, 128, 3))
    """
    name = "faster_rcnn_resnet50"
    return create_two_stage(name, DEFAULT_CFGS[name], num_classes, input_shape, weights, **kwargs)
