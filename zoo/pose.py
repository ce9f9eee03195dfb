"""K-point regression (DeepPose, Toshev & Szegedy, CVPR 2014): a body regresses K (x, y) joints.

Coordinates are normalised to the image (0..1; DeepPose normalises to the person box, here the
image is the box). ``pose_regressor`` puts a 2K regression head on any zoo classifier body (L2 loss);
``pck`` (percentage of correct keypoints at a fraction of the figure's size, PCK@0.2) and
``mean_pixel_error`` measure it; ``draw_skeletons`` saves predictions over images as a PNG.
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np


def pose_regressor(
    body: keras.Model, num_joints: int, fc_units: int = 256, dropout: float = 0.2
) -> keras.Model:
    """Body -> Flatten -> FC -> 2K sigmoid outputs reshaped to [B, K, 2] (x, y relative).

    Raises:
        ValueError: K < 1 (nothing to regress) or a body without a 4-D output.

    Example:
        >>> model = pose_regressor(zoo.get("vgg11", include_top=False, input_shape=(64, 64, 3)), num_joints=7)
        >>> model.output_shape
        (None, 7, 2)
    """
    if not isinstance(num_joints, (int, np.integer)) or num_joints < 1:
        raise ValueError(f"num_joints K must be a positive integer (K points to regress), got {num_joints!r}")
    if len(body.output.shape) != 4:
        raise ValueError(f"body must output a 4-D feature map (include_top=False), got {body.output.shape}")
    x = keras.layers.Flatten(name="pose_flatten")(body.output)
    x = keras.layers.Dropout(dropout, name="pose_fc1_dropout")(x)
    x = keras.layers.Dense(fc_units, activation="relu", name="pose_fc1")(x)
    x = keras.layers.Dense(2 * int(num_joints), activation="sigmoid", name="pose_joints")(x)
    x = keras.layers.Reshape((int(num_joints), 2), name="joints")(x)
    return keras.Model(body.input, x, name=f"{body.name}_pose{num_joints}")


def pck(pred: np.ndarray, true: np.ndarray, alpha: float = 0.2, visible: np.ndarray | None = None) -> float:
    """PCK@alpha: fraction of joints within alpha x the figure's size (diagonal of its joints' box).

    Args:
        pred, true: [N, K, 2] joints (any unit, the same for both); a NaN prediction (e.g. a figure
            nobody detected) is never correct.
        alpha: the fraction of the size.
        visible: optional [N, K] flags: only visible joints count, and the size is that of the
            visible joints' box (figures without any visible joint are left out).

    Example:
        >>> pck(np.zeros((1, 2, 2)), np.array([[[0, 0], [1, 1.]]]), 0.2)
        0.5
    """
    pred, true = np.asarray(pred, "float64"), np.asarray(true, "float64")
    if pred.shape != true.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"pred and true must both be [N, K, 2], got {pred.shape} and {true.shape}")
    if visible is None:
        visible = np.ones(true.shape[:2], bool)
    visible = np.asarray(visible, bool)
    if visible.shape != true.shape[:2]:
        raise ValueError(f"visible must be [N, K] = {true.shape[:2]}, got {visible.shape}")
    hi = np.where(visible[..., None], true, -np.inf).max(1)
    lo = np.where(visible[..., None], true, np.inf).min(1)
    size = np.linalg.norm(np.where(visible.any(1)[:, None], hi - lo, 0.0), axis=-1)  # [N]
    dist = np.linalg.norm(pred - true, axis=-1)  # [N, K]
    if not visible.any():
        return float("nan")
    return float(np.mean((dist <= alpha * size[:, None])[visible]))


def mean_pixel_error(pred: np.ndarray, true: np.ndarray, image_size: int) -> float:
    """Mean Euclidean joint error in pixels of an ``image_size`` image (coordinates relative)."""
    return float(np.mean(np.linalg.norm((np.asarray(pred) - np.asarray(true)) * image_size, axis=-1)))


def draw_skeletons(
    path: str | os.PathLike, images: np.ndarray, pred: np.ndarray, true: np.ndarray | None, skeleton: Any
) -> str:
    """Saves a grid of images with predicted (red) and true (green) skeletons as a PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.utils.io import atomic_path

    n = len(images)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.5 * cols, 2.5 * rows), squeeze=False)
    s = images.shape[1]
    for ax, i in zip(axes.flat, range(n)):
        ax.imshow(images[i])
        for pts, color in ((true, "lime"), (pred, "red")):
            if pts is None:
                continue
            p = np.asarray(pts[i]) * s
            for j, (_, parent, *_rest) in enumerate(skeleton[: len(p)]):
                if 0 <= parent < len(p):
                    ax.plot([p[parent, 0], p[j, 0]], [p[parent, 1], p[j, 1]], color=color, lw=1.5)
            ax.scatter(p[:, 0], p[:, 1], c=color, s=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return os.fspath(path)
