"""An offline training folder for fast style transfer (docs/RESULTS.md, "Generative and sequence models").

OUT/photos/: 100 shapes scenes (160 px) and 100 random square crops of scikit-learn's china.jpg;
OUT/style_swirl.png: a procedural texture (warped sinusoidal strokes, blue/yellow palette) as the style;
OUT/flower.jpg: scikit-learn's flower.jpg, never in the folder, as held-out content.

    python tools/make_style_folder.py --out runs/style_data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def make_style_folder(out: Path, seed: int = 0) -> None:
    from sklearn.datasets import load_sample_image

    from zoo.data.shapes import generate_shapes_example

    (out / "photos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    china = Image.fromarray(load_sample_image("china.jpg"))
    for i in range(100):
        scene = generate_shapes_example(rng, image_size=160)["image"]
        Image.fromarray(scene).save(out / "photos" / f"shapes_{i:03d}.png")
        side = int(rng.integers(96, 427))
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 427 - side))
        china.crop((x, y, x + side, y + side)).save(out / "photos" / f"china_{i:03d}.png")
    n = 256
    yy, xx = np.mgrid[0:n, 0:n] / n
    warp = 0.15 * np.sin(6 * np.pi * yy) + 0.1 * np.cos(5 * np.pi * xx)
    t = np.sin(2 * np.pi * (9 * (xx + warp) + 4 * np.sin(3 * np.pi * (yy - warp))))
    s = np.sin(2 * np.pi * 23 * (yy + 0.3 * xx + 0.05 * np.sin(12 * np.pi * xx)))
    palette = np.array([[20, 40, 120], [60, 110, 200], [240, 210, 60], [250, 250, 200]], np.float32)
    k = np.clip((t + 1) / 2 * 3 + 0.35 * s + 0.3 * rng.normal(size=t.shape), 0, 2.999)
    lo = np.floor(k).astype(int)
    f = (k - lo)[..., None]
    img = palette[lo] * (1 - f) + palette[np.minimum(lo + 1, 3)] * f
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(out / "style_swirl.png")
    Image.fromarray(load_sample_image("flower.jpg")).save(out / "flower.jpg")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/style_data"))
    make_style_folder(p.parse_args().out)


if __name__ == "__main__":
    main()
