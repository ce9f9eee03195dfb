"""Captcha images for multitask recognition: generated on the fly, or read from a folder.

Images are drawn with the ``captcha`` package's ``ImageCaptcha`` and its bundled font at its
default 160x60 canvas (where the characters fit), converted to grayscale and resized to
``(height, width)``; pixel values are float32 in [0, 1], shape (H, W, 1). Labels are int32
character indices, shape (length,), into the alphabet:

* ``"digits"``: ``0123456789`` (10 classes, the course material's 4-digit captcha);
* ``"alnum"``: digits and upper-case ASCII letters (36 classes; the bundled font draws
  lower and upper case alike at this size, so lower case is not a separate class).

``ImageCaptcha`` draws its noise from :mod:`secrets`, so rendering cannot be seeded: the
"fixed validation set" is generated once and stored (``stored_captchas(path=...)``).

Example:
    >>> ds = captcha_dataset(batch_size=32, alphabet="digits", length=4)
    >>> images, labels = next(iter(ds))   # (32, 32, 80, 1) float32, (32, 4) int32
"""

from __future__ import annotations

import io
import os
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zoo.utils.io import atomic_path

ALPHABETS = {"digits": string.digits, "alnum": string.digits + string.ascii_uppercase}
DEFAULT_SIZE = (32, 80)  # (height, width) the models take
_CANVAS = (160, 60)  # ImageCaptcha's default (width, height): the font fits this canvas
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
PAD = -1  # label padding of variable-length captchas (CaptchaGenerator(length=(min, max)))


class CaptchaDataError(ValueError):
    """A captcha folder or label that cannot be used (missing, empty, badly named)."""


def resolve_alphabet(alphabet: str) -> str:
    """Returns the characters of ``alphabet``: a name in ``ALPHABETS`` or the characters themselves.

    Example:
        >>> resolve_alphabet("digits")
        '0123456789'
    """
    if alphabet in ALPHABETS:
        return ALPHABETS[alphabet]
    if not isinstance(alphabet, str) or len(alphabet) < 2 or len(set(alphabet)) != len(alphabet):
        raise ValueError(
            f"alphabet must be one of {', '.join(ALPHABETS)} or a string of >= 2 distinct characters, "
            f"got {alphabet!r}"
        )
    return alphabet


def encode_text(text: str, alphabet: str, length: int | None = None) -> np.ndarray:
    """Character indices (int32, shape [len(text)]) of ``text`` in ``alphabet``.

    Letters are upper-cased when the alphabet has no lower case. Raises ``CaptchaDataError``
    for a character outside the alphabet or a text whose length is not ``length``.

    Example:
        >>> encode_text("0782", "digits").tolist()
        [0, 7, 8, 2]
    """
    chars = resolve_alphabet(alphabet)
    if not any(c.islower() for c in chars):
        text = text.upper()
    if length is not None and len(text) != length:
        raise CaptchaDataError(f"captcha text {text!r} has {len(text)} characters, expected {length}")
    bad = sorted({c for c in text if c not in chars})
    if bad:
        raise CaptchaDataError(f"captcha text {text!r} has characters {bad} outside the alphabet {chars!r}")
    return np.array([chars.index(c) for c in text], dtype=np.int32)


def decode_indices(indices: Any, alphabet: str) -> str:
    """The text for a sequence of character indices (the inverse of :func:`encode_text`)."""
    chars = resolve_alphabet(alphabet)
    return "".join(chars[int(i)] for i in np.asarray(indices).reshape(-1))


def _to_array(image: Any, height: int, width: int) -> np.ndarray:
    from PIL import Image

    gray = image.convert("L")
    if gray.size != (width, height):
        gray = gray.resize((width, height), Image.BILINEAR)
    return (np.asarray(gray, dtype=np.float32) / 255.0)[..., None]


def _read(path: str | os.PathLike, height: int, width: int) -> np.ndarray:
    """A captcha file as [H, W, 1] float32 in [0, 1] through ``zoo.utils.images.read_image`` (16-bit,
    palette, RGBA and CMYK files read right; an unreadable file raises ``ImageReadError`` naming it)."""
    from zoo.utils.images import read_image

    return (read_image(path, (height, width), mode="L").astype(np.float32) / 255.0)[..., None]


