"""R-CNN (Girshick et al., CVPR 2014) and SPP-net (He et al., ECCV 2014): region features, per-class
linear SVMs with hard negative mining, ridge box regression and per-class NMS.

Boxes are **xyxy in absolute pixels** of the image everywhere (the zoo's convention).

The two detectors differ only in where the region features come from; the rest is one
implementation (:class:`RegionSVMDetector`):

- R-CNN (:class:`WarpedRegionFeatures`): every proposal is dilated so that, once warped to the
  classifier input (``warp_size`` square), ``padding`` pixels of image context surround it (the
  paper's p = 16 at 227 px; by default scaled to ``16 * warp_size / 227``), cut out and
  anisotropically warped (bilinear; outside the image, the ImageNet mean, which the body subtracts
  to 0, as the paper's mean-filled crops); each warped crop goes through the convolutional body
  and its map is pooled by ``SpatialPyramidPooling`` (the whole crop).
- SPP-net (:class:`WindowRegionFeatures`): the body runs once on the whole image and each
  proposal's window on the feature map is pooled by the same pyramid (``SpatialPyramidPooling``
  given ``[features, rois]``, the RoI pooling rule per level).

So both feed the SVMs the same kind of pyramid-pooled conv5 features (R-CNN's "pool5" features, the
paper's Table 2 row without fc layers) from one shared body, and the comparison isolates one crop
per proposal against one convolution pass per image.

Training (:meth:`RegionSVMDetector.fit`) follows the R-CNN code (``rcnn_train.m``): features are
scaled so their mean L2 norm is 20; per class, the positives are the ground-truth boxes and the
negatives the proposals with IoU < 0.3 with every ground truth of that class; one pass over the
images mines hard negatives (:func:`mine_hard_negatives`: the first image's negatives all enter
the cache, afterwards those scoring > -1 that are not cached yet; the SVM is retrained after the
first image, whenever a class gained more than ``retrain_limit`` hard negatives, and after the last
image; after each retraining, cached negatives scoring < -1.2 are evicted). The SVM is
scikit-learn's ``LinearSVC`` (liblinear, hinge loss, dual), the paper's ``-s 3 -c 0.001 -w1 2
-B 10``. Box regression (R-CNN appendix C): per class, a ridge regression (``lambda`` 1000) from the
features to the deltas (``zoo.ops.boxes.encode_boxes``, unit weights) of the proposals with IoU
>= 0.6 with a ground truth of that class. Test time: SVM scores of every proposal for every class,
the class's regressed boxes, per-class greedy NMS at IoU 0.3 (``zoo.ops.nms.batched_nms``).

Each stage is timed separately (``RegionSVMDetector.timings``: proposals, features,
classification, and the training stages).

Example:
    >>> from zoo.detection.rcnn import RegionSVMDetector, WarpedRegionFeatures
    >>> det = RegionSVMDetector(WarpedRegionFeatures(body, warp_size=64), num_classes=4)
    >>> det.fit(images, gt_boxes, gt_classes, proposals)
    >>> out = det.detect(image, boxes)   # dict(boxes, scores, classes)
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from zoo.detection.base import VGG_MEAN_RGB
from zoo.layers.roi import SpatialPyramidPooling
from zoo.ops.boxes import box_iou, decode_boxes, encode_boxes, to_numpy
from zoo.utils.io import atomic_write_bytes

PAPER_RCNN = "Girshick et al., Rich feature hierarchies for accurate object detection and semantic segmentation, CVPR 2014"
PAPER_SPP = (
    "He et al., Spatial Pyramid Pooling in Deep Convolutional Networks for Visual Recognition, ECCV 2014"
)

# rcnn_train.m / rcnn_config.m defaults
SVM_C = 1e-3
POS_WEIGHT = 2.0
BIAS_MULT = 10.0
NEG_IOU = 0.3
HARD_THRESHOLD = -1.0001
EASY_THRESHOLD = -1.2
RETRAIN_LIMIT = 2000
FEAT_NORM = 20.0
REG_IOU = 0.6
REG_LAMBDA = 1000.0
NMS_IOU = 0.3


# ----- features
def _jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` compiled by the backend (tf.function / jax.jit); retraced once per input shape."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, autograph=False)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def _bucket(n: int, size: int = 64) -> int:
    """Rows padded up to a multiple of ``size`` (few compiled shapes for any proposal count)."""
    return max(size, -(-int(n) // size) * size)


def context_boxes(boxes: np.ndarray, warp_size: int, padding: float) -> np.ndarray:
    """Boxes dilated so that warped to ``warp_size`` they sit inside ``padding`` pixels of context.

    Each side grows by ``padding * size / (warp_size - 2 * padding)`` (R-CNN's ``rcnn_im_crop``
    "warp" with context padding), about the box centre.

    Example:
        >>> context_boxes(np.array([[10, 10, 205, 205.]]), 227, 16)   # -> [[-6, -6, 221, 221]]
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if not 0 <= padding < warp_size / 2:
        raise ValueError(f"padding must be in [0, warp_size / 2), got {padding} for warp_size {warp_size}")
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    grow = padding / (warp_size - 2.0 * padding)
    return np.stack(
        [
            boxes[:, 0] - w * grow,
            boxes[:, 1] - h * grow,
            boxes[:, 0] + w * (1 + grow),
            boxes[:, 1] + h * (1 + grow),
        ],
        axis=1,
    )


