"""CRNN captcha / text-line reader (Shi, Bai & Yao 2015): conv body, bidirectional LSTM, CTC.

The image's columns become a sequence: a convolutional body pools height away (2x2 pools, then
2x1 ones that keep horizontal resolution), each remaining column is one time step, a
bidirectional LSTM reads them, and a per-step softmax over ``blank + alphabet`` is trained with
the CTC loss (``keras.ops.ctc_loss``; blank = index 0, character ``i`` = index ``i + 1``). The
CTC alignment lets one model read captchas of any length up to the number of time steps; the
multi-head model of :mod:`zoo.classification.captcha` needs a fixed length.

Labels are ``[B, max_length]`` character indices padded with ``PAD`` (-1), as
``CaptchaGenerator(length=(4, 6))`` gives them. Decoding: greedy (best path) or beam search
(``keras.ops.ctc_decode``).

Example:
    >>> import zoo
    >>> net = zoo.get("crnn_captcha", input_shape=(32, 80, 1), num_chars=10)
    >>> net.compile(optimizer="adam", loss=CTCLoss())
    >>> texts = decode_texts(net.predict(images), "0123456789")
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.registry import register
from zoo.training import reestimate_batchnorm
from zoo.utils.io import atomic_path, atomic_write_json

PAD = -1
# Body configurations, as data: (filters, pool size) per conv-BN-ReLU block.
CONFIGS: dict[str, list[tuple[int, tuple[int, int]]]] = {
    "small": [(32, (2, 2)), (64, (2, 2)), (128, (2, 1)), (128, (2, 1))],
    "tiny": [(8, (2, 2)), (16, (2, 2)), (16, (2, 1))],
}
STRATEGIES = ("greedy", "beam_search")


@register(
    "crnn_captcha",
    task="classification",
    paper="Shi, Bai & Yao 2015, An End-to-End Trainable Neural Network for Image-based Sequence Recognition",
    input_shape=(32, 80, 1),
)
def crnn_captcha(
    input_shape: Sequence[int] = (32, 80, 1),
    num_chars: int = 10,
    config: str = "small",
    units: int = 64,
    name: str = "crnn_captcha",
) -> keras.Model:
    """Image ``[B, H, W, C]`` -> per-column logits ``[B, T, num_chars + 1]`` (index 0 = CTC blank).

    ``T`` is the width divided by the product of the body's horizontal pools (80 / 4 = 20 steps
    for "small"); a captcha of ``L`` characters needs ``T >= 2 L - 1`` at worst (repeats).

    Example:
        >>> crnn_captcha(config="tiny", units=8).output.shape
        (None, 20, 11)
    """
    if config not in CONFIGS:
        raise ValueError(f"Unknown CRNN config {config!r}; choose from {', '.join(CONFIGS)}")
    if len(tuple(input_shape)) != 3 or any(s is None for s in input_shape):
        raise ValueError(f"input_shape must be a fixed (height, width, channels), got {input_shape}")
    if num_chars < 1:
        raise ValueError(f"num_chars must be >= 1, got {num_chars}")
    pools = np.prod([pool for _, pool in CONFIGS[config]], axis=0)
    if input_shape[0] < pools[0] or input_shape[1] < pools[1]:
        raise ValueError(
            f"input_shape {tuple(input_shape)} is too small for the {config!r} body: it pools height by "
            f"{pools[0]} and width by {pools[1]}; give at least {pools[0]}x{pools[1]} pixels"
        )
    inputs = keras.Input(tuple(int(s) for s in input_shape), name="image")
    x = inputs
    for b, (filters, pool) in enumerate(CONFIGS[config], start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{b}_conv")(x)
        x = keras.layers.BatchNormalization(name=f"block{b}_bn")(x)
        x = keras.layers.ReLU(name=f"block{b}_relu")(x)
        x = keras.layers.MaxPooling2D(pool, name=f"block{b}_pool")(x)
    h, w, c = x.shape[1:]
    x = keras.layers.Permute((2, 1, 3), name="columns")(x)  # [B, W, H, C]: one time step per column
    x = keras.layers.Reshape((w, h * c), name="sequence")(x)
    x = keras.layers.Dense(units, activation="relu", name="map_to_sequence")(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=True), name="bilstm")(x)
    outputs = keras.layers.Dense(num_chars + 1, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


class CTCLoss(keras.losses.Loss):
    """CTC loss of ``[B, T, 1 + chars]`` logits against ``[B, L]`` labels padded with -1.

    Example:
        >>> model.compile(optimizer="adam", loss=CTCLoss())
    """

    def __init__(self, name: str = "ctc", **kwargs: Any):
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = ops.cast(y_true, "int32")
        valid = ops.greater_equal(y_true, 0)
        target = ops.where(valid, y_true + 1, 0)
        target_length = ops.sum(ops.cast(valid, "int32"), axis=-1)
        batch, steps = ops.shape(y_pred)[0], ops.shape(y_pred)[1]
        output_length = ops.full((batch,), steps, dtype="int32")
        return ops.ctc_loss(target, y_pred, target_length, output_length, mask_index=0)


def decode(logits: Any, strategy: str = "greedy", beam_width: int = 10) -> list[list[int]]:
    """Character indices per image (blanks and repeats removed) from CRNN logits.

    Example:
        >>> decode(net.predict(images), strategy="beam_search", beam_width=8)[0]
        [0, 7, 8, 2]
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    logits = ops.convert_to_tensor(logits)
    lengths = ops.full((ops.shape(logits)[0],), ops.shape(logits)[1], dtype="int32")
    if strategy == "beam_search":
        # ctc_decode's beam search takes log-probabilities
        logits = ops.log_softmax(logits, axis=-1)
    paths, _ = ops.ctc_decode(
        logits, lengths, strategy=strategy, beam_width=beam_width, top_paths=1, mask_index=0
    )
    best = ops.convert_to_numpy(paths[0])
    return [[int(i) - 1 for i in row if i > 0] for row in best]  # -1 pads; 0 would be the blank