class CaptchaGenerator:
    """Draws random captchas (text from a seeded NumPy generator, rendering by ``ImageCaptcha``).

    Args:
        alphabet: ``"digits"``, ``"alnum"`` or the characters.
        length: characters per captcha, or a ``(min, max)`` range: each captcha then draws its
            length uniformly and its labels are padded to ``max`` with ``PAD`` (-1).
        height, width: output image size.
        seed: seed of the text sampler (the rendering noise is not seedable).

    Example:
        >>> images, labels = CaptchaGenerator("digits", 4).batch(8)
    """

    def __init__(
        self,
        alphabet: str = "digits",
        length: int | tuple[int, int] = 4,
        height: int = DEFAULT_SIZE[0],
        width: int = DEFAULT_SIZE[1],
        seed: int | None = None,
    ):
        from captcha.image import ImageCaptcha

        min_length, length = (length, length) if np.ndim(length) == 0 else (int(v) for v in length)
        if min_length < 1 or length < min_length:
            raise ValueError(f"length must be >= 1 (or a range 1 <= min <= max), got {min_length}..{length}")
        self.min_length = int(min_length)
        if height < 8 or width < 8:
            raise ValueError(f"captcha images must be at least 8x8, got {height}x{width}")
        self.chars = resolve_alphabet(alphabet)
        self.length, self.height, self.width = int(length), int(height), int(width)
        self.rng = np.random.default_rng(seed)
        self._render = ImageCaptcha(width=_CANVAS[0], height=_CANVAS[1])

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """One (image [H, W, 1] float32, labels [length] int32) pair."""
        n = self.length
        if self.min_length != self.length:  # a fixed length draws exactly what it always drew
            n = int(self.rng.integers(self.min_length, self.length + 1))
        labels = self.rng.integers(0, len(self.chars), size=n).astype(np.int32)
        text = "".join(self.chars[i] for i in labels)
        image = _to_array(self._render.generate_image(text), self.height, self.width)
        return image, np.pad(labels, (0, self.length - n), constant_values=PAD)

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` captchas stacked: images [n, H, W, 1], labels [n, length]."""
        pairs = [self.sample() for _ in range(n)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        while True:
            yield self.sample()


def captcha_dataset(
    batch_size: int,
    *,
    alphabet: str = "digits",
    length: int = 4,
    height: int = DEFAULT_SIZE[0],
    width: int = DEFAULT_SIZE[1],
    seed: int | None = None,
) -> Any:
    """An endless ``tf.data.Dataset`` of fresh captchas, batched and prefetched.

    Every element is new (no epoch repeats), so the model never sees the same image twice.

    Returns:
        Dataset of (images [B, H, W, 1] float32, labels [B, length] int32).
    """
    import tensorflow as tf

    gen = CaptchaGenerator(alphabet, length, height, width, seed=seed)
    ds = tf.data.Dataset.from_generator(
        lambda: iter(gen),
        output_signature=(
            tf.TensorSpec((height, width, 1), tf.float32),
            tf.TensorSpec((length,), tf.int32),
        ),
    )
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def stored_captchas(
    n: int,
    *,
    alphabet: str = "digits",
    length: int = 4,
    height: int = DEFAULT_SIZE[0],
    width: int = DEFAULT_SIZE[1],
    path: str | os.PathLike | None = None,
    seed: int = 1234,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` captchas generated once; with ``path`` stored (``.npz``) and reloaded on later calls.

    This is the fixed validation set (and the optional fixed training pool) of a run.

    A stored set whose size, alphabet or image size differ from the request is regenerated.
    """
    chars = resolve_alphabet(alphabet)
    if path is not None and Path(path).exists():
        with np.load(path) as f:
            images, labels, stored = f["images"], f["labels"], str(f["alphabet"])
        if images.shape == (n, height, width, 1) and labels.shape == (n, length) and stored == chars:
            return images, labels
    images, labels = CaptchaGenerator(chars, length, height, width, seed=seed).batch(n)
    if path is not None:
        buf = io.BytesIO()
        np.savez_compressed(buf, images=images, labels=labels, alphabet=np.array(chars))
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.getvalue())
    return images, labels


def text_from_filename(path: str | os.PathLike) -> str:
    """The captcha text a file name carries: the stem up to the first ``_`` (``0782_17.png`` -> ``0782``)."""
    return Path(path).stem.split("_", 1)[0]


def load_captcha_folder(
    folder: str | os.PathLike,
    *,
    alphabet: str = "digits",
    length: int = 4,
    height: int = DEFAULT_SIZE[0],
    width: int = DEFAULT_SIZE[1],
) -> tuple[np.ndarray, np.ndarray]:
    """Reads a folder of captcha images named by their text (``0782.png`` or ``0782_3.png``).

    Returns:
        images [N, H, W, 1] float32 in [0, 1], labels [N, length] int32.

    Raises:
        CaptchaDataError: the folder is missing, holds no images, or a name is not a valid text.
    """

    folder = Path(folder)
    if not folder.is_dir():
        raise CaptchaDataError(f"captcha folder {str(folder)!r} does not exist or is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CaptchaDataError(
            f"captcha folder {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}) named by their "
            "text, e.g. 0782.png"
        )
    images, labels = [], []
    for p in files:
        try:
            labels.append(encode_text(text_from_filename(p), alphabet, length))
        except CaptchaDataError as e:
            raise CaptchaDataError(
                f"{p.name}: {e} (files must be named by their text, e.g. 0782.png)"
            ) from None
        images.append(_read(p, height, width))
    return np.stack(images), np.stack(labels)


def load_images(paths: list[str | os.PathLike], height: int, width: int) -> np.ndarray:
    """Images to decode, preprocessed as in training: [N, H, W, 1] float32 in [0, 1]."""

    out = []
    for p in paths:
        if not Path(p).is_file():
            raise CaptchaDataError(f"image {str(p)!r} does not exist")
        out.append(_read(p, height, width))
    return np.stack(out)


def save_captcha_folder(
    folder: str | os.PathLike, images: np.ndarray, labels: np.ndarray, alphabet: str
) -> None:
    """Writes images ([N, H, W, 1] in [0, 1]) as PNGs named ``<text>_<i>.png`` (for tests and demos)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (img, lab) in enumerate(zip(images, labels)):
        arr = np.clip(np.asarray(img)[..., 0] * 255.0, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")
        with atomic_path(folder / f"{decode_indices(lab, alphabet)}_{i}.png") as tmp:
            tmp.write_bytes(buf.getvalue())