def warp_regions(
    image: np.ndarray, boxes: np.ndarray, warp_size: int, padding: float, fill: Sequence[float] = VGG_MEAN_RGB
) -> np.ndarray:
    """R-CNN's warped crops: [N, warp_size, warp_size, 3] float32 (bilinear; ``fill`` outside the image).

    Args:
        image: [H, W, 3] RGB 0..255.
        boxes: [N, 4] proposals (xyxy pixels).
        warp_size: classifier input side.
        padding: context pixels at the warped size (``context_boxes``).
        fill: RGB value outside the image (the mean the body subtracts).

    Example:
        >>> warp_regions(image, boxes, 64, 4.5).shape   # (N, 64, 64, 3)
    """
    import cv2

    image = np.asarray(image, np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"warp_regions expects an [H, W, 3] image, got shape {image.shape}")
    out = np.empty((len(boxes), warp_size, warp_size, 3), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(context_boxes(boxes, warp_size, padding)):
        sx, sy = warp_size / max(x2 - x1, 1e-3), warp_size / max(y2 - y1, 1e-3)
        m = np.array([[sx, 0.0, -x1 * sx], [0.0, sy, -y1 * sy]], np.float32)
        out[i] = cv2.warpAffine(
            image, m, (warp_size, warp_size), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in fill),
        )  # fmt: skip
    return out


def _body_at(body: keras.Model, size: int) -> keras.Model:
    """The fully convolutional ``body`` rebuilt for a square ``size`` input, sharing its weights' values."""
    if tuple(body.input.shape[1:3]) == (size, size):
        return body
    config = body.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [shape[0], size, size, shape[3]]
    clone = keras.Model.from_config(config)
    clone.set_weights(body.get_weights())
    return clone


