"""Classification + localization: a classifier body with a class head and a 4-number box head.

The course material's recipe (steps 1-4): (1) fine-tune a classifier (AlexNet / VGG / GoogLeNet /
ResNet body) for the classes; (2) add a regression head at the end of the network; (3) train the
regression part with an L2 (Euclidean) loss and SGD; (4) at prediction both heads run together.
The box head is attached either after the last convolution (its own fully connected layers on the
feature map) or after the classifier's fully connected layers (sharing them), selectable with
``attach``. Boxes are xyxy relative to the image (0..1, a sigmoid output).

Example:
    >>> body = zoo.get("vgg11", include_top=False, input_shape=(64, 64, 3))
    >>> classifier, localizer = build_localizer(body, num_classes=3, attach="conv")
    >>> history = train_two_phase(classifier, localizer, images, classes, boxes)
    >>> evaluate_localizer(localizer, images, classes, boxes)  # {"accuracy", "mean_iou"}
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np

from zoo.training import fit_arrays

ATTACH = ("conv", "fc")


def classifier_body(name: str, image_size: int, width: float = 1.0, last_pool: bool = True) -> keras.Model:
    """The convolutional body of zoo classifier ``name`` (``include_top=False``) for square inputs.

    ``width`` != 1 narrows the channels (CPU-sized runs); the zoo's VGG variants take it (their
    ``vgg_features`` blocks, names as ``zoo.get``), other classifiers only width 1.
    ``last_pool=False`` (VGG only) drops ``block5_pool``: stride 16 instead of 32 (OverFeat's
    windows then overlap more, ``zoo.overfeat``).

    Raises:
        ValueError: ``width`` != 1 or ``last_pool=False`` for a classifier that is no zoo VGG.

    Example:
        >>> classifier_body("vgg11", 64, width=0.125).output_shape
        (None, 2, 2, 64)
    """
    if float(width) == 1.0 and last_pool:
        from zoo.registry import get

        return get(name, include_top=False, input_shape=(image_size, image_size, 3))
    from zoo.classification.vgg import VARIANTS, vgg_features

    if name not in VARIANTS:
        raise ValueError(
            f"width {width} / last_pool={last_pool} need a VGG body ({', '.join(VARIANTS)}); {name!r} "
            "takes width 1 with its last pool only"
        )
    config, batch_norm = VARIANTS[name]
    image = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(image)
    return keras.Model(
        image,
        vgg_features(x, config, batch_norm=batch_norm, width=width, last_pool=last_pool),
        name=f"{name}_w{width:g}" + ("" if last_pool else "_nopool5"),
    )


def build_localizer(
    body: keras.Model, num_classes: int, attach: str = "conv", fc_units: int = 256, dropout: float = 0.3
) -> tuple[keras.Model, keras.Model]:
    """(classifier, localizer) sharing ``body``: image -> class probabilities, image -> {"class", "box"}.

    Args:
        body: image -> 4-D feature map (a zoo classifier built with ``include_top=False``).
        num_classes: object classes.
        attach: ``"conv"`` (box head on the last convolutional map, own FC layers) or ``"fc"``
            (box head after the classifier's FC layers).
        fc_units: width of the fully connected layers.
        dropout: before each FC layer of the class head.

    Raises:
        ValueError: unknown ``attach``, a body without a 4-D output, ``num_classes`` < 1.

    Example:
        >>> clf, loc = build_localizer(zoo.get("alexnet_lrn", include_top=False, input_shape=(67, 67, 3)), 3)
    """
    if attach not in ATTACH:
        raise ValueError(
            f"attach must be one of {ATTACH} (after the last conv or after the FC layers), got {attach!r}"
        )
    if len(body.output.shape) != 4:
        raise ValueError(
            f"body must output a 4-D feature map (include_top=False, pooling=None), got {body.output.shape}"
        )
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    image = body.input
    feat = keras.layers.Flatten(name="loc_flatten")(body.output)
    x = keras.layers.Dropout(dropout, name="cls_fc1_dropout")(feat)
    x = keras.layers.Dense(fc_units, activation="relu", name="cls_fc1")(x)
    x = keras.layers.Dropout(dropout, name="cls_fc2_dropout")(x)
    fc = keras.layers.Dense(fc_units, activation="relu", name="cls_fc2")(x)
    cls = keras.layers.Dense(int(num_classes), activation="softmax", name="class")(fc)
    if attach == "fc":
        box = keras.layers.Dense(4, activation="sigmoid", name="box")(fc)
    else:
        y = keras.layers.Dense(fc_units, activation="relu", name="box_fc1")(feat)
        box = keras.layers.Dense(4, activation="sigmoid", name="box")(y)
    classifier = keras.Model(image, cls, name=f"{body.name}_classifier")
    localizer = keras.Model(image, {"class": cls, "box": box}, name=f"{body.name}_localizer_{attach}")
    return classifier, localizer


def train_two_phase(
    classifier: keras.Model,
    localizer: keras.Model,
    images: np.ndarray,
    classes: np.ndarray,
    boxes: np.ndarray,
    *,
    class_epochs: int = 5,
    box_epochs: int = 5,
    batch_size: int = 32,
    class_lr: float = 1e-3,
    box_lr: float = 0.05,
    verbose: int | str = "auto",
    workdir: str | os.PathLike | None = None,
    box_mask: np.ndarray | None = None,
) -> dict[str, list[float]]:
    """Steps 1-3: train the classifier, then only the box head (SGD, L2 loss) with everything else frozen.

    ``box_mask`` ([N] bool): phase 2 trains on the examples where it is True only (OverFeat's
    windows: a background window has no box to regress); default all.

    With ``workdir`` each phase runs through ``zoo.training.fit_resumable`` in ``workdir/classify``
    and ``workdir/box`` (checkpoint every epoch, ``history.csv``, ``curves.png``): an interrupted run
    resumes where it stopped, a finished phase is loaded instead of trained again.

    Returns:
        dict(class_loss [per epoch], box_loss [per epoch]).
    """
    classifier.compile(
        optimizer=keras.optimizers.Adam(class_lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    h1 = fit_arrays(classifier, images, classes, epochs=class_epochs, batch_size=batch_size, verbose=verbose,
                    workdir=None if workdir is None else Path(workdir) / "classify")  # fmt: skip
    shared = {layer.name for layer in classifier.layers}
    for layer in localizer.layers:
        layer.trainable = layer.name not in shared
    localizer.compile(
        optimizer=keras.optimizers.SGD(box_lr, momentum=0.9),
        loss={"box": "mse"},
    )
    if box_mask is not None:
        keep = np.asarray(box_mask, bool)
        if keep.shape != (len(images),) or not keep.any():
            raise ValueError(
                f"box_mask must be [N] = [{len(images)}] booleans with at least one True, got shape {keep.shape}"
            )
        images, boxes = images[keep], np.asarray(boxes)[keep]
    h2 = fit_arrays(localizer, images, {"box": boxes}, epochs=box_epochs, batch_size=batch_size, verbose=verbose,
                    workdir=None if workdir is None else Path(workdir) / "box")  # fmt: skip
    for layer in localizer.layers:
        layer.trainable = True
    return {"class_loss": h1.get("loss", []), "box_loss": h2.get("loss", [])}


def paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box i of ``a`` with box i of ``b`` ([N, 4] xyxy, any common unit) -> [N].

    Example:
        >>> paired_iou(np.array([[0, 0, 2, 2.]]), np.array([[1, 0, 3, 2.]]))
        array([0.33333333])
    """
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = (
        np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), -1)
        + np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), -1)
        - inter
    )
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def evaluate_localizer(
    localizer: keras.Model, images: np.ndarray, classes: np.ndarray, boxes: np.ndarray
) -> dict[str, float]:
    """Step 4: both heads at once -> classification accuracy and mean IoU of the predicted boxes."""
    out = localizer.predict(images, verbose=0)
    pred_cls = np.argmax(out["class"], -1)
    iou = paired_iou(out["box"], boxes)
    return {
        "accuracy": float(np.mean(pred_cls == np.asarray(classes))),
        "mean_iou": float(iou.mean()),
        "iou_at_0.5": float(np.mean(iou >= 0.5)),
    }


