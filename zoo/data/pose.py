"""Synthetic stick figures with K joints for K-point regression (DeepPose-style), offline, NumPy.

A figure is a kinematic tree (``SKELETON``: parent of each joint) rooted at the pelvis, with limb
lengths and angles drawn around a few base poses (standing, arms up, walking, sitting), drawn as thick
lines on a noisy background. Joints are (x, y) relative to the image (0..1). Image i comes from
``numpy.random.default_rng([seed, i])``.
"""

from __future__ import annotations

import numpy as np

# joint: (name, parent, limb length as a fraction of the image, base angle in degrees; 90 = down)
SKELETON = (
    ("pelvis", -1, 0.0, 0),
    ("neck", 0, 0.26, -90),
    ("head", 1, 0.10, -90),
    ("l_hand", 1, 0.28, 120),
    ("r_hand", 1, 0.28, 60),
    ("l_foot", 0, 0.34, 105),
    ("r_foot", 0, 0.34, 75),
)
# per pose: angle offsets (degrees) of the joints above
POSES = (
    (0, 0, 0, 0, 0, 0, 0),  # standing
    (0, 0, 0, -150, 150, 0, 0),  # arms up
    (0, 8, 5, 30, -30, 20, -20),  # walking
    (0, 0, 0, -60, 60, -60, 60),  # star
)
NUM_JOINTS = len(SKELETON)


def _line(img: np.ndarray, a: np.ndarray, b: np.ndarray, color: np.ndarray, width: float) -> None:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    p = np.stack([xx, yy], -1)
    d = b - a
    t = np.clip(((p - a) @ d) / max(float(d @ d), 1e-6), 0, 1)
    dist = np.linalg.norm(p - (a + t[..., None] * d), axis=-1)
    img[dist <= width] = color


def stick_figure(
    rng: np.random.Generator, image_size: int = 64, num_joints: int = NUM_JOINTS
) -> dict[str, np.ndarray]:
    """One stick figure: image uint8 [S, S, 3] and joints float32 [K, 2] (x, y relative).

    ``num_joints`` takes the first K joints of ``SKELETON`` (K >= 1).

    Raises:
        ValueError: K outside 1..len(SKELETON) (K = 0 has nothing to regress).

    Example:
        >>> stick_figure(np.random.default_rng(0), 64)["joints"].shape
        (7, 2)
    """
    if not 1 <= num_joints <= NUM_JOINTS:
        raise ValueError(f"num_joints K must be in 1..{NUM_JOINTS} (the skeleton's joints), got {num_joints}")
    s = image_size
    img = np.clip(rng.uniform(40, 200, 3) + 15 * rng.standard_normal((s, s, 3)), 0, 255)
    pose = POSES[int(rng.integers(len(POSES)))]
    scale = rng.uniform(0.7, 1.0)
    pts = np.zeros((NUM_JOINTS, 2))
    pts[0] = [rng.uniform(0.4, 0.6), rng.uniform(0.45, 0.55)]
    for j, (_, parent, length, angle) in enumerate(SKELETON):
        if parent < 0:
            continue
        a = np.deg2rad(angle + pose[j] + rng.normal(0, 10))
        pts[j] = pts[parent] + scale * length * rng.uniform(0.85, 1.15) * np.array([np.cos(a), np.sin(a)])
    pts = np.clip(pts, 0.02, 0.98)
    color = rng.uniform(0, 255, 3)
    while np.linalg.norm(color - img.mean((0, 1))) < 100:
        color = rng.uniform(0, 255, 3)
    for j, (_, parent, _, _) in enumerate(SKELETON):
        if parent >= 0:
            _line(img, pts[parent] * s, pts[j] * s, color, 1.2 * s / 64)
    return {"image": img.astype(np.uint8), "joints": pts[:num_joints].astype("float32")}


def stick_figure_arrays(
    n: int, image_size: int = 64, num_joints: int = NUM_JOINTS, seed: int = 0
) -> dict[str, np.ndarray]:
    """``n`` stick figures: images uint8 [n, S, S, 3], joints float32 [n, K, 2] relative.

    Example:
        >>> stick_figure_arrays(4)["joints"].shape
        (4, 7, 2)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    items = [stick_figure(np.random.default_rng([seed, i]), image_size, num_joints) for i in range(n)]
    return {"images": np.stack([e["image"] for e in items]), "joints": np.stack([e["joints"] for e in items])}