class WarpedRegionFeatures:
    """R-CNN's region features: warped crops with context -> the body -> pyramid pooling of the crop map.

    Args:
        body: fully convolutional functional body taking RGB 0..255 (e.g. a detector's ``backbone``).
        warp_size: the classifier input side (the paper's 227).
        padding: context pixels at the warped size (None: the paper's 16 scaled, ``16 * warp_size / 227``).
        levels: pyramid levels pooled from the crop's map.
        batch_size: crops per body call.

    Example:
        >>> feats = WarpedRegionFeatures(model.backbone, warp_size=64)(image, boxes)   # [N, D]
    """

    name = "rcnn"

    def __init__(
        self,
        body: keras.Model,
        warp_size: int = 64,
        padding: float | None = None,
        levels: Sequence[int] = (1, 2, 4),
        batch_size: int = 128,
    ):
        self.warp_size = int(warp_size)
        self.padding = 16.0 * self.warp_size / 227.0 if padding is None else float(padding)
        self.levels = tuple(int(v) for v in levels)
        self.batch_size = int(batch_size)
        body = _body_at(body, self.warp_size)
        crops = keras.Input((self.warp_size, self.warp_size, 3), name="warped_regions")
        pooled = SpatialPyramidPooling(self.levels, name="spp")(body(crops))
        self.model = keras.Model(crops, pooled, name="rcnn_region_features")

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """[N, D] features of the N boxes of one image."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if not len(boxes):
            return np.zeros((0, int(self.model.output.shape[-1])), np.float32)
        crops = warp_regions(image, boxes, self.warp_size, self.padding)
        return np.concatenate(
            [np.asarray(self.model.predict_on_batch(crops[i : i + self.batch_size]))
             for i in range(0, len(crops), self.batch_size)]
        )  # fmt: skip


class WindowRegionFeatures:
    """SPP-net's region features: one body pass per image, pyramid pooling of each proposal's window.

    Args:
        body: fully convolutional functional body (RGB 0..255) with output stride ``stride``.
        stride: input pixels per feature cell (16 for VGG16 conv5_3).
        levels: pyramid levels pooled from each window.

    Example:
        >>> feats = WindowRegionFeatures(model.backbone, stride=16)(image, boxes)   # [N, D]
    """

    name = "sppnet"

    def __init__(self, body: keras.Model, stride: int = 16, levels: Sequence[int] = (1, 2, 4)):
        self.body = body
        self.stride = int(stride)
        self.levels = tuple(int(v) for v in levels)
        self.pool = SpatialPyramidPooling(self.levels, spatial_scale=1.0 / self.stride, name="spp")
        self._pool = _jit(lambda fmap, rois: self.pool([fmap, rois]))

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """[N, D] features of the N boxes of one image (one convolution pass)."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        image = np.asarray(image, np.float32)
        if tuple(image.shape[:2]) != tuple(self.body.input.shape[1:3]):
            raise ValueError(
                f"SPP-net's body was built for {tuple(self.body.input.shape[1:3])} images, got {image.shape[:2]}; "
                "resize the image first"
            )
        fmap = self.body.predict_on_batch(image[None])
        rois = np.zeros((_bucket(len(boxes)), 5), np.float32)  # zero rows: padding, dropped below
        rois[: len(boxes), 1:] = boxes
        return np.asarray(keras.ops.convert_to_numpy(self._pool(fmap, rois)))[: len(boxes)]


# ----- SVMs with hard negative mining
def train_linear_svm(
    positives: np.ndarray, negatives: np.ndarray, C: float = SVM_C, pos_weight: float = POS_WEIGHT,
    bias_mult: float = BIAS_MULT,
) -> tuple[np.ndarray, float]:  # fmt: skip
    """One class's linear SVM (liblinear hinge loss, dual): R-CNN's ``-s 3 -c C -w1 pos_weight -B bias_mult``.

    Returns:
        (w [D], b): the score of x is ``x @ w + b``.

    Example:
        >>> w, b = train_linear_svm(np.array([[1.], [2.]]), np.array([[-1.], [-2.]]), C=100)   # w ~ 1, b ~ 0
    """
    from sklearn.svm import LinearSVC

    positives, negatives = np.asarray(positives, np.float64), np.asarray(negatives, np.float64)
    if not len(positives) or not len(negatives):
        raise ValueError(f"an SVM needs positives and negatives, got {len(positives)} and {len(negatives)}")
    x = np.concatenate([positives, negatives])
    y = np.concatenate([np.ones(len(positives)), -np.ones(len(negatives))])
    svm = LinearSVC(
        C=C, loss="hinge", dual=True, class_weight={1: pos_weight, -1: 1.0}, intercept_scaling=bias_mult,
        max_iter=20000, tol=1e-4,
    )  # fmt: skip
    svm.fit(x, y)
    return svm.coef_[0].astype(np.float32), float(svm.intercept_[0])


