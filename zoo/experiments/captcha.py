"""The captcha experiment: joint vs alternating multitask training, from data to a comparison.

The models are :mod:`zoo.classification.captcha` (``captcha_multihead``, ``captcha_onevector``).
Two training modes (:class:`CaptchaTrainer`, usable with ``model.fit``):

- ``joint``: the sum of the per-character losses every step ("joint training");
- ``alternating``: one character's loss per step, cycling through the characters
  ("alternating training"). The step counter is a non-trainable variable of the trainer,
  advanced inside ``compute_loss``, so it works under ``jit`` on JAX, in a
  ``tf.function`` and under ``MirroredStrategy``.

Metrics: per-character accuracy ``char_acc`` and whole-captcha accuracy ``captcha_acc``
(all characters right); on validation data Keras logs them as ``val_char_acc`` /
``val_captcha_acc``, the keys of :func:`train_captcha`'s report.

Example:
    >>> net = captcha_multihead(input_shape=(32, 80, 1), length=4, num_chars=10)
    >>> trainer = CaptchaTrainer(net, length=4, num_chars=10, mode="alternating")
    >>> trainer.compile(optimizer="adam", metrics=captcha_metrics())
    >>> trainer.fit(captcha_dataset(64), steps_per_epoch=100, epochs=5)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.classification.captcha import captcha_multihead, captcha_onevector, output_kind, stack_outputs
from zoo.saving import save_model
from zoo.training import reestimate_batchnorm
from zoo.utils.io import atomic_write_json

MODES = ("joint", "alternating")


def char_accuracy(y_true: Any, y_pred: Any) -> Any:
    """Per-sample fraction of characters right: labels [B, L] int, scores [B, L, N] -> [B]."""
    right = ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), ops.cast(y_true, "int32"))
    return ops.mean(ops.cast(right, "float32"), axis=-1)


def captcha_accuracy(y_true: Any, y_pred: Any) -> Any:
    """Per-sample 1.0 when every character is right, else 0.0 (labels [B, L], scores [B, L, N])."""
    right = ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), ops.cast(y_true, "int32"))
    return ops.cast(ops.all(right, axis=-1), "float32")


def captcha_metrics() -> list[keras.metrics.Metric]:
    """``char_acc`` and ``captcha_acc`` metrics for :class:`CaptchaTrainer`."""
    return [
        keras.metrics.MeanMetricWrapper(char_accuracy, name="char_acc"),
        keras.metrics.MeanMetricWrapper(captcha_accuracy, name="captcha_acc"),
    ]


class CaptchaTrainer(keras.Model):
    """Trains a captcha net with ``model.fit`` in joint or alternating mode.

    Its output is the net's scores stacked to [B, length, num_chars]; ``y`` is the int labels
    [B, length]. Save ``trainer.net`` (the registered functional model), not the trainer.

    Args:
        net: a ``captcha_multihead`` or ``captcha_onevector`` model.
        length: characters per captcha.
        num_chars: alphabet size.
        mode: ``"joint"`` (sum of the per-character losses) or ``"alternating"`` (step ``t``
            trains only character ``t % length``'s loss).
    """

    def __init__(self, net: keras.Model, *, length: int, num_chars: int, mode: str = "joint", **kwargs: Any):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"Unknown training mode {mode!r}; choose from {', '.join(MODES)}")
        self.net = net
        self.length, self.num_chars, self.mode = int(length), int(num_chars), mode
        self.kind = output_kind(net)
        out_units = sum(int(o.shape[-1]) for o in net.outputs)
        if out_units != length * num_chars:
            raise ValueError(
                f"the net outputs {out_units} scores, but length={length} x num_chars={num_chars} "
                f"= {length * num_chars}"
            )
        self.head_step = self.add_weight(
            shape=(), initializer="zeros", dtype="float32", trainable=False,
            aggregation="only_first_replica", name="head_step",
        )  # fmt: skip

    def call(self, images: Any, training: bool = False) -> Any:
        return stack_outputs(self.net(images, training=training), self.length, self.num_chars)

    def head_weights(self, training: bool = True) -> Any:
        """Per-character loss weights for this step ([length]); advances the alternating cycle."""
        if self.mode == "joint":
            return ops.ones((self.length,), "float32")
        step = ops.add(ops.convert_to_tensor(self.head_step.value), 0.0)  # read now, before the assign
        if training:
            self.head_step.assign(step + 1.0)
        return ops.one_hot(ops.cast(ops.mod(step, float(self.length)), "int32"), self.length)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        labels = ops.cast(y, "int32")
        if self.kind == "multihead":
            per_char = ops.sparse_categorical_crossentropy(labels, y_pred)  # [B, L]
        else:
            target = ops.one_hot(labels, self.num_chars)
            per_char = ops.mean(ops.binary_crossentropy(target, y_pred), axis=-1)  # [B, L]
        per_head = ops.mean(per_char, axis=0)
        loss = ops.sum(per_head * self.head_weights(training))
        if self.kind == "onevector" and self.mode == "joint":
            loss = loss / self.length  # binary cross-entropy averaged over the whole 40-long vector
        if self.losses:
            loss = loss + ops.sum(ops.stack(self.losses))
        return loss


class StopAtAccuracy(keras.callbacks.Callback):
    """Stops training at the end of the first epoch whose ``val_captcha_acc`` reaches ``target``."""

    def __init__(self, target: float, monitor: str = "val_captcha_acc"):
        super().__init__()
        self.target, self.monitor = float(target), monitor

    def on_epoch_end(self, epoch, logs=None):
        if (logs or {}).get(self.monitor, 0.0) >= self.target:
            self.model.stop_training = True


def numpy_captcha_accuracy(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Reference (per-character, whole-captcha) accuracy in NumPy: labels [N, L], scores [N, L, C]."""
    right = np.argmax(scores, axis=-1) == labels
    return float(right.mean()), float(right.all(axis=-1).mean())


def _cycle(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> Any:
    """Fixed arrays as an endless, shuffled ``tf.data`` stream of full batches."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).repeat()
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def train_captcha(
    workdir: str | os.PathLike,
    *,
    model: str = "captcha_multihead",
    mode: str = "joint",
    alphabet: str = "digits",
    length: int = 4,
    height: int = 32,
    width: int = 80,
    folder: str | os.PathLike | None = None,
    val_fraction: float = 0.1,
    config: str = "small",
    batch_size: int = 64,
    steps_per_epoch: int = 200,
    epochs: int = 10,
    val_size: int = 1000,
    train_pool: int = 0,
    learning_rate: float = 1e-3,
    strategy: str = "default",
    seed: int = 0,
    target_captcha_acc: float | None = None,
    cosine_decay: bool = False,
    init_weights: str | os.PathLike | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
) -> dict[str, Any]:
    """Trains a captcha recognizer (resumable) and writes ``model.keras``, ``model.json``, ``report.json``.

    After training, BatchNormalization's moving statistics are re-estimated for the final weights
    (:func:`zoo.training.reestimate_batchnorm`); the per-epoch validation figures in the history
    use the moving averages as they were during training, which understate a short run.

    Data: fresh captchas generated on the fly (``folder=None``; a fixed validation set of
    ``val_size`` stored in ``workdir/val.npz``; ``train_pool=N`` draws N training captchas
    once, stored in ``workdir/train_pool.npz``, and cycles them) or a folder of images named
    by their text (a ``val_fraction`` of the shuffled files validate). With
    ``target_captcha_acc``, training stops after the first epoch whose validation
    whole-captcha accuracy reaches it. ``cosine_decay`` anneals the learning rate to 0 over
    the run; ``init_weights`` starts from another run's ``last.weights.h5`` (same model).

    Returns:
        The report: configuration, final validation ``char_acc`` / ``captcha_acc``, history,
        training wall time and seconds per step.

    Example:
        >>> report = train_captcha("runs/captcha", epochs=20, mode="alternating")
        >>> report["val_captcha_acc"]
    """
    import tensorflow as tf

    from zoo.data.captcha import captcha_dataset, load_captcha_folder, resolve_alphabet, stored_captchas
    from zoo.training import fit_resumable, get_strategy, strategy_scope

    builders = {"captcha_multihead": captcha_multihead, "captcha_onevector": captcha_onevector}
    if model not in builders:
        raise ValueError(f"Unknown captcha model {model!r}; choose from {', '.join(builders)}")
    if mode not in MODES:
        raise ValueError(f"Unknown training mode {mode!r}; choose from {', '.join(MODES)}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    chars = resolve_alphabet(alphabet)
    keras.utils.set_random_seed(seed)
    if folder is not None:
        images, labels = load_captcha_folder(
            folder, alphabet=chars, length=length, height=height, width=width
        )
        order = np.random.default_rng(seed).permutation(len(images))
        n_val = max(1, int(round(len(images) * val_fraction)))
        if len(images) - n_val < batch_size:
            raise ValueError(
                f"captcha folder {folder} has {len(images)} images: too few for a validation split and "
                f"one training batch of {batch_size}"
            )
        val_x, val_y = images[order[:n_val]], labels[order[:n_val]]
        tr_x, tr_y = images[order[n_val:]], labels[order[n_val:]]
        train_ds = _cycle(tr_x, tr_y, batch_size, seed)
    else:
        val_x, val_y = stored_captchas(
            val_size, alphabet=chars, length=length, height=height, width=width, path=workdir / "val.npz"
        )
        if train_pool > 0:  # a fixed pool, drawn once: cheaper per step on a CPU than fresh images
            pool_x, pool_y = stored_captchas(
                train_pool, alphabet=chars, length=length, height=height, width=width,
                path=workdir / "train_pool.npz", seed=seed + 1,
            )  # fmt: skip
            train_ds = _cycle(pool_x, pool_y, batch_size, seed)
        else:
            train_ds = captcha_dataset(
                batch_size, alphabet=chars, length=length, height=height, width=width, seed=seed
            )
    strat = get_strategy(strategy)
    replicas = strat.num_replicas_in_sync if strat is not None else 1
    if replicas > 1:  # every batch must split evenly over the replicas
        keep = len(val_x) - len(val_x) % replicas
        if keep == 0:
            raise ValueError(f"need at least {replicas} validation images for {replicas} replicas")
        val_x, val_y = val_x[:keep], val_y[:keep]
        if batch_size % replicas:
            raise ValueError(f"batch_size {batch_size} must be a multiple of the {replicas} replicas")
    val_ds = tf.data.Dataset.from_tensor_slices((val_x, val_y)).batch(
        replicas * -(-max(batch_size, 256) // replicas)
    )
    with strategy_scope(strat):
        net = builders[model](
            input_shape=(height, width, 1), length=length, num_chars=len(chars), config=config
        )
        trainer = CaptchaTrainer(net, length=length, num_chars=len(chars), mode=mode)
        trainer(np.zeros((1, height, width, 1), "float32"))  # built before BackupAndRestore restores it
        if init_weights is not None:
            trainer.load_weights(init_weights)
        lr: Any = learning_rate
        if cosine_decay:
            lr = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps_per_epoch)
        trainer.compile(optimizer=keras.optimizers.Adam(lr), metrics=captcha_metrics())
    start = time.time()
    history = fit_resumable(
        trainer,
        train_ds,
        epochs=epochs,
        workdir=workdir,
        validation_data=val_ds,
        steps_per_epoch=steps_per_epoch,
        verbose=verbose,
        title=f"{model} ({mode})",
        callbacks=[*callbacks, *([StopAtAccuracy(target_captcha_acc)] if target_captcha_acc else [])],
    )
    train_seconds = time.time() - start

    def val_accuracy() -> tuple[float, float]:
        return numpy_captcha_accuracy(val_y, keras.ops.convert_to_numpy(trainer.predict(val_ds, verbose=0)))

    # The moving averages of BatchNormalization lag behind a short training's weights (validation 0.003
    # whole-captcha accuracy while training batches read 0.67): re-estimate them for the final weights,
    # Dropout off, and report the figure before and after (and with Dropout on, its variance shift).
    moving = val_accuracy()
    if folder is not None:
        bn_x = tr_x
    elif train_pool > 0:
        bn_x = pool_x
    else:
        bn_x = np.concatenate([x for x, _ in train_ds.take(-(-4096 // batch_size))])
    bn_x = bn_x[:4096]
    reestimate_batchnorm(net, bn_x, batch_size, keep_dropout=True)
    dropout_on = val_accuracy()
    reestimate_batchnorm(net, bn_x, batch_size)
    char_acc, whole_acc = val_accuracy()
    meta = {"alphabet": chars, "length": length, "height": height, "width": width, "output": output_kind(net)}
    # grey pixels / 255 in, per-character scores out; the facts travel inside the archive too
    save_model(net, workdir / "model.keras", preprocess="unit", task="classification", **meta)
    atomic_write_json(workdir / "model.json", meta)
    report = {
        **meta,
        "model": model,
        "mode": mode,
        "config": config,
        "data": str(folder)
        if folder is not None
        else (f"pool of {train_pool} captchas drawn once" if train_pool > 0 else "fresh captchas every step"),
        "batch_size": batch_size,
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "epochs_run": len(history.get("loss", [])),
        "train_images_seen": len(history.get("loss", [])) * steps_per_epoch * batch_size,
        "target_captcha_acc": target_captcha_acc,
        "learning_rate": learning_rate,
        "cosine_decay": cosine_decay,
        "init_weights": None if init_weights is None else str(init_weights),
        "params": int(net.count_params()),
        "val_images": int(len(val_y)),
        "val_char_acc": char_acc,
        "val_captcha_acc": whole_acc,
        "batchnorm_statistics": {  # validation (char acc, captcha acc) by how BatchNorm's statistics were set
            "moving_averages_as_trained": list(moving),
            "reestimated_dropout_on": list(dropout_on),
            "reestimated_dropout_off (final)": [char_acc, whole_acc],
            "images": int(len(bn_x)),
        },
        "train_seconds_this_run": train_seconds,
        "backend": keras.backend.backend(),
        "strategy": strategy,
        "replicas": replicas,
        "history": history,
    }
    atomic_write_json(workdir / "report.json", report)
    return report


def load_captcha_model(path: str | os.PathLike) -> tuple[keras.Model, dict[str, Any]]:
    """Loads a saved captcha net and its ``model.json`` (alphabet, length, image size)."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.keras"
    meta_path = path.with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(
            f"no captcha model at {str(path)!r} (train one with `recipes/captcha.py train`)"
        )
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{str(meta_path)!r} (alphabet, length, image size) is missing beside the model"
        )
    return keras.models.load_model(path, compile=False), json.loads(meta_path.read_text())


def predict_captchas(model_path: str | os.PathLike, image_paths: Sequence[str | os.PathLike]) -> list[str]:
    """Decodes captcha image files with a saved model. Returns the texts, in order.

    Example:
        >>> predict_captchas("runs/captcha/model.keras", ["0782.png"])
        ['0782']
    """
    from zoo.data.captcha import decode_indices, load_images

    net, meta = load_captcha_model(model_path)
    images = load_images(list(image_paths), meta["height"], meta["width"])
    scores = stack_outputs(net.predict(images, verbose=0), meta["length"], len(meta["alphabet"]))
    indices = np.argmax(keras.ops.convert_to_numpy(scores), axis=-1)
    return [decode_indices(row, meta["alphabet"]) for row in indices]


def compare_modes(
    workdir: str | os.PathLike,
    *,
    runs: Sequence[tuple[str, str]] = (
        ("captcha_multihead", "joint"),
        ("captcha_multihead", "alternating"),
        ("captcha_onevector", "joint"),
    ),
    **train_kwargs: Any,
) -> dict[str, Any]:
    """Trains each (model, mode) with the same budget in ``workdir/<model>-<mode>``, then
    :func:`summarize_runs`.

    Example:
        >>> compare_modes("runs/captcha_cmp", epochs=5, train_pool=12000)["table"]
    """
    workdir = Path(workdir)
    labels = []
    for model, mode in runs:
        label = f"{model.removeprefix('captcha_')}-{mode}"
        train_captcha(workdir / label, model=model, mode=mode, **train_kwargs)
        labels.append(label)
    return summarize_runs(workdir, labels)


def summarize_runs(workdir: str | os.PathLike, labels: Sequence[str]) -> dict[str, Any]:
    """Compares finished runs ``workdir/<label>`` at the same number of epochs (the fewest any ran).

    Writes ``comparison.json``, ``comparison.md`` (a table) and ``comparison.png`` (validation
    whole-captcha accuracy per epoch for every run).
    """
    from zoo.training import read_history
    from zoo.utils.io import atomic_write_text
    from zoo.utils.plots import plot_lines

    workdir = Path(workdir)
    reports, histories = {}, {}
    for label in labels:
        path = workdir / label / "report.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"run {label!r} has no report.json in {str(workdir / label)!r}: train it first"
            )
        reports[label] = json.loads(path.read_text())
        histories[label] = read_history(workdir / label / "history.csv") or reports[label]["history"]
    common = min(len(h.get("val_captcha_acc", [])) for h in histories.values())
    rows = [
        f"| run | steps (batch {next(iter(reports.values()))['batch_size']}) | val char acc | "
        "val captcha acc | final epoch: val captcha acc |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, r in reports.items():
        h = histories[label]
        rows.append(
            f"| {label} | {common * r['steps_per_epoch']} | {h['val_char_acc'][common - 1]:.4f} | "
            f"{h['val_captcha_acc'][common - 1]:.4f} | {len(h['val_captcha_acc'])}: {h['val_captcha_acc'][-1]:.4f} |"
        )
    table = "\n".join(rows) + "\n"
    epochs = max(len(h.get("val_captcha_acc", [])) for h in histories.values())
    plot_lines(
        list(range(1, epochs + 1)),
        {label: h.get("val_captcha_acc", []) for label, h in histories.items()},
        workdir / "comparison.png",
        xlabel="epoch",
        ylabel="validation whole-captcha accuracy",
        title="captcha: joint vs alternating training",
    )
    atomic_write_text(workdir / "comparison.md", table)
    summary = {"common_epochs": common, "histories": histories, "table": table}
    atomic_write_json(workdir / "comparison.json", summary)
    return summary
