"""Resumable training shared by every recipe: checkpoints, CSV log, curves, distribution.

``fit_resumable`` wraps ``model.fit`` with what a recipe needs so that no recipe writes it
again: ``keras.callbacks.BackupAndRestore`` (an interrupted run resumes at the last finished
epoch with its optimizer state), a ``last.weights.h5`` checkpoint written every epoch, an
appended ``history.csv`` and a ``curves.png`` plot (both rewritten every epoch), and a
``done.json`` marker: rerunning a finished run reports it instead of training it again, and
a rerun with more epochs continues from it. Checkpoint writes are never cut short by Ctrl-C
(:func:`zoo.utils.signals.deferred_interrupts`). The work directory's configuration and lock
are :mod:`zoo.runs`. ``get_strategy("mirrored")`` gives a
``tf.distribute.MirroredStrategy`` on the TensorFlow backend.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.utils.io import atomic_write_json, atomic_write_text
from zoo.utils.plots import plot_history
from zoo.utils.signals import deferred_interrupts

STRATEGIES = ("default", "mirrored")


def get_strategy(name: str | None = "default") -> Any:
    """Returns a ``tf.distribute`` strategy by name, or None for the default (no distribution).

    ``"mirrored"`` mirrors the model over every visible GPU (or logical CPU device) and needs
    the TensorFlow backend; build and compile the model inside ``strategy_scope(strategy)``.
    """
    if name in (None, "default", "none"):
        return None
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"--strategy {name} uses tf.distribute and needs KERAS_BACKEND=tensorflow "
            f"(current backend: {keras.backend.backend()}). On JAX, use the default strategy."
        )
    import tensorflow as tf

    return tf.distribute.MirroredStrategy()


def strategy_scope(strategy: Any) -> contextlib.AbstractContextManager:
    """``strategy.scope()``, or a no-op context when ``strategy`` is None."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def read_history(csv_path: str | os.PathLike) -> dict[str, list[float]]:
    """Reads a ``history.csv`` (or a ``keras.callbacks.CSVLogger`` file) into metric -> values.

    Every list has one value per logged epoch; an epoch without a value (an empty or ``NA``
    cell, e.g. a metric computed every other epoch) reads as NaN, so lists stay aligned.
    """
    path = Path(csv_path)
    if not path.exists():
        return {}
    rows = _rows(path)
    keys = [k for k in (rows[0] if rows else ()) if k != "epoch"]
    return {k: [row.get(k, float("nan")) for row in rows] for k in keys}


def _cell(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "", "NA") else float("nan")
    except ValueError:
        return float("nan")


class _HistoryLog(keras.callbacks.Callback):
    """Appends every epoch's logs to ``history.csv`` and redraws ``curves.png``, each epoch.

    Unlike ``CSVLogger`` it keeps columns aligned when a resumed run (or a metric logged only
    on some epochs) brings keys the file's header lacks: the header is the union of all keys,
    and a re-run epoch replaces its earlier row.
    """

    def __init__(self, path: Path, title: str = ""):
        super().__init__()
        self.path, self.title = path, title
        self.rows: dict[int, dict[str, float]] = {}

    def on_train_begin(self, logs=None):
        if self.path.exists():
            for values in _rows(self.path):
                self.rows[int(values.pop("epoch"))] = values

    def on_epoch_end(self, epoch, logs=None):
        self.rows[int(epoch)] = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        keys: list[str] = []
        for row in self.rows.values():
            keys += [k for k in row if k not in keys]
        lines = [",".join(["epoch", *keys])]
        for e in sorted(self.rows):
            lines.append(",".join([str(e)] + [repr(self.rows[e].get(k, float("nan"))) for k in keys]))
        with deferred_interrupts():
            atomic_write_text(self.path, "\n".join(lines) + "\n")
        history = read_history(self.path)
        if history:
            plot_history(history, self.path.with_name("curves.png"), title=self.title)


def _rows(path: Path) -> list[dict[str, float]]:
    """The CSV log's rows as column -> float (NaN for empty, ``NA`` or unparsable cells)."""
    with path.open(newline="") as f:
        return [{k: _cell(v) for k, v in row.items() if k} for row in csv.DictReader(f)]


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class _EpochCheckpoint(keras.callbacks.Callback):
    """Writes ``last.weights.h5`` atomically at the end of every epoch."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        tmp = self.path.with_name(f".{self.path.name}.tmp.weights.h5")
        with deferred_interrupts():
            self.model.save_weights(tmp)
            os.replace(tmp, self.path)


class _Backup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose writes a stop signal cannot cut in half (and with a fallback copy)."""

    def __init__(self, backup_dir: str):
        super().__init__(backup_dir, double_checkpoint=True)

    def _save_model(self):
        with deferred_interrupts():
            super()._save_model()


def _done_epochs(workdir: Path) -> int | None:
    path = workdir / "done.json"
    if not path.is_file():
        return None
    import json

    return int(json.loads(path.read_text())["epochs"])


