"""One image reader for the whole zoo: every PIL mode to RGB (or grey) uint8, with clear errors.

``predict``, calibration folders and the data loaders read pictures through :func:`read_image`,
so a 16-bit greyscale PNG, a palette GIF, a CMYK JPEG or an RGBA PNG reads the same way
everywhere:

- 16-bit and 32-bit integer grey (``I;16``, ``I;16B``, ``I``) is scaled to 8 bits (``/ 257``),
  not clipped (``Image.convert("RGB")`` turns a 16-bit picture almost pure white);
  floating-point grey (``F``) is read as [0, 1] when its values lie there, else as [0, 255].
- 16-bit RGB (48/64-bit PNG or TIFF) is reduced to 8 bits by Pillow itself.
- palette (``P``, ``PA``), ``LA``, ``RGBA`` and other modes with transparency are composited on
  ``background`` (white by default), so transparent areas do not turn into black noise.
- CMYK and YCbCr convert through Pillow; the EXIF orientation tag is applied.
- a picture over ``max_pixels`` raises :class:`ImageTooLargeError` (a ``ValueError``) naming
  its size and the limit, instead of Pillow's ``DecompressionBombError``.

:func:`read_images` reads many files for a dataset: unreadable ones are skipped and counted
(or raise, with ``skip_unreadable=False``).

Example:
    >>> from zoo.utils.images import read_image
    >>> pixels = read_image("cat.png", size=(224, 224))   # uint8 [224, 224, 3]
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Pixel limit a picture may have (width x height). Pillow's own default (about 89 million,
#: a 9460 x 9460 picture); larger pictures raise :class:`ImageTooLargeError`.
DEFAULT_MAX_PIXELS = 89_478_485

_RESAMPLE = {"nearest": 0, "bilinear": 2, "bicubic": 3, "lanczos": 1, "box": 4, "hamming": 5}


#: How a picture is stretched to a model's input size (:func:`resize_images`); the first is the default.
RESIZES = ("mediapipe", "pil")


def resize_images(images: np.ndarray, size: tuple[int, int], method: str = "mediapipe") -> np.ndarray:
    """Stretches uint8 images ``[N, h, w, 3]`` to ``size`` (H, W) as an app's pipeline would.

    Args:
        images: uint8 RGB images.
        size: target (height, width).
        method: ``"mediapipe"`` (default): what MediaPipe Tasks' image-to-tensor step does on the
            CPU, an affine warp, bilinear, no antialiasing, output pixel ``x`` sampling input
            ``x * w_in / w_out`` (corners aligned, no half-pixel shift), borders replicated; a
            downscale samples, it does not average (model outputs equal MediaPipe's to 0.0 on
            the bundled photos); ``"pil"``: PIL's bilinear, which antialiases when shrinking
            (the training loaders). ``python -m zoo predict --resize`` and the export
            verification take either; both default to MediaPipe's.

    Example:
        >>> resize_images(np.zeros((2, 64, 48, 3), np.uint8), (32, 32)).shape
        (2, 32, 32, 3)
    """
    if method not in RESIZES:
        raise ValueError(f"resize must be one of {', '.join(RESIZES)}, got {method!r}")
    h, w = int(size[0]), int(size[1])
    if images.shape[1:3] == (h, w):
        return images
    if method == "pil":
        from PIL import Image

        return np.stack(
            [np.asarray(Image.fromarray(i).resize((w, h), Image.BILINEAR), dtype=np.uint8) for i in images]
        )
    import cv2

    ih, iw = images.shape[1:3]
    m = np.float32([[w / iw, 0, 0], [0, h / ih, 0]])  # output pixel x samples input x * iw / w
    flags = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.stack([cv2.warpAffine(np.ascontiguousarray(i), m, (w, h), **flags) for i in images])


class ImageReadError(ValueError):
    """A file that is not a readable image (missing, truncated, not a picture)."""


class ImageTooLargeError(ImageReadError):
    """A picture with more pixels than the reader's ``max_pixels`` limit."""


def _check_size(path: Path, size: tuple[int, int], max_pixels: int | None) -> None:
    width, height = size
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f"Image {path} is {width} x {height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,}; downscale it first, or raise the limit (max_pixels=..., --max-pixels)"
        )