def decode_texts(logits: Any, alphabet: str, strategy: str = "greedy", beam_width: int = 10) -> list[str]:
    """Decoded strings (see :func:`decode`) in ``alphabet``."""
    from zoo.data.captcha import resolve_alphabet

    chars = resolve_alphabet(alphabet)
    return ["".join(chars[i] for i in row) for row in decode(logits, strategy, beam_width)]


def label_texts(labels: np.ndarray, alphabet: str) -> list[str]:
    """Strings of ``[N, L]`` label rows padded with -1."""
    from zoo.data.captcha import resolve_alphabet

    chars = resolve_alphabet(alphabet)
    return ["".join(chars[int(i)] for i in row if i >= 0) for row in np.asarray(labels)]


def check_labels(labels: np.ndarray, num_chars: int) -> np.ndarray:
    """Validates ``[N, L]`` label indices: in ``0..num_chars-1`` or the padding -1, padding at the end.

    Raises:
        ValueError: a label outside the alphabet, or padding before a character.
    """
    labels = np.asarray(labels)
    bad = (labels >= num_chars) | ((labels < 0) & (labels != PAD))
    if bad.any():
        values = sorted({int(v) for v in labels[bad]})
        raise ValueError(
            f"labels {values} are outside the alphabet of {num_chars} characters (indices 0..{num_chars - 1}, "
            f"{PAD} = padding); encode texts with zoo.data.captcha.encode_text and the model's alphabet"
        )
    if (np.diff((labels == PAD).astype(np.int8), axis=-1) < 0).any():
        raise ValueError("label padding (-1) must come after the characters of each row")
    return labels


def captcha_accuracy(true_texts: Sequence[str], predicted: Sequence[str]) -> float:
    """Fraction of captchas read exactly (the whole string)."""
    return float(np.mean([t == p for t, p in zip(true_texts, predicted)])) if true_texts else 0.0


def captcha_accuracy_by_length(true_texts: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Whole-captcha accuracy for each true length, ``{"4": acc, "5": acc, ...}``.

    Example:
        >>> captcha_accuracy_by_length(["1234", "12345"], ["1234", "1245"])
        {'4': 1.0, '5': 0.0}
    """
    by_length: dict[int, list[bool]] = {}
    for t, p in zip(true_texts, predicted):
        by_length.setdefault(len(t), []).append(t == p)
    return {str(n): float(np.mean(hits)) for n, hits in sorted(by_length.items())}


def generated_captchas(
    n: int,
    path: str | os.PathLike,
    *,
    alphabet: str,
    length: int | tuple[int, int],
    height: int,
    width: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` captchas of ``length`` (an int or a range) drawn once, stored at ``path`` (.npz), reloaded after.

    A stored set made for other arguments is regenerated.
    """
    from zoo.data.captcha import CaptchaGenerator

    key = np.array([n, height, width, *np.broadcast_to(length, (2,)), seed])
    path = Path(path)
    if path.exists():
        with np.load(path) as f:
            if str(f["alphabet"]) == alphabet and np.array_equal(f["key"], key):
                return f["images"], f["labels"]
    gen = CaptchaGenerator(alphabet, tuple(np.broadcast_to(length, (2,)).tolist()), height, width, seed=seed)
    images, labels = [], []
    for _ in _progress(range(n), f"drawing {path.name}"):
        image, label = gen.sample()
        images.append(image)
        labels.append(label)
    images, labels = np.stack(images), np.stack(labels)
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, labels=labels, alphabet=np.array(alphabet), key=key)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
    return images, labels


