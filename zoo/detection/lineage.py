"""The R-CNN lineage side by side: train and evaluate R-CNN, SPP-net, Fast R-CNN, Faster R-CNN or
R-FCN on one finite set of synthetic shapes, with per-stage seconds per image (``recipes/rcnn_lineage.py``).

Boxes are **xyxy in pixels** of the ``image_size`` square images.

Every method sees the same training images (``train_images`` shapes images, seed ``seed``), the
same validation images (seed ``seed + 1_000_003``, as ``zoo.detection.train``) and the same VGG16
body (``width`` channel multiplier, conv5_3 at stride 16):

- ``fast_rcnn``: ``zoo.detection.fast_rcnn.FastRCNN`` fitted on selective-search proposals
  (``ProposalCache``, ``mode``, the first ``max_proposals``).
- ``faster_rcnn`` / ``rfcn``: ``faster_rcnn_vgg16`` / ``rfcn_vgg16`` fitted end to end (RPN).
- ``rcnn`` / ``sppnet``: ``zoo.detection.rcnn.RegionSVMDetector`` on the trained Fast R-CNN's body
  (``backbone_from``, the workdir of a ``fast_rcnn`` run): R-CNN warps each proposal,
  SPP-net pools its window from one pass; SVMs with hard negatives and ridge box regression.

Evaluation runs one image at a time and times the stages: ``proposals`` (selective search, not
cached, or the RPN), ``features`` (the body; for R-CNN the warps and a body pass per crop; for
SPP-net also the window pooling) and ``classification`` (the RoI head or SVMs, box decoding,
NMS). The CNN stages are compiled ``tf.function`` s (warmed up on the first image). Written into
``workdir``: the checkpoint (``last.weights.h5`` from ``fit_resumable`` or ``svm.npz``),
``report.json`` (config, mAP@0.5 VOC all-point, VOC07 11-point, COCO mAP, seconds per image by
stage, training seconds, parameters, the load average at the start, after training and at the
end) and ``detections.png``.

Example:
    >>> from zoo.detection.lineage import LineageConfig, run_lineage
    >>> run_lineage(LineageConfig(method="fast_rcnn", workdir="runs/lineage/fast_rcnn"))
    >>> run_lineage(LineageConfig(method="rcnn", workdir="runs/lineage/rcnn",
    ...                           backbone_from="runs/lineage/fast_rcnn"))
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.utils.io import atomic_write_json

METHODS = ("rcnn", "sppnet", "fast_rcnn", "faster_rcnn", "rfcn")
CNN_METHODS = {"fast_rcnn": "fast_rcnn_vgg16", "faster_rcnn": "faster_rcnn_vgg16", "rfcn": "rfcn_vgg16"}


@dataclass
class LineageConfig:
    """One method's run (the recipe's flags).

    Attributes:
        method: one of ``METHODS``.
        workdir: output folder (a rerun resumes or reuses a finished CNN training).
        image_size, width: square input side and VGG16 channel multiplier (shared by all methods).
        train_images, val_images: finite shapes sets (same for every method).
        max_objects: shapes per image at most.
        mode, max_proposals: selective search mode and proposals kept per image.
        proposal_cache: folder of the cached proposals (shared by the runs).
        epochs, steps_per_epoch, batch_size, learning_rate: CNN training (Adam, clipnorm 10).
        backbone_from: rcnn / sppnet: workdir of the fast_rcnn run whose body gives the features.
        warp_size, levels: R-CNN's warped crop side; the pyramid levels of R-CNN and SPP-net.
        svm_c: the SVM's C (R-CNN 0.001).
        seed: data seed.
    """

    method: str = "fast_rcnn"
    workdir: str = "runs/lineage/fast_rcnn"
    image_size: int = 96
    width: float = 0.125
    train_images: int = 400
    val_images: int = 200
    max_objects: int = 4
    mode: str = "fast"
    max_proposals: int = 200
    proposal_cache: str = "runs/lineage/proposals"
    epochs: int = 15
    steps_per_epoch: int = 50
    batch_size: int = 8
    learning_rate: float = 1e-3
    backbone_from: str | None = None
    warp_size: int = 64
    levels: tuple[int, ...] = (1, 2, 4)
    svm_c: float = 1e-3
    seed: int = 0


def shapes_split(cfg: LineageConfig, train: bool) -> dict[str, Any]:
    """The finite shapes set as NumPy: images [N, S, S, 3] float32, boxes [N, G, 4], classes [N, G], valid.

    Image i is ``zoo.data.shapes.shapes_dataset``'s image i for the same seed.
    """
    from zoo.data.shapes import _padded_example

    n, seed = (cfg.train_images, cfg.seed) if train else (cfg.val_images, cfg.seed + 1_000_003)
    rows = [_padded_example(i, seed, cfg.image_size, cfg.max_objects, 1) for i in range(n)]
    images, boxes, classes, _, _ = (np.stack(v) for v in zip(*rows))
    return {"images": images, "boxes": boxes, "classes": classes, "valid": classes > 0}


def cached_proposals(cfg: LineageConfig, images: np.ndarray) -> list[np.ndarray]:
    """Selective-search proposals of each image (cached), the first ``max_proposals``."""
    from tqdm.auto import tqdm

    from zoo.detection.proposals import ProposalCache

    cache = ProposalCache(cfg.proposal_cache, cfg.mode)
    return [
        cache(im.astype(np.uint8))[: cfg.max_proposals] for im in tqdm(images, desc="proposals", leave=False)
    ]


def _build_cnn(cfg: LineageConfig, num_classes: int) -> keras.Model:
    shape = (cfg.image_size, cfg.image_size, 3)
    if cfg.method == "fast_rcnn" or cfg.method in ("rcnn", "sppnet"):
        from zoo.detection.fast_rcnn import fast_rcnn_vgg16

        return fast_rcnn_vgg16(num_classes=num_classes, input_shape=shape, width=cfg.width, seed=cfg.seed)
    import zoo

    return zoo.get(
        CNN_METHODS[cfg.method], num_classes=num_classes, input_shape=shape, width=cfg.width, seed=cfg.seed
    )


def _train_cnn(cfg: LineageConfig, data: dict[str, Any], props: list[np.ndarray] | None, num_classes: int):
    import tensorflow as tf

    from zoo.detection.fast_rcnn import proposal_batch
    from zoo.training import fit_resumable

    model = _build_cnn(cfg, num_classes)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate, clipnorm=10.0))
    targets = {k: data[k] for k in ("boxes", "classes")} | {"valid": data["valid"].astype(np.int32)}
    x: Any = data["images"]
    if props is not None:
        x = {"images": data["images"], "proposals": proposal_batch(props, cfg.max_proposals)}
    ds = tf.data.Dataset.from_tensor_slices((x, targets)).shuffle(len(data["images"]), seed=cfg.seed)
    ds = ds.repeat().batch(cfg.batch_size, drop_remainder=True).prefetch(2)
    finished = (Path(cfg.workdir) / "done.json").is_file() and (Path(cfg.workdir) / "report.json").is_file()
    start = time.time()
    history = fit_resumable(
        model, ds, epochs=cfg.epochs, workdir=cfg.workdir, steps_per_epoch=cfg.steps_per_epoch,
        title=f"{cfg.method} on shapes ({cfg.image_size}px)",
    )  # fmt: skip
    seconds = time.time() - start
    if finished:  # a rerun of a finished run only re-evaluates: keep the training time it measured
        seconds = json.loads((Path(cfg.workdir) / "report.json").read_text())["train_seconds"]
    return model, history, seconds


def _stages(model: keras.Model, method: str):
    """Compiled (proposals_fn or None, features_fn, classify_fn) for one image of a CNN detector."""
    import tensorflow as tf

    from zoo.detection.postprocess import postprocess_detections

    features = tf.function(lambda x: model.features(x), autograph=False)

    def decode(cls, deltas, boxes):
        return postprocess_detections(
            cls, deltas, boxes, model.image_size, weights=model.box_weights, **model.postprocess.as_dict()
        )

    if method == "fast_rcnn":

        @tf.function(autograph=False)
        def classify(f, boxes):
            valid = (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
            cls, deltas = model.roi_head(f, boxes)
            bg = keras.ops.one_hot(keras.ops.zeros_like(valid, dtype="int32"), model.num_classes) * 1e4
            return decode(keras.ops.where(valid[..., None], cls, bg), deltas, boxes)

        return None, features, classify

    @tf.function(autograph=False)
    def rpn(f):
        logits, deltas = model.rpn_outputs(f)
        boxes, scores, valid = model.proposals(logits, deltas)
        return boxes, valid

    @tf.function(autograph=False)
    def classify(f, boxes, valid):
        cls, deltas = model.roi_head(f, boxes)
        bg = keras.ops.one_hot(keras.ops.zeros_like(valid, dtype="int32"), model.num_classes) * 1e4
        return decode(keras.ops.where(valid[..., None], cls, bg), deltas, boxes)

    return rpn, features, classify


def _evaluate(cfg, method, val, detect_one, class_names) -> tuple[dict[str, Any], dict[str, float], dict]:
    """Runs ``detect_one(i) -> (detections of image i, {stage: seconds})`` over the validation set."""
    from tqdm.auto import tqdm

    from zoo.metrics.detection import DetectionEvaluator

    evaluator = DetectionEvaluator(len(class_names), class_names=list(class_names))
    totals: dict[str, float] = {}
    shown = []
    n = len(val["images"])
    detect_one(0)  # warm-up: tracing and compilation are not per-image costs
    for i in tqdm(range(n), desc=f"evaluating {method}", leave=False):
        dets, seconds = detect_one(i)
        for k, v in seconds.items():
            totals[k] = totals.get(k, 0.0) + v
        batch = {k: np.asarray(v)[None] for k, v in dets.items()}
        evaluator.update(batch, {k: val[k][i : i + 1] for k in ("boxes", "classes", "valid")})
        if i < 8:
            shown.append(batch)
    per_image = {k: v / n for k, v in totals.items()}
    per_image["total"] = sum(per_image.values())
    return evaluator.result(), per_image, {k: np.concatenate([b[k] for b in shown]) for k in shown[0]}


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    out = keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), out)
    return out, time.perf_counter() - start


def run_lineage(cfg: LineageConfig) -> dict[str, Any]:
    """Trains (or reuses) and evaluates one method; writes the checkpoint, report.json and detections.png.

    Returns:
        The report (also ``<workdir>/report.json``).
    """
    from zoo.data.shapes import CLASS_NAMES
    from zoo.detection.proposals import selective_search
    from zoo.detection.visualize import save_detections_png

    if cfg.method not in METHODS:
        raise ValueError(f"Unknown method {cfg.method!r}; choose from {', '.join(METHODS)}")
    if cfg.method in ("rcnn", "sppnet"):
        if not cfg.backbone_from:
            raise ValueError(f"{cfg.method} needs --backbone-from: the workdir of a finished fast_rcnn run")
        if not (Path(cfg.backbone_from) / "last.weights.h5").is_file():
            raise ValueError(
                f"{cfg.backbone_from}/last.weights.h5 not found; run --method fast_rcnn --workdir "
                f"{cfg.backbone_from} first"
            )
    workdir = Path(cfg.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    load = {"start": os.getloadavg()[0]}  # the machine's 1-minute load average (the seconds depend on it)
    names = tuple(CLASS_NAMES)
    train, val = shapes_split(cfg, True), shapes_split(cfg, False)
    uses_ss = cfg.method in ("rcnn", "sppnet", "fast_rcnn")
    train_props = cached_proposals(cfg, train["images"]) if uses_ss else None
    info: dict[str, Any] = {}

    def ss(i):  # test-time proposals are computed (and timed) afresh, not read from the cache
        return selective_search(val["images"][i], cfg.mode, cfg.max_proposals)

    if cfg.method in CNN_METHODS:
        model, history, train_seconds = _train_cnn(
            cfg, train, train_props if cfg.method == "fast_rcnn" else None, len(names)
        )
        info["history"] = history
        num_params = int(model.count_params())
        rpn, features, classify = _stages(model, cfg.method)

        def detect_one(i):
            image = val["images"][i : i + 1]
            if rpn is None:
                props, t_prop = _timed(ss, i)
                f, t_feat = _timed(features, image)
                from zoo.detection.fast_rcnn import proposal_batch

                dets, t_cls = _timed(classify, f, proposal_batch([props], cfg.max_proposals))
            else:
                f, t_feat = _timed(features, image)
                (boxes, valid), t_prop = _timed(rpn, f)
                dets, t_cls = _timed(classify, f, boxes, valid)
            dets = {k: v[0] for k, v in dets.items()}
            return dets, {"proposals": t_prop, "features": t_feat, "classification": t_cls}

        checkpoint = workdir / "last.weights.h5"
    else:
        from zoo.detection.rcnn import RegionSVMDetector, WarpedRegionFeatures, WindowRegionFeatures

        if not cfg.backbone_from:
            raise ValueError(f"{cfg.method} needs --backbone-from: the workdir of a finished fast_rcnn run")
        source = Path(cfg.backbone_from)
        if not (source / "last.weights.h5").is_file():
            raise ValueError(
                f"{source}/last.weights.h5 not found; run --method fast_rcnn --workdir {source} first"
            )
        cnn = _build_cnn(cfg, len(names))
        cnn.load_weights(source / "last.weights.h5")
        body = cnn.backbone
        if cfg.method == "rcnn":
            extractor = WarpedRegionFeatures(body, warp_size=cfg.warp_size, levels=cfg.levels)
        else:
            extractor = WindowRegionFeatures(body, stride=cnn.stride, levels=cfg.levels)
        det = RegionSVMDetector(extractor, len(names), C=cfg.svm_c)
        checkpoint = workdir / "svm.npz"
        start = time.time()
        gts = [b[v] for b, v in zip(train["boxes"], train["valid"])]
        cls = [c[v] for c, v in zip(train["classes"], train["valid"])]
        info["svm"] = det.fit(list(train["images"]), gts, cls, train_props)
        train_seconds = time.time() - start
        det.save(checkpoint)
        ref = source / "report.json"
        if ref.is_file():
            info["backbone_train_seconds"] = json.loads(ref.read_text())["train_seconds"]
        num_params = int(body.count_params())

        def detect_one(i):
            props, t_prop = _timed(ss, i)
            det.timings = {}
            dets = det.detect(val["images"][i], props)
            return dets, {"proposals": t_prop, **det.timings}

    load["after_training"] = os.getloadavg()[0]
    metrics, per_image, first = _evaluate(cfg, cfg.method, val, detect_one, names)
    load["end"] = os.getloadavg()[0]
    png = save_detections_png(
        val["images"][:8], first, workdir / "detections.png", class_names=names,
        ground_truth={"boxes": val["boxes"][:8], "valid": val["valid"][:8]},
        score_threshold=0.3 if cfg.method in CNN_METHODS else 0.0,
        title=f"{cfg.method}: validation detections (dashed: ground truth)",
    )  # fmt: skip
    from zoo.detection.train import _jsonable

    report = {
        "config": dataclasses.asdict(cfg),
        "method": cfg.method,
        "num_params": num_params,
        "train_seconds": round(train_seconds, 1),
        "seconds_per_image": per_image,
        "load_average": {k: round(v, 2) for k, v in load.items()},
        "metrics": _jsonable(metrics),
        **_jsonable(info),
        "files": {"checkpoint": str(checkpoint), "detections": str(png)},
    }
    atomic_write_json(workdir / "report.json", report)
    return report