def mine_hard_negatives(
    positives: np.ndarray,
    negatives: Sequence[np.ndarray],
    train: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float]] = train_linear_svm,
    *,
    hard_threshold: float = HARD_THRESHOLD,
    easy_threshold: float = EASY_THRESHOLD,
    retrain_limit: int = RETRAIN_LIMIT,
    epochs: int = 1,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """One class's SVM trained with R-CNN's hard negative mining (``rcnn_train.m``).

    Args:
        positives: [P, D] positive features.
        negatives: per image, [N_i, D] candidate negatives (IoU < 0.3 with the class's boxes).
        train: (positives, negatives) -> (w, b); the SVM by default.
        hard_threshold: a negative scoring above this is hard (R-CNN -1.0001).
        easy_threshold: after retraining, cached negatives scoring below this are evicted (-1.2).
        retrain_limit: retrain once this many hard negatives were added since the last training.
        epochs: passes over the images (R-CNN: 1).

    Returns:
        (w, b, info) with ``info["cache"]`` the (image, index) keys of the final negative cache and
        ``info["trainings"]`` the number of SVM trainings.

    Example:
        >>> w, b, info = mine_hard_negatives(pos, [neg_image0, neg_image1])
    """
    cache_x: list[np.ndarray] = []
    cache_keys: list[tuple[int, int]] = []
    keys: set[tuple[int, int]] = set()
    w = b = None
    first, added, trainings = True, 0, 0
    total = len(negatives) * int(epochs)
    step = 0
    for _ in range(int(epochs)):
        for i, x in enumerate(negatives):
            step += 1
            x = np.asarray(x, np.float32).reshape(len(x), -1)
            if len(x):
                pick = np.arange(len(x)) if first else np.flatnonzero(x @ w + b > hard_threshold)
                pick = [j for j in pick if (i, int(j)) not in keys]
                for j in pick:
                    cache_x.append(x[j])
                    cache_keys.append((i, int(j)))
                    keys.add((i, int(j)))
                added += len(pick)
            if (first or added > retrain_limit or step == total) and cache_x:
                w, b = train(positives, np.stack(cache_x))
                trainings += 1
                first, added = False, 0
                z = np.stack(cache_x) @ w + b
                keep = np.flatnonzero(z >= easy_threshold)
                for j in np.flatnonzero(z < easy_threshold):
                    keys.discard(cache_keys[j])
                cache_x = [cache_x[j] for j in keep]
                cache_keys = [cache_keys[j] for j in keep]
    if w is None:
        raise ValueError("no negatives in any image: the SVM cannot be trained")
    return w, b, {"cache": list(cache_keys), "trainings": trainings}


# ----- box regression
def fit_box_regressor(
    features: np.ndarray, proposals: np.ndarray, targets: np.ndarray, alpha: float = REG_LAMBDA
):
    """Ridge regression from features to ``encode_boxes(targets, proposals)`` (R-CNN appendix C).

    Returns:
        (W [D, 4], bias [4]): deltas = features @ W + bias.
    """
    from sklearn.linear_model import Ridge

    deltas = to_numpy(encode_boxes(np.asarray(targets, np.float32), np.asarray(proposals, np.float32)))
    ridge = Ridge(alpha=alpha).fit(np.asarray(features, np.float64), deltas)
    return ridge.coef_.T.astype(np.float32), ridge.intercept_.astype(np.float32)


