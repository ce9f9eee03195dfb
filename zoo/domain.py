"""Domain-adversarial training (DANN): Ganin and Lempitsky, "Unsupervised Domain Adaptation by
Backpropagation", ICML 2015 (and Ganin et al., JMLR 2016).

A shared feature extractor feeds a label classifier (trained on labelled source images) and,
through a :class:`~zoo.layers.GradientReversal` layer, a domain classifier (source vs target,
trained on both). The reversal makes the features domain-invariant while the label classifier
keeps them discriminative. The paper's schedules, with training progress ``p`` from 0 to 1:

- reversal strength ``lambda_p = 2 / (1 + exp(-gamma p)) - 1``, gamma = 10 (:func:`dann_lambda`);
- learning rate ``mu_p = mu_0 / (1 + alpha p) ** beta``, alpha = 10, beta = 0.75
  (:class:`DANNLearningRate`), SGD with momentum 0.9.

:func:`train_domain_adaptation` trains one of three modes on NumPy arrays with ``model.fit``
(every backend): ``"source_only"`` (label loss on the source, no reversal), ``"dann"`` and
``"oracle"`` (label loss on the labelled target training set: the upper bound).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.layers import GradientReversal
from zoo.training import fit_resumable

MODES = ("source_only", "dann", "oracle")
#: Textures per unlabelled target digit: the paper adapts with all 59,000 MNIST-M training
#: images; 539 digits x 2 textures let the domain classifier memorise the target pool.
TARGET_COPIES = 20
DANN_GAMMA = 10.0
DANN_ALPHA = 10.0
DANN_BETA = 0.75


def dann_lambda(p: float, gamma: float = DANN_GAMMA) -> float:
    """The paper's reversal schedule ``2 / (1 + exp(-gamma p)) - 1`` (0 at p=0, -> 1 as p -> 1).

    Example:
        >>> round(dann_lambda(0.5), 4)
        0.9866
    """
    return 2.0 / (1.0 + math.exp(-gamma * float(p))) - 1.0


@keras.saving.register_keras_serializable(package="zoo")
class DANNLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """``mu_p = mu_0 / (1 + alpha p) ** beta`` with ``p = step / total_steps`` (clipped to 1).

    Example:
        >>> schedule = DANNLearningRate(0.01, total_steps=1000)
        >>> optimizer = keras.optimizers.SGD(schedule, momentum=0.9)
    """

    def __init__(
        self,
        initial_learning_rate: float,
        total_steps: int,
        alpha: float = DANN_ALPHA,
        beta: float = DANN_BETA,
    ) -> None:
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.total_steps = int(total_steps)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def __call__(self, step: Any) -> Any:
        p = keras.ops.minimum(keras.ops.cast(step, "float32") / float(self.total_steps), 1.0)
        return self.initial_learning_rate / keras.ops.power(1.0 + self.alpha * p, self.beta)

    def get_config(self) -> dict[str, Any]:
        return dict(
            initial_learning_rate=self.initial_learning_rate,
            total_steps=self.total_steps,
            alpha=self.alpha,
            beta=self.beta,
        )


class LambdaSchedule(keras.callbacks.Callback):
    """Sets every :class:`GradientReversal` layer's lambda from the optimizer's step before each batch.

    The step comes from ``optimizer.iterations``, which a resumed run restores, so the schedule
    continues where it stopped. ``scale=0`` keeps the reversal off (source-only training).
    """

    def __init__(self, total_steps: int, gamma: float = DANN_GAMMA, scale: float = 1.0) -> None:
        super().__init__()
        self.total_steps = int(total_steps)
        self.gamma = gamma
        self.scale = scale

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        value = self.scale * dann_lambda(min(step / self.total_steps, 1.0), self.gamma)
        for layer in self.model.layers:
            if isinstance(layer, GradientReversal):
                layer.set_lambda(value)


def digit_features(
    input_shape: Sequence[int] = (28, 28, 3),
    name: str = "features",
    pixel_mean: Sequence[float] | None = None,
    padding: str = "valid",
) -> keras.Model:
    """The paper's MNIST feature extractor: conv 5x5 32, max pool 2, conv 5x5 48, max pool 2, flatten.

    Args:
        pixel_mean: the per-channel mean of the training pixels (source and target together),
            subtracted first, as in the paper (``None``: 0; the mean is part of the model's
            config, so rebuild with the same one to load weights). ``"standardize"`` instead
            standardises each image and channel over height and width (this module's earlier
            preprocessing, kept for comparison).
        padding: ``"valid"`` as in the paper (28 -> 24 -> 12 -> 8 -> 4, 768 features) or
            ``"same"``.

    Example:
        >>> features = digit_features((28, 28, 3))  # (None, 768)
    """
    inputs = keras.Input(tuple(input_shape), name="image")
    if isinstance(pixel_mean, str):
        if pixel_mean != "standardize":
            raise ValueError(
                f"pixel_mean must be per-channel numbers, None or 'standardize', got {pixel_mean!r}"
            )
        x = keras.layers.LayerNormalization(axis=(1, 2), center=False, scale=False, name="standardize")(
            inputs
        )
    else:
        channels = int(input_shape[-1])
        mean = np.zeros(channels) if pixel_mean is None else np.asarray(pixel_mean, np.float64).reshape(-1)
        if mean.shape != (channels,):
            raise ValueError(f"pixel_mean needs one value per channel ({channels}), got {mean.shape[0]}")
        # subtracts the per-channel pixel mean (unit variance: no scaling)
        x = keras.layers.Normalization(mean=mean, variance=np.ones(channels), name="mean_subtract")(inputs)
    for i, filters in enumerate((32, 48), start=1):
        x = keras.layers.Conv2D(filters, 5, padding=padding, activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, x, name=name)


def training_pixel_mean(data: dict[str, np.ndarray]) -> np.ndarray:
    """The per-channel mean over the source and (unlabelled) target training images."""
    return np.concatenate([data["source_x"], data["target_x"]]).mean(axis=(0, 1, 2))


def dann_model(
    feature_extractor: keras.Model,
    num_classes: int,
    label_hidden: Sequence[int] = (100, 100),
    domain_hidden: Sequence[int] = (100,),
    lambda_: float = 0.0,
) -> keras.Model:
    """Two outputs from one image: ``labels`` (softmax over classes) and ``domain`` (sigmoid, 1 = target).

    The domain classifier sits behind a ``GradientReversal`` layer named ``grl``; the label
    and domain heads follow the paper's MNIST architecture (fc 100, fc 100 / fc 100).

    Example:
        >>> model = dann_model(digit_features((28, 28, 3)), num_classes=10)
        >>> labels, domain = model(images)
    """
    inputs = keras.Input(feature_extractor.input_shape[1:], name="image")
    feats = feature_extractor(inputs)
    x = feats
    for i, units in enumerate(label_hidden, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"label_fc{i}")(x)
    labels = keras.layers.Dense(num_classes, activation="softmax", name="labels")(x)
    d = GradientReversal(lambda_, name="grl")(feats)
    for i, units in enumerate(domain_hidden, start=1):
        d = keras.layers.Dense(units, activation="relu", name=f"domain_fc{i}")(d)
    domain = keras.layers.Dense(1, activation="sigmoid", name="domain")(d)
    return keras.Model(inputs, {"labels": labels, "domain": domain}, name="dann")


class _DomainBatches(keras.utils.PyDataset):
    """Batches of half source, half target images with the label and domain targets and weights.

    The label loss is weighted 2 on the half that carries labels (source, or target for the
    oracle) and 0 on the other, so that Keras' mean over the batch equals the mean over the
    labelled half; the domain loss counts every image.
    """

    def __init__(
        self, data: dict[str, np.ndarray], mode: str, batch_size: int, steps: int, seed: int
    ) -> None:
        super().__init__()
        self.data, self.mode, self.half, self.steps = data, mode, batch_size // 2, steps
        self.seed = seed

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> Any:
        rng = np.random.default_rng([self.seed, index])
        s = rng.integers(0, len(self.data["source_x"]), self.half)
        t = rng.integers(0, len(self.data["target_x"]), self.half)
        x = np.concatenate([self.data["source_x"][s], self.data["target_x"][t]])
        y = np.concatenate([self.data["source_y"][s], self.data["target_y"][t]])
        on, off = np.full(self.half, 2.0, np.float32), np.zeros(self.half, np.float32)
        w = np.concatenate([off, on] if self.mode == "oracle" else [on, off])
        domain = np.concatenate([np.zeros(self.half), np.ones(self.half)]).astype(np.float32)[:, None]
        ones = np.ones(2 * self.half, np.float32)
        return x, {"labels": y, "domain": domain}, {"labels": w, "domain": ones}


def train_domain_adaptation(
    data: dict[str, np.ndarray],
    mode: str,
    *,
    workdir: str | os.PathLike,
    steps: int = 1500,
    epochs: int = 5,
    batch_size: int = 64,
    learning_rate: float = 0.01,
    seed: int = 0,
    domain_hidden: Sequence[int] = (100,),
    verbose: int | str = 0,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Trains a DANN digit model in ``mode`` (``source_only``, ``dann`` or ``oracle``), resumably.

    Args:
        data: ``source_x/source_y/target_x/target_y`` arrays (``target_y`` is used by the oracle
            only), e.g. from :func:`zoo.data.digits_m.load_digits_m_pair`.
        workdir: checkpoints (``last.weights.h5``, ``backup/``), ``history.csv`` and ``curves.png``.
        steps: total optimisation steps, split over ``epochs`` (the resume granularity). The
            lambda and learning-rate schedules run ``p`` from 0 to 1 over exactly these steps.
        domain_hidden: the domain classifier's hidden layers (the paper's MNIST network: one
            of 100 units; its larger networks use 1024-1024).

    Returns:
        ``(model, history)``; ``model`` outputs ``{"labels", "domain"}``.

    Example:
        >>> model, history = train_domain_adaptation(load_digits_m_pair(), "dann", workdir="runs/dann/s0")
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    missing = [k for k in ("source_x", "source_y", "target_x", "target_y") if k not in data]
    if missing:
        raise ValueError(f"data lacks {', '.join(missing)} (see zoo.data.digits_m.load_digits_m_pair)")
    if batch_size < 2 or batch_size % 2:
        raise ValueError(
            f"batch_size must be an even number >= 2 (half source, half target), got {batch_size}"
        )
    keras.utils.set_random_seed(seed)
    num_classes = int(max(data["source_y"].max(), data["target_y"].max())) + 1
    model = dann_model(
        digit_features(data["source_x"].shape[1:], pixel_mean=training_pixel_mean(data)),
        num_classes,
        domain_hidden=domain_hidden,
    )
    per_epoch = max(1, steps // epochs)
    total = per_epoch * epochs
    model.compile(
        optimizer=keras.optimizers.SGD(DANNLearningRate(learning_rate, total), momentum=0.9),
        loss={"labels": "sparse_categorical_crossentropy", "domain": "binary_crossentropy"},
        # the label accuracy counts the labelled half only (weight 0 on the other half)
        weighted_metrics={"labels": ["accuracy"]},
        metrics={"domain": ["accuracy"]},
    )
    batches = _DomainBatches(data, mode, batch_size, total, seed)
    history = fit_resumable(
        model,
        batches,
        epochs=epochs,
        steps_per_epoch=per_epoch,
        workdir=Path(workdir),
        callbacks=[LambdaSchedule(total, scale=1.0 if mode == "dann" else 0.0)],
        verbose=verbose,
        title=f"DANN digits: {mode}",
    )
    return model, history


def predict_labels(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class predictions of a :func:`dann_model` for images ``x``."""
    return np.argmax(model.predict(x, batch_size=batch_size, verbose=0)["labels"], axis=-1)