def _progress(iterable: Any, desc: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is installed with the zoo
        return iterable
    return tqdm(iterable, desc=desc, leave=False)


def _plot_samples(images: np.ndarray, truth: Sequence[str], pred: Sequence[str], path: Path) -> None:
    from zoo.utils.plots import pyplot, save_figure

    plt = pyplot()
    cols = 4
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 1.3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, t, p in zip(axes.ravel(), images, truth, pred):
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{p} ({'ok' if p == t else t})", fontsize=9, color="green" if p == t else "red")
    save_figure(fig, path)


def train_crnn(
    workdir: str | os.PathLike,
    *,
    alphabet: str = "digits",
    length: int | tuple[int, int] = (4, 6),
    height: int = 32,
    width: int = 80,
    config: str = "small",
    units: int = 64,
    train_size: int = 8000,
    val_size: int = 500,
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    verbose: int | str = "auto",
) -> dict[str, Any]:
    """Trains a CRNN on generated captchas (resumable) and writes ``report.json``, ``samples.png``.

    The training pool (``train_size`` captchas, ``workdir/train_pool.npz``) and the validation set
    (``val.npz``) are drawn once and stored; checkpoints, ``history.csv`` and ``curves.png`` come
    from :func:`zoo.training.fit_resumable`. The report holds the whole-captcha accuracy of greedy
    and beam-search decoding and the training time.

    Example:
        >>> report = train_crnn("runs/crnn", length=(4, 6), epochs=10)
        >>> report["val_captcha_acc_greedy"]
    """
    import tensorflow as tf

    from zoo.data.captcha import resolve_alphabet
    from zoo.training import fit_resumable

    workdir = Path(workdir)
    chars = resolve_alphabet(alphabet)
    keras.utils.set_random_seed(seed)
    common = dict(alphabet=chars, length=length, height=height, width=width)
    x_train, y_train = generated_captchas(train_size, workdir / "train_pool.npz", seed=seed + 1, **common)
    x_val, y_val = generated_captchas(val_size, workdir / "val.npz", seed=seed + 1000, **common)
    check_labels(y_train, len(chars))
    net = crnn_captcha((height, width, 1), len(chars), config=config, units=units)
    net.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=5.0), loss=CTCLoss())
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed)
        .batch(batch_size, drop_remainder=True)
    )
    start = time.perf_counter()
    history = fit_resumable(
        net, train_ds, epochs=epochs, workdir=workdir, validation_data=(x_val, y_val), verbose=verbose,
        title=f"CRNN + CTC, captchas of length {length}",
    )  # fmt: skip
    reestimate_batchnorm(net, x_train[:4096], batch_size)
    seconds = time.perf_counter() - start
    logits = net.predict(x_val, batch_size=256, verbose=0)
    truth = label_texts(y_val, chars)
    report: dict[str, Any] = {
        "model": "crnn_captcha",
        "config": config,
        "alphabet": chars,
        "length": list(np.broadcast_to(length, (2,)).tolist()),
        "train_size": train_size,
        "val_size": val_size,
        "epochs": epochs,
        "batch_size": batch_size,
        "train_seconds_this_run": seconds,
        "params": int(net.count_params()),
    }
    for strategy in STRATEGIES:
        pred = decode_texts(logits, chars, strategy)
        report[f"val_captcha_acc_{strategy}"] = captcha_accuracy(truth, pred)
        if strategy == "greedy":
            report["val_captcha_acc_greedy_by_length"] = captcha_accuracy_by_length(truth, pred)
            report["examples"] = [{"true": t, "pred": p} for t, p in list(zip(truth, pred))[:12]]
            _plot_samples(x_val[:12], truth[:12], pred[:12], workdir / "samples.png")
    report["history"] = history
    atomic_write_json(workdir / "report.json", report)
    return report
