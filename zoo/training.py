"""Resumable training shared by every recipe: checkpoints, CSV log, curves, distribution.

``fit_resumable`` wraps ``model.fit`` with what a recipe needs so that no recipe writes it
again: ``keras.callbacks.BackupAndRestore`` (an interrupted run resumes at the last finished
epoch with its optimizer state), a ``last.weights.h5`` checkpoint written every epoch, an
appended ``history.csv`` and a ``curves.png`` plot. ``get_strategy("mirrored")`` gives a
``tf.distribute.MirroredStrategy`` on the TensorFlow backend.
"""

from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path
from typing import Any, Iterable

import keras

from zoo.utils.plots import plot_history

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
    """Reads a ``keras.callbacks.CSVLogger`` file into metric -> values (one per epoch)."""
    path = Path(csv_path)
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    history: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if key == "epoch" or value in (None, "", "NA"):
                continue
            history.setdefault(key, []).append(float(value))
    return history


class _EpochCheckpoint(keras.callbacks.Callback):
    """Writes ``last.weights.h5`` atomically at the end of every epoch."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        tmp = self.path.with_name(f".{self.path.name}.tmp.weights.h5")
        self.model.save_weights(tmp)
        os.replace(tmp, self.path)


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
    ``last.weights.h5`` (every epoch), ``history.csv`` and ``curves.png``.

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
    if not resuming and csv_path.exists():
        csv_path.unlink()  # a fresh run starts a fresh log
    # User callbacks run before the checkpoint and the CSV log, so metrics they add to the epoch's
    # logs (e.g. a detector's validation mAP) are logged and plotted.
    cbs = [
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        *callbacks,
        _EpochCheckpoint(workdir / "last.weights.h5"),
        keras.callbacks.CSVLogger(str(csv_path), append=True),
    ]
    model.fit(
        train_data,
        epochs=epochs,
        validation_data=validation_data,
        steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps,
        callbacks=cbs,
        verbose=verbose,
    )
    history = read_history(csv_path)
    if history:
        plot_history(history, workdir / "curves.png", title=title)
    return history