def extract_domain_features(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The shared features (input of the two heads) of a :func:`dann_model` for images ``x``."""
    features = keras.Model(model.input, model.get_layer("grl").input)
    return np.asarray(features.predict(x, batch_size=batch_size, verbose=0))


def gap_closed(source_only: float, adapted: float, oracle: float) -> float:
    """The fraction of the source-only -> oracle accuracy gap that ``adapted`` closes.

    Example:
        >>> gap_closed(0.5, 0.7, 0.9)
        0.5
    """
    if oracle <= source_only:
        raise ValueError(
            f"the oracle ({oracle:.3f}) does not beat source-only ({source_only:.3f}): no gap to close"
        )
    return (adapted - source_only) / (oracle - source_only)


def pca_2d(features: np.ndarray) -> np.ndarray:
    """The first two principal components of ``features`` ``[N, D]`` (centred, by SVD)."""
    centred = features - features.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def plot_domain_features(
    panels: dict[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike, points: int = 300
) -> Path:
    """One 2-D PCA scatter per panel title, source blue and target orange; saved as PNG.

    Args:
        panels: title -> (source features, target features).
        points: at most this many points per domain.
    """
    from zoo.utils.plots import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5))
    for ax, (title, (src, tgt)) in zip(np.atleast_1d(axes), panels.items()):
        src, tgt = src[:points], tgt[:points]
        xy = pca_2d(np.concatenate([src, tgt]))
        ax.scatter(*xy[: len(src)].T, s=6, alpha=0.6, label="source (clean digits)")
        ax.scatter(*xy[len(src) :].T, s=6, alpha=0.6, label="target (textured, colour)")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    np.atleast_1d(axes)[0].legend(loc="best", fontsize=8)
    return save_figure(fig, path)


def run_dann_experiment(
    workdir: str | os.PathLike,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 1500,
    epochs: int = 5,
    size: int = 28,
    batch_size: int = 64,
    learning_rate: float = 0.01,
    modes: Sequence[str] = MODES,
    target_copies: int = TARGET_COPIES,
    source_poses: int = 0,
    domain_hidden: Sequence[int] = (100,),
    verbose: int | str = 0,
) -> dict[str, Any]:
    """Source-only, DANN and oracle on the digits -> textured-digits pair, over ``seeds``.

    Every run trains in ``workdir/<mode>/seed<k>`` (resumable; a finished run's ``result.json``
    is reused). Writes ``report.json`` (per-seed and mean target accuracies, the fraction of
    the source-only -> oracle gap that DANN closes, the domain accuracy per epoch),
    ``accuracy.png``, ``domain_accuracy.png`` and ``features_pca.png`` (the shared features of
    seed ``seeds[0]``'s source-only and DANN models, coloured by domain). ``source_poses``
    (see :func:`zoo.data.digits_m.load_digits_m_pair`) augments the source only.

    Example:
        >>> report = run_dann_experiment("runs/dann", seeds=(0, 1, 2))
        >>> report["gap_closed"]
    """
    from zoo.data.digits_m import MAX_LEVEL, load_digits_m_pair
    from zoo.utils.io import atomic_write_json
    from zoo.utils.plots import pyplot, save_figure

    workdir = Path(workdir)
    results: dict[str, dict[int, dict[str, float]]] = {m: {} for m in modes}
    panels = {}
    for seed in seeds:
        data = load_digits_m_pair(
            size=size, seed=seed, target_copies=target_copies, source_poses=source_poses
        )
        for mode in modes:
            run_dir = workdir / mode / f"seed{seed}"
            result_path = run_dir / "result.json"
            model = None
            if result_path.exists():
                import json

                results[mode][seed] = json.loads(result_path.read_text())
            else:
                model, _ = train_domain_adaptation(
                    data, mode, workdir=run_dir, steps=steps, epochs=epochs, batch_size=batch_size,
                    learning_rate=learning_rate, seed=seed, domain_hidden=domain_hidden, verbose=verbose,
                )  # fmt: skip
                results[mode][seed] = {
                    "target_test_accuracy": float(
                        np.mean(predict_labels(model, data["test_x"]) == data["test_y"])
                    ),
                    "source_accuracy": float(
                        np.mean(predict_labels(model, data["source_x"]) == data["source_y"])
                    ),
                }
                atomic_write_json(result_path, results[mode][seed])
            if seed == seeds[0] and mode in ("source_only", "dann"):
                if model is None:
                    model = dann_model(
                        digit_features(data["source_x"].shape[1:], pixel_mean=training_pixel_mean(data)),
                        10,
                        domain_hidden=domain_hidden,
                    )
                    model.load_weights(run_dir / "last.weights.h5")
                title = (
                    "before adaptation (source-only)" if mode == "source_only" else "after adaptation (DANN)"
                )
                panels[title] = (
                    extract_domain_features(model, data["source_x"][:300]),
                    extract_domain_features(model, data["test_x"][:300]),
                )
    mean = {m: float(np.mean([r["target_test_accuracy"] for r in results[m].values()])) for m in modes}
    std = {m: float(np.std([r["target_test_accuracy"] for r in results[m].values()])) for m in modes}
    report: dict[str, Any] = {
        "seeds": list(seeds), "steps": steps, "batch_size": batch_size, "learning_rate": learning_rate,
        "image_size": size, "target_max_level": MAX_LEVEL, "target_copies": target_copies,
        "source_poses": source_poses, "domain_hidden": list(domain_hidden), "runs": {m: {str(s): r for s, r in results[m].items()} for m in modes},
        "target_accuracy_mean": mean, "target_accuracy_std": std,
    }  # fmt: skip
    if {"source_only", "dann", "oracle"} <= set(modes):

        def closed(accs: dict[str, float]) -> float | None:  # None where the oracle does not beat source-only
            if accs["oracle"] <= accs["source_only"]:
                return None
            return gap_closed(accs["source_only"], accs["dann"], accs["oracle"])

        report["gap_closed"] = closed(mean)
        report["gap_closed_per_seed"] = {
            str(s): closed({m: results[m][s]["target_test_accuracy"] for m in modes}) for s in seeds
        }
    atomic_write_json(workdir / "report.json", report)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(list(mean), [100 * mean[m] for m in mean], yerr=[100 * std[m] for m in mean], capsize=4)
    ax.set_ylabel("target test accuracy (%)")
    ax.set_title(f"digits -> textured digits, {len(seeds)} seeds")
    save_figure(fig, workdir / "accuracy.png")
    if panels:
        plot_domain_features(panels, workdir / "features_pca.png")
    domain_curves = plot_domain_accuracy(workdir, seeds, workdir / "domain_accuracy.png")
    if domain_curves:
        report["domain_accuracy_per_epoch"] = domain_curves
        atomic_write_json(workdir / "report.json", report)
    return report


def plot_domain_accuracy(
    workdir: str | os.PathLike, seeds: Sequence[int], path: str | os.PathLike
) -> dict[str, dict[str, list[float]]]:
    """The domain classifier's training accuracy per epoch, from each run's ``history.csv``.

    Source-only training leaves the domain head free to separate the domains (near 100 %);
    under DANN the reversed gradient should pull it towards 50 % (domains confused). Saves one
    line per run (mode and seed) as PNG and returns mode -> seed -> accuracies.
    """
    from zoo.training import read_history
    from zoo.utils.plots import pyplot, save_figure

    curves: dict[str, dict[str, list[float]]] = {}
    for mode in ("source_only", "dann"):
        for seed in seeds:
            history = read_history(Path(workdir) / mode / f"seed{seed}" / "history.csv")
            if "domain_accuracy" in history:
                curves.setdefault(mode, {})[str(seed)] = [float(v) for v in history["domain_accuracy"]]
    if not curves:
        return curves
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for mode, style in (("source_only", "--"), ("dann", "-")):
        for seed, values in curves.get(mode, {}).items():
            ax.plot(range(1, len(values) + 1), [100 * v for v in values], style, label=f"{mode} seed {seed}")
    ax.axhline(50, color="grey", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("domain classifier accuracy (%)")
    ax.legend(fontsize=7)
    save_figure(fig, path)
    return curves