def reestimate_batchnorm(
    net: keras.Model, images: np.ndarray, batch_size: int = 64, *, keep_dropout: bool = False
) -> int:
    """Sets every BatchNormalization's moving statistics to the mean of its batch statistics over ``images``.

    Keras' moving averages (momentum 0.99: an average over the last ~100 steps) lag behind the
    weights of a short training, whose scale still grows: measured on the captcha readers, 1% (CRNN)
    and 0.3% (multi-head) whole-captcha accuracy in inference mode against ~94% with current
    statistics. One pass over the training images with momentum ``k / (k + 1)`` at batch ``k``
    gives the exact running mean for the current weights. Dropout is held off during the pass
    (rate 0), so a BatchNormalization after a Dropout gets the statistics it sees at inference,
    not the wider ones of training (the "variance shift" of Li et al. 2019); ``keep_dropout=True``
    keeps it active, as training does (to measure that effect). Eager only; returns the number of
    batches used.

    Example:
        >>> reestimate_batchnorm(net, x_train[:4096])
    """
    layers = [layer for layer in _all_layers(net) if isinstance(layer, keras.layers.BatchNormalization)]
    dropouts = [layer for layer in _all_layers(net) if isinstance(layer, keras.layers.Dropout)]
    if len(images) < batch_size:
        raise ValueError(f"need at least one batch of {batch_size} images to re-estimate, got {len(images)}")
    saved = [layer.momentum for layer in layers], [layer.rate for layer in dropouts]
    batches = 0
    try:
        for layer in dropouts if not keep_dropout else ():
            layer.rate = 0.0
        for k, start in enumerate(range(0, len(images) - batch_size + 1, batch_size)):
            for layer in layers:
                layer.momentum = k / (k + 1)
            net(images[start : start + batch_size], training=True)
            batches += 1
    finally:
        for layer, momentum in zip(layers, saved[0]):
            layer.momentum = momentum
        for layer, rate in zip(dropouts, saved[1]):
            layer.rate = rate
    return batches


def _all_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """``model``'s layers, nested models included (depth first)."""
    out = []
    for layer in getattr(model, "layers", []):
        out.append(layer)
        out.extend(_all_layers(layer))
    return out


def fit_resumable(
    model: keras.Model,
    train_data: Any,
    *,
    epochs: int,
    workdir: str | os.PathLike,
    validation_data: Any = None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    callbacks: Iterable[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
    title: str = "",
) -> dict[str, list[float]]:
    """Trains ``model`` (already compiled) for ``epochs``, resuming from ``workdir`` if interrupted.

    Writes into ``workdir``: ``backup/`` (resume state, removed when training completes),
    ``last.weights.h5``, ``history.csv`` and ``curves.png`` (every epoch) and ``done.json``
    (the epochs of a finished run). Rerunning a finished run loads ``last.weights.h5`` and
    returns its history without training; a rerun with more ``epochs`` continues from it
    (the optimizer starts afresh; an interrupted run resumes with its optimizer state).

    Returns:
        The full history (all epochs, across resumptions) as metric -> values.

    Example:
        >>> history = fit_resumable(model, train_ds, epochs=5, workdir="runs/x", validation_data=val_ds)
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path = workdir / "history.csv"
    backup_dir = workdir / "backup"
    resuming = backup_dir.exists()
    done = None if resuming else _done_epochs(workdir)
    weights_path = workdir / "last.weights.h5"
    initial_epoch = 0
    if done is not None and weights_path.is_file():
        model.load_weights(weights_path)
        if epochs <= done:
            print(
                f"{workdir}: this run already finished {done} epoch(s); its results are there. "
                f"Pass more epochs than {done} to continue it, or use a new work directory to train afresh."
            )
            return read_history(csv_path)
        initial_epoch = done
        print(f"{workdir}: continuing a finished {done}-epoch run up to {epochs} epochs")
    elif not resuming and csv_path.exists():
        csv_path.unlink()  # a fresh run starts a fresh log
    # User callbacks run before the checkpoint and the log, so metrics they add to the epoch's
    # logs (e.g. a detector's validation mAP) are logged and plotted. The backup comes last: an
    # epoch counts as done (and is skipped on resume) only once everything else has recorded it.
    cbs = [
        *callbacks,
        _EpochCheckpoint(weights_path),
        _HistoryLog(csv_path, title),
        _Backup(str(backup_dir)),
    ]
    (workdir / "done.json").unlink(missing_ok=True)
    model.fit(
        train_data,
        epochs=epochs,
        initial_epoch=initial_epoch,
        validation_data=validation_data,
        steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps,
        callbacks=cbs,
        verbose=verbose,
        # datasets and generators shuffle themselves (Keras warns when asked to shuffle them)
        shuffle=isinstance(train_data, np.ndarray),
    )
    history = read_history(csv_path)
    # reached only when training ended by itself (all epochs, or a callback stopped it early)
    epochs_run = len(next(iter(history.values()), []))
    atomic_write_json(workdir / "done.json", {"epochs": max(epochs, initial_epoch), "epochs_run": epochs_run})
    return history


def fit_arrays(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int = 32,
    workdir: str | os.PathLike | None = None,
    verbose: int | str = "auto",
    seed: int = 0,
) -> dict[str, list[float]]:
    """``model.fit`` on in-memory arrays; with ``workdir``, resumable through ``fit_resumable``.

    The arrays are shuffled each epoch (``tf.data``, seeded) in batches of ``batch_size``; ``epochs``
    < 1 trains nothing. Returns the history (metric -> per-epoch values).

    Example:
        >>> fit_arrays(model, images, labels, epochs=3, workdir="runs/x/classify")["loss"]
    """
    if epochs < 1:
        return {}
    if workdir is None:
        return model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose).history
    import tensorflow as tf

    n = len(x[0] if isinstance(x, (tuple, list)) else x)  # several inputs: the examples of the first
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=seed).batch(batch_size).repeat()
    return fit_resumable(
        model, data, epochs=epochs, workdir=workdir, steps_per_epoch=-(-n // batch_size), verbose=verbose,
        title=f"{model.name} ({Path(workdir).name})",
    )  # fmt: skip
