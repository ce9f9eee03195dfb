"""Training and evaluation of zoo detectors (the logic behind ``recipes/train_detector.py``).

One path for every detector: ``zoo.get(model_name, num_classes=..., input_shape=...)`` builds a
model whose ``compute_loss`` takes the zoo's detection batches ``(images, targets)`` and which has
``image_size`` and ``detect_batch`` (SSD, Faster R-CNN, Mask R-CNN). Data comes from ``zoo.data``:
the synthetic shapes, TFDS ``voc/2007`` / ``coco/2017`` in a data_dir, or a folder of Pascal VOC XML
annotations. Models with a mask branch (Mask R-CNN) train on the shapes with their instance masks
and are also scored by mean mask IoU (``val_mask_iou``, ``mean_mask_iou`` in the report). Models with
a keypoint branch (Keypoint R-CNN) train on the shapes with their K = 5 keypoints
(``zoo.data.shapes.KEYPOINT_NAMES``; the model is built with ``num_keypoints`` = K, no augmentation)
and are also scored by PCK@0.2 (``val_pck``, ``keypoint_pck`` in the report).
Training runs through ``zoo.training.fit_resumable`` (checkpoint every epoch, resumable after an
interruption, ``history.csv`` + ``curves.png``), optionally under ``tf.distribute.MirroredStrategy``;
the validation mAP is computed every epoch (``val_map50`` in the log and curves) and in full at the
end with ``zoo.metrics.detection.DetectionEvaluator``. Written into the workdir:
``last.weights.h5``, ``model.keras`` (the full model with its preprocessing and class names,
:func:`zoo.saving.save_model`: what ``python -m zoo convert`` takes as it is), ``history.csv``,
``curves.png``, ``detections.png`` (validation images with
their detections, shaded masks for Mask R-CNN, and, dashed, the ground truth) and ``report.json``.

Example:
    >>> from zoo.detection.train import DetectorTrainConfig, train_detector
    >>> report = train_detector(DetectorTrainConfig(model="ssd_vgg16", data="shapes", image_size=96,
    ...                                             epochs=2, steps_per_epoch=20, workdir="runs/ssd"))
    >>> report["metrics"]["voc_map"]
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.detection.visualize import save_detections_png
from zoo.registry import entry
from zoo.registry import get as get_model
from zoo.saving import save_model
from zoo.training import STRATEGIES, fit_resumable, get_strategy, strategy_scope
from zoo.utils.io import atomic_write_json

DATA_CHOICES = ("shapes", "voc", "coco")
_TFDS = {"voc": ("voc/2007", "train", "test"), "coco": ("coco/2017", "train", "validation")}


@dataclass
class DetectorTrainConfig:
    """Everything a detector training run needs (the recipe's command-line arguments).

    Attributes:
        model: registered detection model name (``zoo.list_models(task="detection")``).
        data: "shapes", "voc" (TFDS voc/2007), "coco" (TFDS coco/2017) or a folder with VOC XML files.
        data_dir: TFDS data_dir for voc/coco (offline: the prepared data must be there).
        image_size: square model input size in pixels.
        epochs, batch_size, steps_per_epoch: training length (steps default: one pass of finite
            data; 50 for the infinite shapes stream).
        val_images: held-out synthetic images (shapes); val_batches: validation batches for
            voc/coco/folders (None: all).
        eval_every: compute validation mAP every this many epochs (0: only at the end).
        strategy: "default" or "mirrored" (tf.distribute over all GPUs / logical devices).
        workdir: output folder; re-running with the same workdir resumes an interrupted run.
        weights: None, a named weight set of the model (e.g. "imagenet_backbone") or a file path.
        learning_rate, optimizer, clipnorm, weight_decay: optimisation ("adam" or "sgd" with momentum 0.9).
        lr_schedule: "constant" or "cosine" (linear warm-up over the first 3 % of the steps, then cosine
            decay to 0 at the last step; needs a known number of steps per epoch).
        width: channel multiplier passed to models that take one (1.0 = the paper).
        roi_batch: RoIs sampled per image for the second stage of the two-stage detectors (None: the
            model's own, e.g. 512 for the FPN family; a smaller one makes CPU runs of the heavy
            keypoint and mask heads affordable).
        max_objects: shapes per synthetic image at most.
        augment: SSD augmentations on the training data.
        score_threshold, iou_threshold, max_detections: post-processing used for evaluation (None:
            the model's own ``postprocess`` settings, e.g. SSD 0.01/0.45, Faster R-CNN 0.05/0.3).
        seed: data seed (held-out shapes use another seed).
        class_names: names by class id for a folder dataset (background first; default VOC).
        box_mode: folder datasets: a box outside its image raises ("raise") or is clipped ("clip").
        model_kwargs: extra keyword arguments of the model's builder (e.g. YOLO's
            ``{"batch_norm": True, "fc_units": 512}``); the recipe's ``--model-arg KEY=VALUE``.
    """

    model: str = "ssd_vgg16"
    data: str = "shapes"
    data_dir: str | None = None
    image_size: int = 300
    epochs: int = 10
    batch_size: int = 8
    steps_per_epoch: int | None = None
    val_images: int = 200
    val_batches: int | None = None
    eval_every: int = 1
    strategy: str = "default"
    workdir: str = "runs/detector"
    weights: str | None = None
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    optimizer: str = "adam"
    clipnorm: float | None = 10.0
    weight_decay: float = 0.0
    width: float = 1.0
    roi_batch: int | None = None
    max_objects: int = 4
    augment: bool = True
    score_threshold: float | None = None
    iou_threshold: float | None = None
    max_detections: int | None = None
    seed: int = 0
    class_names: tuple[str, ...] | None = None
    box_mode: str = "raise"
    model_kwargs: dict[str, Any] | None = None


@dataclass
class DetectionData:
    """Training and validation pipelines with their class names (index 0 = background)."""

    train: Any
    val: Any
    class_names: tuple[str, ...]
    steps_per_epoch: int | None
    val_batches: int | None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _folder_splits(path: Path) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(train kwargs, val kwargs, held_out) for a VOC XML folder."""
    main = path / "ImageSets" / "Main"
    for train, val in (("trainval", "test"), ("train", "val")):
        if (main / f"{train}.txt").is_file() and (main / f"{val}.txt").is_file():
            return {"path": path, "split": train}, {"path": path, "split": val}, True
    if (path / "train").is_dir() and (path / "val").is_dir():
        return {"path": path / "train"}, {"path": path / "val"}, True
    return {"path": path}, {"path": path}, False


def has_mask_branch(model: Any) -> bool:
    """True for detectors that predict instance masks (Mask R-CNN) and train on ``targets["masks"]``."""
    return getattr(model, "mask_head", None) is not None


def has_keypoint_branch(model: Any) -> bool:
    """True for detectors that predict keypoints (Keypoint R-CNN) and train on ``targets["keypoints"]``."""
    return getattr(model, "keypoint_head", None) is not None


def _builder_takes(model_name: str, argument: str) -> bool:
    import inspect

    return argument in inspect.signature(entry(model_name).builder).parameters


def load_detection_data(
    cfg: DetectorTrainConfig, with_masks: bool = False, with_keypoints: bool = False
) -> DetectionData:
    """Builds the training (repeated, augmented) and validation pipelines of ``cfg.data``.

    ``with_masks=True`` adds the instance masks ``targets["masks"]`` [B, G, H, W] (Mask R-CNN);
    ``with_keypoints=True`` adds ``targets["keypoints"]`` [B, G, K, 3] (Keypoint R-CNN; training
    without augmentation, which would not move them); only the synthetic shapes have them.

    Example:
        >>> data = load_detection_data(DetectorTrainConfig(data="shapes", image_size=96))
        >>> data.class_names  # -> ("background", "circle", "square", "triangle")
    """
    size = int(cfg.image_size)
    for wanted, what in ((with_masks, "instance masks"), (with_keypoints, "keypoints")):
        if wanted and cfg.data != "shapes":
            raise ValueError(
                f"{cfg.model!r} trains on {what}; only --data shapes provides them here, not {cfg.data!r}"
            )
    if cfg.data == "shapes":
        from zoo.data.shapes import CLASS_NAMES, shapes_dataset

        augment = cfg.augment and not with_keypoints
        if cfg.augment and with_keypoints:
            print(
                "note: keypoint targets: training without the SSD augmentations (they do not move keypoints)"
            )
        extra = dict(with_masks=with_masks, with_keypoints=with_keypoints)
        train = shapes_dataset(
            num_images=None, image_size=size, max_objects=cfg.max_objects, seed=cfg.seed,
            batch_size=cfg.batch_size, augment=augment, drop_remainder=True, **extra,
        )  # fmt: skip
        val = shapes_dataset(
            num_images=cfg.val_images, image_size=size, max_objects=cfg.max_objects,
            seed=cfg.seed + 1_000_003, batch_size=cfg.batch_size, augment=False, **extra,
        )  # fmt: skip
        return DetectionData(_fit_ready(train), val, tuple(CLASS_NAMES), cfg.steps_per_epoch or 50, None)
    from zoo.data import detection as det

    common = dict(image_size=size, batch_size=cfg.batch_size, seed=cfg.seed)
    if cfg.data in _TFDS:
        name, train_split, val_split = _TFDS[cfg.data]
        names = det.tfds_class_names(name, cfg.data_dir)
        train = det.tfds_detection_dataset(
            name, train_split, cfg.data_dir, augment=cfg.augment, shuffle=True, drop_remainder=True, **common
        )
        val = det.tfds_detection_dataset(name, val_split, cfg.data_dir, augment=False, **common)
    else:
        path = Path(cfg.data).expanduser()
        if not path.is_dir():
            raise ValueError(
                f"--data must be one of {', '.join(DATA_CHOICES)} or a folder of Pascal VOC XML annotations; "
                f"{cfg.data!r} is neither"
            )
        names = tuple(cfg.class_names) if cfg.class_names else det.VOC_CLASSES
        train_kw, val_kw, held_out = _folder_splits(path)
        if not held_out:
            print(f"warning: {path} has no train/val split; validating on the training images")
        train = det.voc_folder_dataset(
            class_names=names,
            box_mode=cfg.box_mode,
            augment=cfg.augment,
            shuffle=True,
            drop_remainder=True,
            **train_kw,
            **common,
        )
        val = det.voc_folder_dataset(
            class_names=names, box_mode=cfg.box_mode, augment=False, **val_kw, **common
        )
    return DetectionData(_fit_ready(train.repeat()), val, tuple(names), cfg.steps_per_epoch, cfg.val_batches)


def _fit_ready(dataset: Any) -> Any:
    """Casts boolean target masks to int32: Keras reduces a sample batch across replicas under
    ``tf.distribute`` and TensorFlow cannot sum booleans (compute_loss casts them back)."""
    import tensorflow as tf

    def cast(images, targets):
        return images, {k: tf.cast(v, tf.int32) if v.dtype == tf.bool else v for k, v in targets.items()}

    return dataset.map(cast, num_parallel_calls=tf.data.AUTOTUNE)


def build_detector(cfg: DetectorTrainConfig, num_classes: int) -> keras.Model:
    """``zoo.get(cfg.model, ...)`` with the arguments the model's builder accepts.

    Example:
        >>> model = build_detector(DetectorTrainConfig(model="ssd_vgg16", image_size=96), num_classes=4)
    """
    e = entry(cfg.model)
    if e.task != "detection":
        raise ValueError(f"{cfg.model!r} is a {e.task} model; choose a detection model")
    kwargs: dict[str, Any] = {"num_classes": num_classes, "input_shape": (cfg.image_size, cfg.image_size, 3)}
    if cfg.data == "shapes" and _builder_takes(cfg.model, "num_keypoints"):  # Keypoint R-CNN: K of the data
        from zoo.data.shapes import KEYPOINT_NAMES

        kwargs.update(num_keypoints=len(KEYPOINT_NAMES), keypoint_names=KEYPOINT_NAMES)
    if cfg.weights is not None:
        kwargs["weights"] = cfg.weights
    if cfg.width != 1.0:
        kwargs["width"] = cfg.width
    if cfg.roi_batch is not None:
        kwargs["roi_batch"] = int(cfg.roi_batch)
    kwargs.update(cfg.model_kwargs or {})
    try:
        return get_model(cfg.model, **kwargs)
    except TypeError as err:
        if "width" in kwargs and "width" in str(err):
            raise ValueError(f"{cfg.model!r} takes no width multiplier; use --width 1") from err
        if "roi_batch" in kwargs and "roi_batch" in str(err):
            raise ValueError(f"{cfg.model!r} has no second-stage RoI sampler; drop --roi-batch") from err
        raise


def make_optimizer(
    cfg: DetectorTrainConfig, steps_per_epoch: int | None = None
) -> keras.optimizers.Optimizer:
    """Adam (default) or SGD with momentum 0.9 (the paper), optional cosine schedule and clipping."""
    lr: Any = cfg.learning_rate
    if cfg.lr_schedule == "cosine":
        if not steps_per_epoch:
            raise ValueError("lr_schedule='cosine' needs --steps-per-epoch")
        total = int(cfg.epochs * steps_per_epoch)
        warmup = max(1, int(0.03 * total))
        lr = keras.optimizers.schedules.CosineDecay(
            cfg.learning_rate * 0.01, total - warmup, warmup_target=cfg.learning_rate, warmup_steps=warmup
        )
    elif cfg.lr_schedule != "constant":
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {cfg.lr_schedule!r}")
    kw: dict[str, Any] = {"learning_rate": lr}
    if cfg.clipnorm:
        kw["clipnorm"] = cfg.clipnorm
    if cfg.weight_decay:
        kw["weight_decay"] = cfg.weight_decay
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(**kw)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=0.9, **kw)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {cfg.optimizer!r}")


