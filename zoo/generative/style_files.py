"""Style transfer from files to files: what ``python -m zoo style`` and ``recipes/style_transfer.py`` run.

:func:`stylize_files` reads a content and a style image, stylises the content with Gatys'
optimisation (:func:`zoo.generative.style.stylize`, the default) or in one pass of a trained
fast-style transformation network (:mod:`zoo.generative.fast_style`), and writes three files:
``OUT.png`` (the stylised image), ``OUT_side_by_side.png`` (content | style | result) and
``OUT.json`` (settings, time, first and last loss terms). Every file is written atomically.

Example:
    >>> stylize_files("photo.jpg", "starry.jpg", "out.png", iterations=100)                 # Gatys
    >>> stylize_files("photo.jpg", "starry.jpg", "out.png", transform="runs/style/transform.keras")
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

METHODS = ("gatys", "fast")
TRANSFORM_SUFFIXES = (".keras", ".weights.h5")


def side_by_side_path(output: str | os.PathLike) -> Path:
    """``OUT_side_by_side.png`` beside ``OUT.png``."""
    output = Path(output)
    return output.with_name(output.stem + "_side_by_side.png")


def load_transform(path: str | os.PathLike, filters: int = 32, num_residual: int = 5) -> Any:
    """A trained transformation network: a ``.keras`` model, or a ``.weights.h5`` file of a
    :func:`~zoo.generative.fast_style.fast_style_transfer` built with ``filters`` / ``num_residual``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is neither kind, or does not fit the network.
    """
    import keras

    from zoo.generative.fast_style import fast_style_transfer

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"transformation network {str(path)!r} not found: train one with "
            "`python recipes/style_transfer.py fast ...` (it writes WORKDIR/transform.keras)"
        )
    if path.name.endswith(".keras"):
        return keras.models.load_model(path, compile=False)
    if path.name.endswith(".weights.h5"):
        net = fast_style_transfer(filters=filters, num_residual=num_residual)
        try:
            net.load_weights(path)
        except ValueError as exc:
            raise ValueError(
                f"{path} does not fit a transformation network with filters={filters}, "
                f"num_residual={num_residual} (pass the sizes it was trained with): {exc}"
            ) from exc
        return net
    raise ValueError(f"transformation network {str(path)!r} must be a {' or '.join(TRANSFORM_SUFFIXES)} file")


def fast_stylize(net: Any, content: np.ndarray) -> np.ndarray:
    """One pass of a transformation net on ``content`` (RGB ``[H, W, 3]``), cropped to sides that are a
    multiple of 4 (its two stride-2 layers): uint8 ``[H', W', 3]``."""
    import keras

    content = np.asarray(content, np.float32)
    h, w = (s - s % 4 for s in content.shape[:2])
    if min(h, w) < 4 or content.ndim != 3 or content.shape[-1] != 3:
        raise ValueError(f"the content image must be RGB and at least 4x4 pixels, got shape {content.shape}")
    out = keras.ops.convert_to_numpy(net(content[None, :h, :w], training=False))[0]
    return np.clip(out, 0, 255).round().astype(np.uint8)


def stylize_files(
    content: str | os.PathLike,
    style: str | os.PathLike,
    output: str | os.PathLike,
    *,
    transform: str | os.PathLike | None = None,
    weights: Any = "imagenet",
    iterations: int = 100,
    alpha: float = 1.0,
    beta: float = 1e3,
    optimizer: str = "lbfgs",
    init: str = "content",
    max_side: int = 384,
    filters: int = 32,
    num_residual: int = 5,
    progress: bool = True,
) -> dict[str, Any]:
    """Stylises the image file ``content`` after ``style``; writes OUT.png, OUT_side_by_side.png, OUT.json.

    Args:
        content, style: image files (any format Pillow reads); shrunk to ``max_side`` on the longer side.
        output: the stylised PNG (its folder is created).
        transform: a trained transformation network (``.keras`` or ``.weights.h5``): one fast pass
            instead of Gatys' optimisation; the style image then only goes into the side-by-side picture.
        weights: the VGG19 of Gatys' loss: ``"imagenet"`` (keras.applications' notop file from the
            Keras cache), None (random: for tests, the result is no style transfer) or a weights path.
        iterations, alpha, beta, optimizer, init: Gatys' settings (:func:`zoo.generative.style.stylize`).
        filters, num_residual: the network's sizes when ``transform`` is a ``.weights.h5`` file.

    Returns:
        The report written to OUT.json (``method``, ``seconds``, ``size``, the paths, and for
        Gatys the first and last loss terms).

    Raises:
        FileNotFoundError: an input file is missing.
        ValueError: an unreadable image, a content image smaller than VGG19 can describe (Gatys),
            or ImageNet weights that are not in the Keras cache (offline).
    """
    from PIL import Image

    from zoo.generative.fast_style import load_image
    from zoo.generative.style import check_image, save_side_by_side, stylize
    from zoo.utils.io import atomic_path, atomic_write_json

    output = Path(output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"the output must be a .png file, got {str(output)!r}")
    for what, path in (("content", content), ("style", style)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{what} image {str(path)!r} not found")
    content_rgb, style_rgb = load_image(content, max_side), load_image(style, max_side)
    report: dict[str, Any] = {"content": str(content), "style": str(style), "output": str(output)}
    if transform is not None:
        net = load_transform(transform, filters, num_residual)
        start = time.perf_counter()
        image = fast_stylize(net, content_rgb)
        report.update(method="fast", transform=str(transform), seconds=time.perf_counter() - start)
        title = f"fast style transfer ({Path(transform).name}), one pass"
    else:
        check_image(content_rgb, "content")  # before building VGG19 or reading its weights
        check_image(style_rgb, "style")
        result = stylize(
            content_rgb, style_rgb, weights=weights, alpha=alpha, beta=beta, iterations=iterations,
            optimizer=optimizer, init=init, progress=progress,
        )  # fmt: skip
        image = result.image
        report.update(
            method="gatys", weights=str(weights), iterations=iterations, alpha=alpha, beta=beta,
            optimizer=optimizer, init=init, seconds=result.seconds, evaluations=len(result.history),
            first=result.history[0], last=result.history[-1],
        )  # fmt: skip
        title = f"Gatys et al., alpha/beta = {alpha / beta:g}, {iterations} iterations ({optimizer})"
    report["size"] = list(image.shape[:2])
    with atomic_path(output) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    report["side_by_side"] = str(
        save_side_by_side(content_rgb, style_rgb, image, side_by_side_path(output), title)
    )
    atomic_write_json(output.with_suffix(".json"), report)
    return report