def run_localization_experiment(
    workdir: str | os.PathLike,
    *,
    body: str = "vgg11_bn",
    width: float = 0.125,
    image_size: int = 64,
    train_images: int = 2000,
    val_images: int = 200,
    attach: tuple[str, ...] = ATTACH,
    class_epochs: int = 5,
    box_epochs: int = 5,
    batch_size: int = 32,
    class_lr: float = 1e-3,
    box_lr: float = 0.05,
    fc_units: int = 256,
    seed: int = 0,
    verbose: int | str = 2,
) -> dict:
    """Trains and evaluates a localizer per head placement on single-object shapes (``recipes/localize.py``).

    For each ``attach`` a fresh ``classifier_body(body, image_size, width)`` gets both heads
    and ``train_two_phase`` (resumable in ``workdir/<attach>``); the held-out images (another seed)
    give accuracy and mean IoU. Writes ``report.json`` and ``boxes_<attach>.png`` (predicted boxes,
    dashed ground truth) into ``workdir``; a rerun resumes or reloads the finished phases.

    Returns:
        The report: config, and per placement accuracy / mean_iou / iou_at_0.5, histories, seconds.
    """
    import time

    from zoo.data.localization import OBJECT_NAMES, single_object_arrays
    from zoo.detection.visualize import save_detections_png
    from zoo.utils.io import atomic_write_json

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    train = single_object_arrays(train_images, image_size, seed=seed)
    val = single_object_arrays(val_images, image_size, seed=seed + 1_000_003)
    x, xv = train["images"].astype("float32"), val["images"].astype("float32")
    config = {k: v for k, v in locals().items() if k in (
        "body", "width", "image_size", "train_images", "val_images", "class_epochs", "box_epochs",
        "batch_size", "class_lr", "box_lr", "fc_units", "seed")}  # fmt: skip
    report: dict = {
        "config": {**config, "attach": list(attach)},
        "backend": keras.backend.backend(),
        "results": {},
    }
    for where in attach:
        keras.utils.set_random_seed(seed)
        net = classifier_body(body, image_size, width)
        classifier, localizer = build_localizer(net, len(OBJECT_NAMES), attach=where, fc_units=fc_units)
        start = time.time()
        history = train_two_phase(
            classifier, localizer, x, train["classes"], train["boxes"], class_epochs=class_epochs,
            box_epochs=box_epochs, batch_size=batch_size, class_lr=class_lr, box_lr=box_lr,
            verbose=verbose, workdir=workdir / where,
        )  # fmt: skip
        seconds = time.time() - start
        metrics = evaluate_localizer(localizer, xv, val["classes"], val["boxes"])
        out = localizer.predict(xv[:8], verbose=0)
        scale = np.array([image_size] * 4, "float32")
        dets = {
            "boxes": (out["box"] * scale)[:, None], "scores": np.max(out["class"], -1)[:, None],
            "classes": (np.argmax(out["class"], -1) + 1)[:, None], "num_detections": np.ones(8, "int32"),
        }  # fmt: skip
        truth = {"boxes": (val["boxes"][:8] * scale)[:, None], "valid": np.ones((8, 1), bool)}
        png = save_detections_png(
            val["images"][:8], dets, workdir / f"boxes_{where}.png", class_names=("background", *OBJECT_NAMES),
            ground_truth=truth, score_threshold=0.0,
            title=f"{body} localizer, box head after the {where} layers (dashed: ground truth)",
        )  # fmt: skip
        report["results"][where] = {
            **metrics, "num_params": int(localizer.count_params()), "train_seconds_this_run": round(seconds, 1),
            "history": history, "png": str(png),
        }  # fmt: skip
        if verbose:
            print(f"attach={where}: {metrics}", flush=True)
    atomic_write_json(workdir / "report.json", report)
    return report