def evaluate_detector(
    model: keras.Model,
    dataset: Iterable,
    class_names: Sequence[str],
    *,
    max_batches: int | None = None,
    score_threshold: float | None = None,
    iou_threshold: float | None = None,
    max_detections: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Runs ``model.detect_batch`` over a dataset and returns ``DetectionEvaluator.result()``.

    The thresholds default (None) to the model's own ``postprocess`` settings.

    Ground truth and detections are both in pixels of the model input (the loaders resize both).
    When the detections and the targets both have ``masks`` (Mask R-CNN on shapes with masks), the
    result also has ``mean_mask_iou``, ``mask_matched`` and ``mask_objects`` from
    ``zoo.metrics.detection.MaskIoUEvaluator`` (score > 0.5, box IoU >= 0.5, unmatched objects 0)
    and ``mean_mask_iou`` in each ``per_class`` entry.

    Example:
        >>> evaluate_detector(model, val_ds, CLASS_NAMES)["voc_map"]
    """
    from tqdm.auto import tqdm

    from zoo.metrics.detection import DetectionEvaluator, KeypointPCKEvaluator, MaskIoUEvaluator

    evaluator = DetectionEvaluator(len(class_names), class_names=list(class_names))
    mask_evaluator = MaskIoUEvaluator(len(class_names), class_names=list(class_names))
    keypoint_evaluator = KeypointPCKEvaluator()
    batches = dataset.take(max_batches) if max_batches is not None and hasattr(dataset, "take") else dataset
    for images, targets in tqdm(
        batches, desc="evaluating", disable=not progress, leave=False, total=max_batches
    ):
        dets = model.detect_batch(
            images,
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=max_detections,
        )
        dets = {k: keras.ops.convert_to_numpy(v) for k, v in dets.items()}
        targets = {k: np.asarray(v) for k, v in targets.items()}
        if "mask_probs" in dets and "masks" not in dets and "masks" in targets:
            dets["masks"] = _pasted_masks(model, dets, targets["masks"].shape[-2:])
        evaluator.update(dets, {k: v for k, v in targets.items() if k not in ("masks", "keypoints")})
        if "masks" in dets and "masks" in targets:
            mask_evaluator.update(dets, {k: v for k, v in targets.items() if k != "keypoints"})
        if "keypoint_heatmaps" in dets and "keypoints" in targets:
            _add_keypoints(keypoint_evaluator, model, dets, targets)
    result = evaluator.result()
    if mask_evaluator.num_images:
        masks = mask_evaluator.result()
        result["mean_mask_iou"] = masks["mean_mask_iou"]
        result["mask_matched"] = masks["matched"]
        result["mask_objects"] = masks["num_objects"]
        for name, entry in result["per_class"].items():
            entry["mean_mask_iou"] = masks["per_class"].get(name, {}).get("mean_mask_iou", float("nan"))
    if keypoint_evaluator.num_images:
        kp = keypoint_evaluator.result()
        result["keypoint_pck"] = kp["pck"]
        result["keypoint_pck_matched"] = kp["pck_matched"]
        result["keypoint_matched"] = kp["matched"]
        result["keypoint_objects"] = kp["num_objects"]
    return result


def _pasted_masks(model: Any, dets: dict[str, np.ndarray], size: Sequence[int]) -> np.ndarray:
    """[B, K, H, W] masks in the input's pixels from the box-frame ``mask_probs`` [B, K, M, M]."""
    probs, boxes = dets["mask_probs"], dets["boxes"]
    out = np.zeros((*probs.shape[:2], *size), "float32")
    for b, n in enumerate(np.asarray(dets["num_detections"])):
        out[b, :n] = model.paste_masks(probs[b, :n], boxes[b, :n], size)
    return out


def _add_keypoints(
    evaluator: Any, model: Any, dets: dict[str, np.ndarray], targets: dict[str, np.ndarray]
) -> None:
    """Decodes each image's keypoint heatmaps (``model.decode_keypoints``) into the PCK evaluator."""
    valid = targets.get("valid", targets["classes"] > 0)
    for b, n in enumerate(np.asarray(dets["num_detections"])):
        boxes = dets["boxes"][b, :n]
        points, _ = model.decode_keypoints(dets["keypoint_heatmaps"][b, :n], boxes)
        v = np.asarray(valid[b], bool)
        evaluator.add_image(
            boxes, dets["scores"][b, :n], dets["classes"][b, :n], points,
            targets["boxes"][b][v], targets["classes"][b][v], targets["keypoints"][b][v],
        )  # fmt: skip


class MapCallback(keras.callbacks.Callback):
    """Adds ``val_map50`` (VOC all-point mAP at IoU 0.5) to the epoch logs every ``every`` epochs (NaN between),
    and ``val_mask_iou`` (mean mask IoU) for models with a mask branch validated on data with masks."""

    def __init__(
        self, dataset: Any, class_names: Sequence[str], every: int = 1, max_batches: int | None = None
    ):
        super().__init__()
        self.dataset = dataset
        self.class_names = tuple(class_names)
        self.every = int(every)
        self.max_batches = max_batches

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        spec = getattr(self.dataset, "element_spec", (None, {}))[1]
        masks = has_mask_branch(self.model) and isinstance(spec, dict) and "masks" in spec
        keypoints = has_keypoint_branch(self.model) and isinstance(spec, dict) and "keypoints" in spec
        if self.every <= 0 or (epoch + 1) % self.every:
            logs["val_map50"] = float("nan")  # the CSV log's columns are fixed by the first epoch
            if masks:
                logs["val_mask_iou"] = float("nan")
            if keypoints:
                logs["val_pck"] = float("nan")
            return
        result = evaluate_detector(self.model, self.dataset, self.class_names, max_batches=self.max_batches)
        logs["val_map50"] = float(result["voc_map"])
        line = f" - val_map50: {logs['val_map50']:.4f}"
        if masks:
            logs["val_mask_iou"] = float(result["mean_mask_iou"])
            line += f" - val_mask_iou: {logs['val_mask_iou']:.4f}"
        if keypoints:
            logs["val_pck"] = float(result["keypoint_pck"])
            line += f" - val_pck: {logs['val_pck']:.4f}"
        print(line)


def train_detector(
    cfg: DetectorTrainConfig, callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int | str = "auto"
) -> dict[str, Any]:
    """Trains, evaluates and reports one detector; resumes if ``cfg.workdir`` holds an interrupted run.

    Returns:
        The report (also written to ``<workdir>/report.json``): config, parameter count, history,
        final metrics, timings and the paths of the files written.

    Example:
        >>> report = train_detector(DetectorTrainConfig(image_size=96, epochs=1, steps_per_epoch=5))
    """
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {cfg.strategy!r}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {cfg.epochs} and {cfg.batch_size}")
    workdir = Path(cfg.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data = load_detection_data(cfg)
    strategy = get_strategy(cfg.strategy)
    with strategy_scope(strategy):
        model = build_detector(cfg, data.num_classes)
        model.compile(optimizer=make_optimizer(cfg, data.steps_per_epoch))
    if has_mask_branch(model) or has_keypoint_branch(model):  # the same pipelines with masks / keypoints
        data = load_detection_data(
            cfg, with_masks=has_mask_branch(model), with_keypoints=has_keypoint_branch(model)
        )
    val_cb = MapCallback(data.val, data.class_names, every=cfg.eval_every, max_batches=data.val_batches)
    start = time.time()
    history = fit_resumable(
        model,
        data.train,
        epochs=cfg.epochs,
        workdir=workdir,
        steps_per_epoch=data.steps_per_epoch,
        callbacks=[val_cb, *callbacks],
        verbose=verbose,
        title=f"{cfg.model} on {cfg.data} ({cfg.image_size}px)",
    )
    train_seconds = time.time() - start
    # the full model (architecture + preprocessing + labels, background first): what
    # `python -m zoo convert` takes as it is
    save_model(
        model, workdir / "model.keras", preprocess=entry(cfg.model).preprocess or "none",
        labels=data.class_names, task="detection",
    )  # fmt: skip
    start = time.time()
    metrics = evaluate_detector(
        model, data.val, data.class_names, max_batches=data.val_batches,
        score_threshold=cfg.score_threshold, iou_threshold=cfg.iou_threshold, max_detections=cfg.max_detections,
    )  # fmt: skip
    eval_seconds = time.time() - start
    images, targets = next(iter(data.val))
    dets = model.detect_batch(images, score_threshold=0.3, iou_threshold=cfg.iou_threshold, max_detections=20)
    dets = {k: keras.ops.convert_to_numpy(v) for k, v in dets.items()}
    if "mask_probs" in dets and "masks" not in dets:
        dets["masks"] = _pasted_masks(model, dets, np.asarray(images).shape[1:3])
    if "keypoint_heatmaps" in dets:
        dets["keypoints"] = np.stack(
            [model.decode_keypoints(h, b)[0] for h, b in zip(dets["keypoint_heatmaps"], dets["boxes"])]
        )
    png = save_detections_png(
        np.asarray(images), dets,
        workdir / "detections.png", class_names=data.class_names,
        ground_truth={k: np.asarray(v) for k, v in targets.items()},
        title=f"{cfg.model}: validation detections (score > 0.3; dashed: ground truth"
        + ("; shaded: predicted masks" if "masks" in dets else "")
        + ("; dots / crosses: predicted / true keypoints" if "keypoints" in dets else "")
        + ")",
    )  # fmt: skip
    report = {
        "config": dataclasses.asdict(cfg),
        "backend": keras.backend.backend(),
        "num_params": int(model.count_params()),
        "num_classes": data.num_classes,
        "class_names": list(data.class_names),
        "epochs_completed": len(next(iter(history.values()), [])),
        "train_seconds_this_run": round(train_seconds, 1),
        "eval_seconds": round(eval_seconds, 1),
        "history": history,
        "metrics": _jsonable(metrics),
        "files": {
            "weights": str(workdir / "last.weights.h5"),
            "model": str(workdir / "model.keras"),
            "history": str(workdir / "history.csv"),
            "curves": str(workdir / "curves.png"),
            "detections": str(png),
        },
    }
    atomic_write_json(workdir / "report.json", report)
    return report


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj
