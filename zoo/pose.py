"""K-point regression (DeepPose, Toshev & Szegedy, CVPR 2014): a body regresses K (x, y) joints.

Coordinates are normalised to the image (0..1; DeepPose normalises to the person box, here the
image is the box). ``pose_regressor`` puts a 2K regression head on any zoo classifier body (L2 loss);
``pck`` (percentage of correct keypoints at a fraction of the figure's size, PCK@0.2) and
``mean_pixel_error`` measure it; ``draw_skeletons`` saves predictions over images as a PNG.

The cascade (DeepPose section 3.2): a later stage refines each joint from a ``crop`` x ``crop``
pixel window centred on the previous estimate (``crop_windows``): ``pose_refiner`` regresses the
joint's position inside its window from the window and the joint's index (one network shared by
the K joints, where the paper trains one per joint), trained on windows centred on the true joints
displaced by the previous stage's error (``refiner_training_data``: DeepPose's simulated
predictions, a normal with the measured per-coordinate standard deviation). ``run_pose_experiment``
trains one stage and the cascade and measures both (``recipes/pose.py``).
"""

from __future__ import annotations

import json
import os
from typing import Any

import keras
import numpy as np

from zoo.training import fit_arrays


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


def crop_windows(images: np.ndarray, centers: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """``crop`` x ``crop`` windows of ``images`` [N, S, S, 3] centred on ``centers`` [N, K, 2] (relative).

    Pixels outside the image are the edge pixels (edge padding). Returns (windows [N, K, crop, crop, 3],
    origins [N, K, 2] of each window's top-left corner in image pixels, x then y).

    Raises:
        ValueError: ``crop`` < 2 or larger than the image.

    Example:
        >>> w, o = crop_windows(np.zeros((1, 64, 64, 3)), np.array([[[0.5, 0.5]]]), 16)
        >>> w.shape, o[0, 0]
        ((1, 1, 16, 16, 3), array([24., 24.]))
    """
    images, centers = np.asarray(images), np.asarray(centers, "float64")
    n, s = images.shape[0], images.shape[1]
    if not 2 <= int(crop) <= s:
        raise ValueError(f"crop must be between 2 and the image size {s} pixels, got {crop}")
    crop = int(crop)
    padded = np.pad(images, ((0, 0), (crop, crop), (crop, crop), (0, 0)), mode="edge")
    origins = np.round(centers * s - crop / 2.0)  # [N, K, 2]
    k = centers.shape[1]
    out = np.empty((n, k, crop, crop, images.shape[-1]), images.dtype)
    for i in range(n):
        for j in range(k):
            x0, y0 = (int(v) + crop for v in origins[i, j])
            out[i, j] = padded[i, y0 : y0 + crop, x0 : x0 + crop]
    return out, origins.astype("float32")


def pose_refiner(crop: int, num_joints: int, filters: int = 16, fc_units: int = 128) -> keras.Model:
    """A cascade stage: (window [B, crop, crop, 3] 0..255, joint index one-hot [B, K]) -> the joint's
    (x, y) inside the window, relative (sigmoid, [B, 2]). Three 3x3 conv + pool blocks, then FC."""
    if not isinstance(num_joints, (int, np.integer)) or num_joints < 1:
        raise ValueError(f"num_joints K must be a positive integer (K points to regress), got {num_joints!r}")
    window = keras.Input((crop, crop, 3), name="window")
    joint = keras.Input((int(num_joints),), name="joint")
    x = keras.layers.Rescaling(1 / 255.0, name="refine_rescale")(window)
    for b in range(3):
        x = keras.layers.Conv2D(
            filters * 2**b, 3, padding="same", activation="relu", name=f"refine_conv{b + 1}"
        )(x)
        x = keras.layers.MaxPooling2D(2, name=f"refine_pool{b + 1}")(x)
    x = keras.layers.Concatenate(name="refine_concat")(
        [keras.layers.Flatten(name="refine_flatten")(x), joint]
    )
    x = keras.layers.Dense(fc_units, activation="relu", name="refine_fc1")(x)
    x = keras.layers.Concatenate(name="refine_concat2")([x, joint])
    x = keras.layers.Dense(2, activation="sigmoid", name="refine_xy")(x)
    return keras.Model([window, joint], x, name=f"pose_refiner{crop}")


def _refiner_inputs(
    images: np.ndarray, centers: np.ndarray, crop: int
) -> tuple[list[np.ndarray], np.ndarray]:
    windows, origins = crop_windows(images, centers, crop)
    n, k = centers.shape[:2]
    onehot = np.tile(np.eye(k, dtype="float32")[None], (n, 1, 1)).reshape(n * k, k)
    return [windows.reshape(n * k, crop, crop, -1).astype("float32"), onehot], origins


def refiner_training_data(
    images: np.ndarray,
    joints: np.ndarray,
    sigma: np.ndarray,
    crop: int,
    rng: np.random.Generator,
    copies: int = 1,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Training windows of a cascade stage: centred on the true joints + N(0, sigma) (relative units).

    Args:
        sigma: [2] or [K, 2] standard deviation of the previous stage's error (e.g. on its training set).
        copies: displaced samples per joint.

    Returns:
        ([windows [M, crop, crop, 3], joint one-hot [M, K]], targets [M, 2] the true joint in the window,
        relative, clipped to 0..1), M = copies x N x K.
    """
    xs, ys, ts = [], [], []
    s = images.shape[1]
    for _ in range(int(copies)):
        centers = joints + rng.normal(0.0, 1.0, joints.shape) * np.asarray(sigma)
        (w, onehot), origins = _refiner_inputs(images, centers, crop)
        target = (joints * s - origins) / crop
        xs.append(w), ys.append(onehot), ts.append(np.clip(target.reshape(-1, 2), 0.0, 1.0))
    return [np.concatenate(xs), np.concatenate(ys)], np.concatenate(ts).astype("float32")


def refine(refiner: keras.Model, images: np.ndarray, joints: np.ndarray, crop: int) -> np.ndarray:
    """One cascade stage at prediction: each joint re-estimated from its window -> [N, K, 2] relative."""
    n, k = joints.shape[:2]
    inputs, origins = _refiner_inputs(images, np.asarray(joints), crop)
    inside = refiner.predict(inputs, verbose=0, batch_size=256).reshape(n, k, 2)
    return (origins + inside * crop) / images.shape[1]


def run_pose_experiment(
    workdir: str | os.PathLike,
    *,
    body: str = "vgg11_bn",
    width: float = 0.125,
    image_size: int = 64,
    train_images: int = 2000,
    val_images: int = 200,
    epochs: int = 10,
    refine_epochs: int = 5,
    crop: int = 24,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 0,
    verbose: int | str = 2,
) -> dict:
    """Stage 1 (``pose_regressor`` on a zoo body) then one refinement stage, both resumable in
    ``workdir/stage1`` / ``workdir/stage2``; PCK@0.2 and mean pixel error of each on held-out
    figures; ``report.json`` and ``skeletons.png`` (top: stage 1, bottom: cascade; green: truth)."""
    from pathlib import Path

    from zoo.data.pose import SKELETON, stick_figure_arrays
    from zoo.localization import classifier_body
    from zoo.utils.io import atomic_write_json

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    train = stick_figure_arrays(train_images, image_size, seed=seed)
    val = stick_figure_arrays(val_images, image_size, seed=seed + 1_000_003)
    x, xv = train["images"].astype("float32"), val["images"].astype("float32")
    k = train["joints"].shape[1]
    keras.utils.set_random_seed(seed)
    model = pose_regressor(classifier_body(body, image_size, width), k)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    h1 = fit_arrays(model, x, train["joints"], epochs=epochs, batch_size=batch_size, workdir=workdir / "stage1",
                    verbose=verbose, seed=seed)  # fmt: skip
    train_pred = model.predict(x, verbose=0, batch_size=128)
    sigma = np.std(train_pred - train["joints"], axis=0)  # [K, 2] stage-1 error on its training set
    refiner = pose_refiner(crop, k)
    refiner.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    rx, ry = refiner_training_data(x, train["joints"], sigma, crop, np.random.default_rng(seed))
    h2 = fit_arrays(refiner, tuple(rx), ry, epochs=refine_epochs, batch_size=batch_size * 4,
                    workdir=workdir / "stage2", verbose=verbose, seed=seed)  # fmt: skip
    p1 = model.predict(xv, verbose=0, batch_size=128)
    p2 = refine(refiner, xv, p1, crop)
    results = {
        name: {"pck@0.2": pck(p, val["joints"], 0.2), "mean_pixel_error": mean_pixel_error(p, val["joints"], image_size)}
        for name, p in (("stage1", p1), ("cascade", p2))
    }  # fmt: skip
    png = draw_skeletons(
        workdir / "skeletons.png", np.concatenate([val["images"][:4]] * 2),
        np.concatenate([p1[:4], p2[:4]]), np.concatenate([val["joints"][:4]] * 2), SKELETON,
    )  # fmt: skip
    report = {
        "config": {"body": body, "width": width, "image_size": image_size, "train_images": train_images,
                   "val_images": val_images, "epochs": epochs, "refine_epochs": refine_epochs, "crop": crop,
                   "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed},
        "backend": keras.backend.backend(),
        "stage1_train_error_sigma_px": (sigma * image_size).round(2).tolist(),
        "results": results,
        "history": {"stage1": h1, "stage2": h2},
        "files": {"skeletons": png},
    }  # fmt: skip
    atomic_write_json(workdir / "report.json", report)
    if verbose:
        print(json.dumps(results), flush=True)
    return report