class RegionSVMDetector:
    """R-CNN / SPP-net detector: region features, per-class SVMs, ridge box regression, per-class NMS.

    Args:
        features: a region feature extractor, ``(image, boxes [N, 4]) -> [N, D]``
            (:class:`WarpedRegionFeatures` for R-CNN, :class:`WindowRegionFeatures` for SPP-net).
        num_classes: object classes + background (class 0).
        C, pos_weight, bias_mult: the SVM (R-CNN 0.001, 2, 10).
        reg_alpha: ridge ``lambda`` (1000); reg_iou: proposals with IoU >= this train the regressor (0.6).
        nms_iou, score_threshold, max_detections: test-time per-class NMS (0.3), minimum SVM score
            and detections kept per image.

    Example:
        >>> det = RegionSVMDetector(WindowRegionFeatures(model.backbone), num_classes=4)
        >>> det.fit(images, gt_boxes, gt_classes, proposals)
        >>> det.detect(images[0], proposals[0])["boxes"]
    """

    def __init__(
        self,
        features: Callable[[np.ndarray, np.ndarray], np.ndarray],
        num_classes: int,
        *,
        C: float = SVM_C,
        pos_weight: float = POS_WEIGHT,
        bias_mult: float = BIAS_MULT,
        reg_alpha: float = REG_LAMBDA,
        reg_iou: float = REG_IOU,
        nms_iou: float = NMS_IOU,
        score_threshold: float = -1.0,
        max_detections: int = 100,
    ):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be >= 2 (objects + background 0), got {num_classes}")
        self.features = features
        self.num_classes = int(num_classes)
        self.C, self.pos_weight, self.bias_mult = float(C), float(pos_weight), float(bias_mult)
        self.reg_alpha, self.reg_iou = float(reg_alpha), float(reg_iou)
        self.nms_iou, self.score_threshold = float(nms_iou), float(score_threshold)
        self.max_detections = int(max_detections)
        self.feature_scale: float | None = None
        self.svm_w: np.ndarray | None = None  # [C, D]; row 0 (background) unused
        self.svm_b: np.ndarray | None = None
        self.reg_w: np.ndarray | None = None  # [C, D, 4]
        self.reg_b: np.ndarray | None = None  # [C, 4]
        self.timings: dict[str, float] = {}
        self._nms = _jit(self._batched_nms)

    def _batched_nms(self, boxes: Any, scores: Any) -> dict[str, Any]:
        from zoo.ops.nms import batched_nms

        return batched_nms(
            boxes, scores, max_detections=self.max_detections, iou_threshold=self.nms_iou,
            score_threshold=self.score_threshold, pre_nms_top_k=None, background_class=0,
        )  # fmt: skip

    def _timed(self, stage: str, fn: Callable[..., Any], *args: Any) -> Any:
        start = time.perf_counter()
        out = fn(*args)
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start
        return out

    def fit(
        self,
        images: Sequence[np.ndarray],
        gt_boxes: Sequence[np.ndarray],
        gt_classes: Sequence[np.ndarray],
        proposals: Sequence[np.ndarray],
        progress: bool = True,
    ) -> dict[str, Any]:
        """Features of every ground truth and proposal, then per-class SVMs (hard negatives) and regressors.

        Returns:
            dict with the per-class SVM info (cache size, trainings), regression sample counts and
            the stage times (``train_features``, ``train_svm``, ``train_regression``, seconds).
        """
        from tqdm.auto import tqdm

        if not (len(images) == len(gt_boxes) == len(gt_classes) == len(proposals)):
            raise ValueError("images, gt_boxes, gt_classes and proposals must have one entry per image")
        per_image = []
        for image, gts, cls, props in tqdm(
            list(zip(images, gt_boxes, gt_classes, proposals)), desc="region features", disable=not progress
        ):
            gts = np.asarray(gts, np.float32).reshape(-1, 4)
            props = np.asarray(props, np.float32).reshape(-1, 4)
            feats = self._timed("train_features", self.features, image, np.concatenate([gts, props]))
            per_image.append((feats[: len(gts)], feats[len(gts) :], gts, np.asarray(cls).reshape(-1), props))
        norms = [np.linalg.norm(f, axis=1) for p in per_image for f in p[:2] if len(f)]
        self.feature_scale = FEAT_NORM / max(float(np.mean(np.concatenate(norms))), 1e-12)
        s = self.feature_scale
        dim = per_image[0][0].shape[1] if len(per_image[0][0]) else per_image[0][1].shape[1]
        self.svm_w = np.zeros((self.num_classes, dim), np.float32)
        self.svm_b = np.full((self.num_classes,), -np.inf, np.float32)
        self.reg_w = np.zeros((self.num_classes, dim, 4), np.float32)
        self.reg_b = np.zeros((self.num_classes, 4), np.float32)
        info: dict[str, Any] = {"classes": {}}
        for c in range(1, self.num_classes):
            pos = [g[cls == c] * s for g, _, _, cls, _ in per_image]
            pos = np.concatenate(pos) if pos else np.zeros((0, dim))
            negs, reg_x, reg_p, reg_t = [], [], [], []
            for _, pf, gts, cls, props in per_image:
                mine = gts[cls == c]
                if len(mine) and len(props):
                    iou = to_numpy(box_iou(props, mine))
                    best, arg = iou.max(axis=1), iou.argmax(axis=1)
                else:
                    best, arg = np.zeros(len(props)), np.zeros(len(props), int)
                negs.append(pf[best < NEG_IOU] * s)
                close = best >= self.reg_iou
                reg_x.append(pf[close] * s)
                reg_p.append(props[close])
                reg_t.append(mine[arg[close]] if len(mine) else np.zeros((0, 4), np.float32))
            if not len(pos):
                info["classes"][c] = {"positives": 0}
                continue
            w, b, mined = self._timed("train_svm", mine_hard_negatives, pos, negs, self._train_svm)
            self.svm_w[c], self.svm_b[c] = w, b
            rx = np.concatenate(reg_x)
            if len(rx):
                self.reg_w[c], self.reg_b[c] = self._timed(
                    "train_regression", fit_box_regressor, rx, np.concatenate(reg_p), np.concatenate(reg_t),
                    self.reg_alpha,
                )  # fmt: skip
            info["classes"][c] = {
                "positives": int(len(pos)),
                "negative_cache": len(mined["cache"]),
                "svm_trainings": mined["trainings"],
                "regression_samples": int(len(rx)),
            }
        info["seconds"] = dict(self.timings)
        return info

    def _train_svm(self, positives: np.ndarray, negatives: np.ndarray) -> tuple[np.ndarray, float]:
        return train_linear_svm(positives, negatives, self.C, self.pos_weight, self.bias_mult)

    def classify(self, features: np.ndarray, boxes: np.ndarray) -> dict[str, np.ndarray]:
        """SVM scores, regressed boxes and per-class NMS for one image's region features."""
        if self.svm_w is None:
            raise ValueError("the detector is not trained: call fit() or load() first")
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        x = np.asarray(features, np.float32) * self.feature_scale
        scores = x @ self.svm_w.T + self.svm_b  # [N, C]; column 0 is -inf
        deltas = np.einsum("nd,cdk->nck", x, self.reg_w) + self.reg_b  # [N, C, 4]
        n = _bucket(len(boxes))  # padded rows score -inf: never kept
        per_class = np.zeros((1, n, self.num_classes, 4), np.float32)
        padded = np.full((1, n, self.num_classes), -np.inf, np.float32)
        if len(boxes):
            per_class[0, : len(boxes)] = to_numpy(decode_boxes(deltas, boxes[:, None, :]))
            padded[0, : len(boxes)] = scores
        out = self._nms(per_class, padded)
        return {k: to_numpy(v)[0] for k, v in out.items()}

    def detect(self, image: np.ndarray, proposals: np.ndarray) -> dict[str, np.ndarray]:
        """Detections of one image from its proposals: dict(boxes, scores, classes, num_detections).

        ``timings`` accumulates ``features`` and ``classification`` seconds.
        """
        feats = self._timed("features", self.features, image, proposals)
        return self._timed("classification", self.classify, feats, proposals)

    # ----- saving (NumPy arrays; the body's weights belong to the model they came from)
    def save(self, path: str | os.PathLike) -> None:
        """Writes the SVM and regressor weights as one ``.npz`` (atomically)."""
        if self.svm_w is None:
            raise ValueError("nothing to save: the detector is not trained")
        buf = io.BytesIO()
        np.savez(buf, svm_w=self.svm_w, svm_b=self.svm_b, reg_w=self.reg_w, reg_b=self.reg_b,
                 feature_scale=np.float32(self.feature_scale))  # fmt: skip
        atomic_write_bytes(path, buf.getvalue())

    def load(self, path: str | os.PathLike) -> RegionSVMDetector:
        """Reads the weights written by ``save``."""
        with np.load(path) as f:
            self.svm_w, self.svm_b = f["svm_w"], f["svm_b"]
            self.reg_w, self.reg_b = f["reg_w"], f["reg_b"]
            self.feature_scale = float(f["feature_scale"])
        if self.svm_w.shape[0] != self.num_classes:
            raise ValueError(
                f"{path} holds {self.svm_w.shape[0]} classes, the detector has {self.num_classes}"
            )
        return self