def to_rgb(image: Any, background: tuple[int, int, int] = (255, 255, 255)) -> Any:
    """Converts a PIL image of any mode to 8-bit ``RGB`` (see the module docstring for the rules).

    Args:
        image: a ``PIL.Image.Image``.
        background: RGB colour transparent pixels are composited on.

    Returns:
        A ``PIL.Image.Image`` in mode ``RGB``.

    Example:
        >>> to_rgb(Image.open("logo.png")).mode
        'RGB'
    """
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I") or mode == "F":
        grey = np.asarray(image)
        return Image.fromarray(_grey_to_uint8(grey, mode)).convert("RGB")
    if mode in ("RGBA", "LA", "La", "RGBa", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def _grey_to_uint8(grey: np.ndarray, mode: str) -> np.ndarray:
    if mode == "F":
        grey = grey.astype(np.float64)
        finite = grey[np.isfinite(grey)]
        scale = 255.0 if finite.size and finite.min() >= 0 and finite.max() <= 1 else 1.0
        return np.clip(np.nan_to_num(grey) * scale, 0, 255).round().astype(np.uint8)
    grey = grey.astype(np.int64)
    if grey.size and grey.max() > 65535:  # 32-bit integer grey: keep the top byte
        return np.clip(grey >> 24, 0, 255).astype(np.uint8)
    return np.clip(np.round(grey / 257.0), 0, 255).astype(np.uint8)


def read_image(
    path: str | os.PathLike,
    size: tuple[int, int] | None = None,
    *,
    mode: str = "RGB",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    resample: str = "bilinear",
    background: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Reads an image file as uint8 ``[H, W, 3]`` (``mode="RGB"``) or ``[H, W]`` (``mode="L"``).

    Args:
        path: the image file.
        size: optional ``(height, width)`` to resize to.
        mode: ``"RGB"`` or ``"L"`` (8-bit grey, computed from the RGB reading).
        max_pixels: largest ``width * height`` accepted (None: no limit beyond Pillow's own,
            twice :data:`DEFAULT_MAX_PIXELS`).
        resample: ``"bilinear"`` (default), ``"nearest"``, ``"bicubic"``, ``"lanczos"``,
            ``"box"`` or ``"hamming"``.
        background: RGB colour transparent pixels are composited on.

    Raises:
        FileNotFoundError: the file does not exist.
        ImageTooLargeError: the picture has more than ``max_pixels`` pixels.
        ImageReadError: the file is not a readable image.

    Example:
        >>> read_image("scan16.png", size=(64, 64)).dtype
        dtype('uint8')
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', got {mode!r}")
    if resample not in _RESAMPLE:
        raise ValueError(f"resample must be one of {', '.join(_RESAMPLE)}, got {resample!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Image not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_size(path, img.size, max_pixels)
                img = ImageOps.exif_transpose(img)
                rgb = to_rgb(img, background)
                if mode == "L":
                    rgb = rgb.convert("L")
                if size is not None:
                    rgb = rgb.resize((int(size[1]), int(size[0])), _RESAMPLE[resample])
                return np.asarray(rgb, dtype=np.uint8)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"Image {path} is too large to read safely ({exc}); downscale it first"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageReadError(f"Cannot read image {path}: {exc}") from exc


@dataclass
class ReadReport:
    """What :func:`read_images` read and skipped.

    Attributes:
        read: paths read, in order.
        skipped: ``(path, reason)`` for each file that could not be read.
    """

    read: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: ``read 30 images, skipped 2 (a.png: ...; b.jpg: ...)``."""
        text = f"read {len(self.read)} images"
        if self.skipped:
            shown = "; ".join(f"{p.name}: {r}" for p, r in self.skipped[:3])
            more = f"; +{len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
            text += f", skipped {len(self.skipped)} unreadable ({shown}{more})"
        return text


def read_images(
    paths: Iterable[str | os.PathLike],
    size: tuple[int, int],
    *,
    skip_unreadable: bool = True,
    warn: bool = True,
    **kwargs: Any,
) -> tuple[np.ndarray, ReadReport]:
    """Reads many files to one uint8 batch ``[N, H, W, 3]``, skipping and counting unreadable ones.

    Args:
        paths: image files.
        size: ``(height, width)`` every picture is resized to.
        skip_unreadable: skip files :func:`read_image` rejects (too large, corrupt, not an
            image) and count them in the report; False raises on the first one.
        warn: print the report's summary to stderr when something was skipped.
        **kwargs: passed to :func:`read_image` (``mode``, ``max_pixels``, ``resample``...).

    Returns:
        ``(images, report)``; ``images`` has one row per readable file.

    Raises:
        ImageReadError: a file is unreadable and ``skip_unreadable`` is False, or no file at
            all could be read.

    Example:
        >>> images, report = read_images(sorted(Path("photos").glob("*.jpg")), (224, 224))
        >>> print(report.summary())
    """
    import sys

    report = ReadReport()
    arrays = []
    for p in paths:
        p = Path(p)
        try:
            arrays.append(read_image(p, size, **kwargs))
        except (ImageReadError, FileNotFoundError) as exc:
            if not skip_unreadable:
                raise
            report.skipped.append((p, str(exc)))
            continue
        report.read.append(p)
    if not arrays:
        reason = f" ({report.skipped[0][1]})" if report.skipped else ""
        raise ImageReadError(f"No readable image among {len(report.skipped)} file(s){reason}")
    if warn and report.skipped:
        print(f"warning: {report.summary()}", file=sys.stderr)
    channels = () if kwargs.get("mode", "RGB") == "L" else (3,)
    return np.stack(arrays).reshape(len(arrays), int(size[0]), int(size[1]), *channels), report
