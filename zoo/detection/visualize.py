"""Drawing detections: boxes, class names and scores on images, saved as one PNG grid.

Boxes are xyxy in absolute pixels of the image they are drawn on (the zoo's convention).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.utils.plots import pyplot, save_figure

_COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
           "#fabed4", "#469990", "#dcbeff", "#9a6324", "#800000", "#aaffc3", "#808000", "#000075")  # fmt: skip


def _class_name(class_id: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and 0 <= class_id < len(class_names):
        return str(class_names[class_id])
    return f"class {class_id}"


def draw_detections(
    ax: Any,
    image: Any,
    boxes: Any,
    classes: Any,
    scores: Any = None,
    *,
    class_names: Sequence[str] | None = None,
    ground_truth: Any = None,
    masks: Any = None,
    title: str = "",
) -> None:
    """Draws one image with its detections (solid, labelled) and optional ground truth (dashed) on ``ax``.

    Args:
        ax: a matplotlib axis.
        image: [H, W, 3] RGB, 0..255 or 0..1.
        boxes: [K, 4] xyxy pixel boxes (only the valid ones).
        classes: [K] class ids (indices into ``class_names``; 0 = background).
        scores: [K] scores or None (ground-truth style).
        class_names: names by class id.
        ground_truth: optional [G, 4] boxes drawn dashed white.
        masks: optional [K, H, W] binary instance masks of the detections, shaded in their box colour.
        title: axis title.
    """
    img = np.asarray(image, dtype="float32")
    if img.max(initial=0.0) > 1.0:
        img = img / 255.0
    img = np.clip(img, 0.0, 1.0)
    if masks is not None:
        from matplotlib.colors import to_rgb

        img = img.copy()
        for cid, mask in zip(np.asarray(classes).reshape(-1), np.asarray(masks)):
            inside = mask.astype(bool)
            color = np.asarray(to_rgb(_COLORS[int(cid) % len(_COLORS)]), dtype="float32")
            img[inside] = 0.5 * img[inside] + 0.5 * color
    ax.imshow(img)
    if ground_truth is not None:
        for x1, y1, x2, y2 in np.asarray(ground_truth).reshape(-1, 4):
            ax.add_patch(_rect(x1, y1, x2, y2, "white", "--"))
    boxes = np.asarray(boxes).reshape(-1, 4)
    classes = np.asarray(classes).reshape(-1)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        cid = int(classes[i])
        color = _COLORS[cid % len(_COLORS)]
        ax.add_patch(_rect(x1, y1, x2, y2, color, "-"))
        label = _class_name(cid, class_names)
        if scores is not None:
            label = f"{label} {float(np.asarray(scores).reshape(-1)[i]):.2f}"
        ax.text(x1, y1, label, fontsize=7, color="white", va="bottom",
                bbox={"facecolor": color, "alpha": 0.8, "pad": 1, "edgecolor": "none"})  # fmt: skip
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _rect(x1: float, y1: float, x2: float, y2: float, color: str, style: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=1.5, linestyle=style)


def save_detections_png(
    images: Any,
    detections: dict[str, Any],
    path: str | os.PathLike,
    *,
    class_names: Sequence[str] | None = None,
    ground_truth: dict[str, Any] | None = None,
    score_threshold: float = 0.3,
    max_images: int = 8,
    title: str = "",
) -> Path:
    """Saves a grid PNG of images with their detections (and ground truth, dashed) drawn on them.

    Args:
        images: [B, H, W, 3] (or a list) RGB images the boxes refer to.
        detections: the zoo detections dict (boxes, scores, classes, num_detections; with ``masks``
            [B, K, H, W], e.g. Mask R-CNN's, the masks are shaded in; with ``keypoints`` [B, K, P, 3],
            decoded Keypoint R-CNN keypoints, they are dotted, and the ground truth's visible
            ``keypoints`` crossed).
        path: PNG file (written atomically).
        class_names: names by class id (index 0 = background).
        ground_truth: optional dict(boxes [B, G, 4], valid [B, G]) drawn dashed.
        score_threshold: detections at or below this score are not drawn.
        max_images: at most this many images.
        title: figure title.

    Example:
        >>> save_detections_png(images, detect(model, images), "runs/x/detections.png",
        ...                     class_names=["background", "circle", "square", "triangle"])
    """
    plt = pyplot()
    n = min(len(images), max_images)
    if n < 1:
        raise ValueError("save_detections_png needs at least one image")
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    dets = {k: np.asarray(v) for k, v in detections.items()}
    for i, ax in enumerate(axes.reshape(-1)):
        if i >= n:
            ax.axis("off")
            continue
        k = int(dets["num_detections"][i])
        keep = dets["scores"][i, :k] > score_threshold
        gt = None
        if ground_truth is not None:
            gt_boxes = np.asarray(ground_truth["boxes"][i])
            valid = ground_truth.get("valid")
            gt = gt_boxes[np.asarray(valid[i], bool)] if valid is not None else gt_boxes
        draw_detections(
            ax,
            images[i],
            dets["boxes"][i, :k][keep],
            dets["classes"][i, :k][keep],
            dets["scores"][i, :k][keep],
            class_names=class_names,
            ground_truth=gt,
            masks=dets["masks"][i, :k][keep] if "masks" in dets else None,
            title=f"{int(keep.sum())} detections > {score_threshold:g}",
        )
        if "keypoints" in dets:  # [B, K, P, 3]: predicted keypoints as dots (ground truth: crosses)
            pts = dets["keypoints"][i, :k][keep].reshape(-1, dets["keypoints"].shape[-1])
            ax.scatter(pts[:, 0], pts[:, 1], s=10, c="yellow", edgecolors="black", linewidths=0.5, zorder=5)
            if gt is not None and "keypoints" in ground_truth:
                g = np.asarray(ground_truth["keypoints"][i]).reshape(-1, 3)
                g = g[g[:, 2] > 0]
                ax.scatter(g[:, 0], g[:, 1], s=14, c="cyan", marker="x", linewidths=0.8, zorder=4)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
