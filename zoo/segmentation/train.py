"""Training and evaluation of a segmenter: the logic behind ``recipes/train_segmenter.py``.

``train(SegmentationConfig(...))`` builds the data (synthetic shapes, TFDS Oxford-IIIT Pet or
an image/mask folder), the model (any registered segmentation model), trains it with
:func:`zoo.training.fit_resumable` (resumable after an interruption, ``last.weights.h5``,
``history.csv``, ``curves.png``), evaluates pixel accuracy and mean IoU over the validation
set with :class:`zoo.metrics.segmentation.SegmentationEvaluator`, and writes into the workdir:

* ``report.json``: configuration, parameter count, timings, metrics per class;
* ``predictions.png``: a grid of image / ground truth / prediction rows;
* ``model.weights.h5``: the final weights;
* ``model.keras``: the full model with its preprocessing and class names
  (:func:`zoo.saving.save_model`), what ``python -m zoo convert`` takes as it is.

Example:
    >>> from zoo.segmentation.train import SegmentationConfig, train
    >>> report = train(SegmentationConfig(model="unet", data="shapes", image_size=64, epochs=3,
    ...                                   workdir="runs/seg"))
    >>> report["metrics"]["mean_iou"]
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.data import segmentation as segdata
from zoo.metrics.segmentation import SegmentationEvaluator
from zoo.registry import entry
from zoo.saving import save_model
from zoo.segmentation.losses import LOSS_KINDS, SegmentationLoss
from zoo.training import fit_resumable, get_strategy, strategy_scope
from zoo.utils.io import atomic_write_json
from zoo.utils.plots import save_figure

IGNORE_LABEL = segdata.IGNORE_LABEL


@dataclass
class SegmentationConfig:
    """What a segmentation run needs (the recipe's arguments).

    Attributes:
        model: registered segmentation model (``unet``, ``fcn8s_vgg16``, ``unet_vgg16``...).
        data: ``"shapes"``, ``"pets"`` or a folder with ``images/`` and ``masks/`` (or with
            ``train/`` and ``val/`` folders that each hold them).
        workdir: output folder (checkpoints, logs, report).
        data_dir: TFDS data folder for ``pets``.
        image_size: square input side (a multiple of 32 for FCN, 2**(depth-1) for U-Net).
        epochs, batch_size, learning_rate: optimisation (Adam).
        loss: one of ``zoo.segmentation.losses.LOSS_KINDS``.
        train_images, val_images: sizes of the synthetic shapes sets.
        val_fraction: share of a folder without ``val/`` kept for validation.
        filters, depth, batch_norm: U-Net options (base width, levels, batch norm).
        fc_units: FCN fc6/fc7 width (4096 in the paper).
        weights: None, ``"imagenet"`` (FCN: VGG16 classifier convolutionalised into fc6/fc7) or
            ``"imagenet_backbone"`` for VGG16-based models (both use caffe preprocessing).
        strategy: ``"default"`` or ``"mirrored"``.
        seed: data and initialisation seed.
        verbose: Keras ``fit`` verbosity ("auto", 1 progress bar, 2 one line per epoch).
        grid_rows: rows of the prediction grid.
        time_budget_minutes: stop after the first epoch that ends past this training time
            (this run's time only; None: run every epoch).
    """

    model: str = "unet"
    data: str = "shapes"
    workdir: str = "runs/segmenter"
    data_dir: str | None = None
    image_size: int = 64
    epochs: int = 10
    batch_size: int = 16
    learning_rate: float | None = None
    loss: str = "crossentropy"
    train_images: int = 1024
    val_images: int = 128
    val_fraction: float = 0.1
    filters: int = 16
    depth: int = 4
    batch_norm: bool = True
    fc_units: int = 4096
    weights: str | None = None
    strategy: str = "default"
    seed: int = 0
    verbose: Any = "auto"
    grid_rows: int = 4
    time_budget_minutes: float | None = None


@dataclass
class SegmentationData:
    """Datasets and class names of a run."""

    train: Any
    val: Any
    num_classes: int
    class_names: list[str]
    source: str


def _folder_split(root: Path) -> tuple[Path, Path | None]:
    if (root / "train").is_dir() and (root / "val").is_dir():
        return root / "train", root / "val"
    return root, None


def infer_num_classes(root: str | os.PathLike) -> int:
    """Highest class id in a folder's masks + 1 (the ignore label 255 not counted)."""
    highest = 0
    for _, mask_path in segdata.find_image_mask_pairs(root):
        mask = segdata._read_mask(mask_path)
        values = mask[mask != IGNORE_LABEL]
        if values.size:
            highest = max(highest, int(values.max()))
    return highest + 1


def make_data(cfg: SegmentationConfig) -> SegmentationData:
    """Builds the train and validation datasets of ``(image in [0, 255], int mask)`` batches."""
    size, bs, seed = cfg.image_size, cfg.batch_size, cfg.seed
    if cfg.data == "shapes":
        train = segdata.shapes_dataset(cfg.train_images, size, batch_size=bs, seed=seed, shuffle=True)
        val = segdata.shapes_dataset(cfg.val_images, size, batch_size=bs, seed=seed + 10_000)
        names = segdata.shapes_class_names()
        return SegmentationData(train, val, len(names), names, "synthetic shapes (zoo.data.shapes)")
    if cfg.data == "pets":
        kw = dict(data_dir=cfg.data_dir, image_size=size, batch_size=bs, border="ignore", seed=seed)
        train = segdata.pets_dataset("train", shuffle=True, **kw)
        val = segdata.pets_dataset("test", **kw)
        return SegmentationData(train, val, 2, ["background", "pet"], "TFDS oxford_iiit_pet (border ignored)")
    root = Path(cfg.data).expanduser()
    if not root.exists():
        raise FileNotFoundError(
            f"--data {cfg.data!r} is neither 'shapes', 'pets' nor an existing folder with images/ and masks/"
        )
    train_root, val_root = _folder_split(root)
    num_classes = infer_num_classes(train_root)
    if val_root is None:
        pairs = segdata.find_image_mask_pairs(train_root)
        if len(pairs) < 2:
            raise ValueError(
                f"{root} holds {len(pairs)} image/mask pair(s); need at least 2 to keep one for validation"
            )
        n_val = max(1, int(round(len(pairs) * cfg.val_fraction)))
        train = segdata.folder_dataset(
            train_root, size, bs, num_classes, shuffle=True, seed=seed, subset=(n_val, None)
        )
        val = segdata.folder_dataset(train_root, size, bs, num_classes, subset=(0, n_val))
    else:
        train = segdata.folder_dataset(train_root, size, bs, num_classes, shuffle=True, seed=seed)
        val = segdata.folder_dataset(val_root, size, bs, num_classes)
    names = [str(i) for i in range(num_classes)]
    return SegmentationData(train, val, num_classes, names, f"folder {root}")


def preprocess_mode(cfg: SegmentationConfig) -> str:
    """``"caffe"`` for ImageNet VGG16 weights, ``"none"`` for models that normalise inside (FCN-ResNet:
    RGB 0..255 in), else ``"unit"`` (pixels / 255)."""
    if entry(cfg.model).preprocess == "none":
        return "none"
    return "caffe" if cfg.weights in ("imagenet", "imagenet_backbone") else "unit"


def _preprocess_dataset(ds: Any, mode: str) -> Any:
    import tensorflow as tf

    from zoo.preprocessing import CAFFE_MEAN_BGR

    mean = tf.constant(CAFFE_MEAN_BGR, tf.float32)

    def fn(image, mask):
        if mode == "caffe":
            return image[..., ::-1] - mean, mask
        if mode == "none":
            return image, mask
        return image / 255.0, mask

    return ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE)


def build_model(cfg: SegmentationConfig, num_classes: int) -> keras.Model:
    """Builds the registered segmentation model ``cfg.model`` for ``num_classes`` classes."""
    e = entry(cfg.model)
    if e.task != "segmentation":
        raise ValueError(f"{cfg.model!r} is a {e.task} model; choose a segmentation model")
    shape = (cfg.image_size, cfg.image_size, 3)
    if cfg.model == "unet":
        return e.builder(
            num_classes=num_classes,
            input_shape=shape,
            padding="same",
            depth=cfg.depth,
            filters=cfg.filters,
            batch_norm=cfg.batch_norm,
        )
    if cfg.model.startswith("fcn_resnet"):  # torchvision's FCN: trained with its auxiliary head
        return e.builder(num_classes=num_classes, input_shape=shape, weights=cfg.weights, aux=True)
    if cfg.model.startswith("fcn"):
        return e.builder(
            num_classes=num_classes, input_shape=shape, weights=cfg.weights, fc_units=cfg.fc_units
        )
    if cfg.model == "unet_vgg16":
        return e.builder(
            num_classes=num_classes, input_shape=shape, weights=cfg.weights, batch_norm=cfg.batch_norm
        )
    return e.builder(num_classes=num_classes, input_shape=shape)


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the end of the first epoch that finishes after ``minutes`` of training.

    Example:
        >>> model.fit(data, epochs=100, callbacks=[TimeBudget(30)])
    """

    def __init__(self, minutes: float):
        super().__init__()
        if minutes <= 0:
            raise ValueError(f"time budget must be positive, got {minutes} minutes")
        self.minutes = float(minutes)
        self.start = time.perf_counter()
        self.stopped_at_epoch: int | None = None

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.start > 60.0 * self.minutes:
            self.model.stop_training = True
            self.stopped_at_epoch = epoch + 1


def _default_lr(cfg: SegmentationConfig) -> float:
    if cfg.learning_rate is not None:
        return cfg.learning_rate
    return 1e-4 if cfg.model.startswith("fcn") or cfg.model.endswith("vgg16") else 1e-3


def evaluate(model: keras.Model, dataset: Any, num_classes: int, class_names: list[str]) -> dict[str, Any]:
    """Pixel accuracy, per-class and mean IoU of ``model`` over ``dataset`` (streamed by batch)."""
    evaluator = SegmentationEvaluator(num_classes, ignore_label=IGNORE_LABEL, class_names=class_names)
    for images, masks in dataset:
        logits = _main_output(model(images, training=False))
        evaluator.update(np.asarray(masks), keras.ops.convert_to_numpy(logits))
    return evaluator.result()


def _main_output(out: Any) -> Any:
    """The logits of a model called in inference, ``out`` of a model with an auxiliary head (FCN-ResNet)."""
    return out["out"] if isinstance(out, dict) else out


def _palette(num_classes: int) -> np.ndarray:
    base = np.array(
        [[0, 0, 0], [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25], [145, 30, 180],
         [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]], np.uint8,
    )  # fmt: skip
    reps = -(-num_classes // len(base))
    return np.concatenate([np.tile(base, (reps, 1))[:num_classes], [[255, 255, 255]]])  # last: ignore


def colorize(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """Class map -> RGB uint8 (fixed palette; ignored pixels white)."""
    palette = _palette(num_classes)
    index = np.where(mask == IGNORE_LABEL, num_classes, np.clip(mask, 0, num_classes - 1))
    return palette[index]


def save_prediction_grid(
    images: np.ndarray,
    masks: np.ndarray,
    predictions: np.ndarray,
    num_classes: int,
    path: str | os.PathLike,
    title: str = "",
) -> Path:
    """Writes rows of image / ground truth / prediction to a PNG.

    Args:
        images: ``[N, H, W, 3]`` RGB in [0, 255].
        masks: ``[N, H, W]`` class ids.
        predictions: ``[N, H, W]`` class ids.
        num_classes: for the palette.
        path: PNG path.
        title: figure title.
    """
    from zoo.utils.plots import pyplot

    plt = pyplot()
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(6.6, 2.2 * n), squeeze=False)
    for i in range(n):
        panels = (
            np.clip(images[i], 0, 255).astype(np.uint8),
            colorize(masks[i], num_classes),
            colorize(predictions[i], num_classes),
        )
        for ax, panel, label in zip(axes[i], panels, ("image", "ground truth", "prediction")):
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(label)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def train(cfg: SegmentationConfig, callbacks: Iterable[keras.callbacks.Callback] = ()) -> dict[str, Any]:
    """Runs (or resumes) a training run and returns its report (also written to ``report.json``).

    Example:
        >>> report = train(SegmentationConfig(model="unet", data="shapes", epochs=2, workdir="runs/x"))
    """
    if cfg.loss not in LOSS_KINDS:
        raise ValueError(f"Unknown loss {cfg.loss!r}; choose from {', '.join(LOSS_KINDS)}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {cfg.epochs}, {cfg.batch_size}")
    workdir = Path(cfg.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    strategy = get_strategy(cfg.strategy)

    t0 = time.perf_counter()
    data = make_data(cfg)
    mode = preprocess_mode(cfg)
    train_ds = _preprocess_dataset(data.train, mode)
    val_ds = _preprocess_dataset(data.val, mode)
    data_seconds = time.perf_counter() - t0

    with strategy_scope(strategy):
        model = build_model(cfg, data.num_classes)
        model.compile(
            optimizer=keras.optimizers.Adam(_default_lr(cfg)),
            loss=SegmentationLoss(cfg.loss, ignore_label=IGNORE_LABEL),
            metrics=[
                keras.metrics.MeanIoU(
                    data.num_classes, name="mean_iou", sparse_y_pred=False, ignore_class=IGNORE_LABEL
                )
            ],
        )
    callbacks = list(callbacks)
    budget = TimeBudget(cfg.time_budget_minutes) if cfg.time_budget_minutes else None
    if budget is not None:
        callbacks.append(budget)
    t1 = time.perf_counter()
    history = fit_resumable(
        model,
        train_ds,
        epochs=cfg.epochs,
        workdir=workdir,
        validation_data=val_ds,
        callbacks=callbacks,
        verbose=cfg.verbose,
        title=f"{cfg.model} on {cfg.data}",
    )
    train_seconds = time.perf_counter() - t1
    model.save_weights(workdir / ".model.tmp.weights.h5")
    os.replace(workdir / ".model.tmp.weights.h5", workdir / "model.weights.h5")
    save_model(model, workdir / "model.keras", preprocess=mode, labels=data.class_names, task="segmentation")

    t2 = time.perf_counter()
    metrics = evaluate(model, val_ds, data.num_classes, data.class_names)
    eval_seconds = time.perf_counter() - t2

    raw_images, raw_masks = next(iter(data.val.unbatch().batch(cfg.grid_rows)))
    first = next(iter(val_ds.unbatch().batch(cfg.grid_rows)))[0]
    preds = np.argmax(keras.ops.convert_to_numpy(_main_output(model(first, training=False))), axis=-1)
    save_prediction_grid(
        np.asarray(raw_images),
        np.asarray(raw_masks),
        preds,
        data.num_classes,
        workdir / "predictions.png",
        title=f"{cfg.model}: mean IoU {metrics['mean_iou']:.3f}",
    )
    report = {
        "config": dataclasses.asdict(cfg),
        "data": data.source,
        "num_classes": data.num_classes,
        "class_names": data.class_names,
        "model": model.name,
        "num_params": int(model.count_params()),
        "epochs_completed": len(next(iter(history.values()), [])),
        "stopped_by_time_budget": bool(budget is not None and budget.stopped_at_epoch is not None),
        "history": history,
        "metrics": metrics,
        "seconds": {
            "data": round(data_seconds, 2),
            "train": round(train_seconds, 2),
            "eval": round(eval_seconds, 2),
        },
        "backend": keras.backend.backend(),
        "replicas": getattr(strategy, "num_replicas_in_sync", 1),
        "machine": f"{platform.machine()} {os.cpu_count()} CPU(s)",
        "files": [
            "report.json",
            "predictions.png",
            "curves.png",
            "history.csv",
            "model.weights.h5",
            "model.keras",
        ],
    }
    atomic_write_json(workdir / "report.json", report)
    return report
