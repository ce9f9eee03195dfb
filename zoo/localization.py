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

import keras
import numpy as np

ATTACH = ("conv", "fc")


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
) -> dict[str, list[float]]:
    """Steps 1-3: train the classifier, then only the box head (SGD, L2 loss) with everything else frozen.

    Returns:
        dict(class_loss [per epoch], box_loss [per epoch]).
    """
    classifier.compile(
        optimizer=keras.optimizers.Adam(class_lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    h1 = classifier.fit(images, classes, epochs=class_epochs, batch_size=batch_size, verbose=verbose)
    shared = {layer.name for layer in classifier.layers}
    for layer in localizer.layers:
        layer.trainable = layer.name not in shared
    localizer.compile(
        optimizer=keras.optimizers.SGD(box_lr, momentum=0.9),
        loss={"box": "mse"},
    )
    h2 = localizer.fit(images, {"box": boxes}, epochs=box_epochs, batch_size=batch_size, verbose=verbose)
    for layer in localizer.layers:
        layer.trainable = True
    return {"class_loss": h1.history.get("loss", []), "box_loss": h2.history.get("loss", [])}


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
