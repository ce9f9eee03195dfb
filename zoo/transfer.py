"""Transfer learning, "crocodile learning" as the course material tells it.

Cut the crocodile's head off (:func:`cut`), use its body as a feature extractor, attach a new
head (:func:`head_swap`): a small MLP, or "even a random forest or boosting" trained on
extracted features (:class:`SklearnHead`, features cached on disk by
:func:`extract_features`). Train the new head with the body frozen; optionally fine-tune
only the layers nearest the head, at a 10x lower learning rate, with batch normalization
kept in inference mode (:func:`train_head_swap`, :func:`unfreeze_top`).

Data for the recipe: a TFDS name (:func:`load_tfds`) or a folder of class sub-folders
(:func:`load_image_folder`). The offline digits experiment (a body trained on digits 0-4
transferred to 5-9, the course's "cifar X -> cifar Y") is
:func:`zoo.experiments.digits_transfer.run_digits_demo`, its data :mod:`zoo.data.digits`.

Example:
    >>> body = cut(zoo.get("vgg16", include_top=False, weights="imagenet"), at="block5_pool")
    >>> model = head_swap(body, head="mlp", num_classes=5)
    >>> train_head_swap(model, body, train_ds, val_ds, workdir="runs/croc", fine_tune_blocks=1)
    >>> forest = head_swap(body, head="random_forest", num_classes=5, cache_dir="runs/features")
    >>> forest.fit(x_train, y_train).score(x_test, y_test)
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import os
import re
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.overfeat import convolutionalize  # noqa: F401  (OverFeat: a classifier's dense layers as convolutions)
from zoo.utils.io import atomic_path, atomic_write_json

POOLING_LAYERS = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)
KERAS_HEADS = ("mlp", "linear")
SKLEARN_HEADS = ("logreg", "random_forest", "gboost")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


class TransferDataError(ValueError):
    """A data source for transfer learning that cannot be used (missing, empty, malformed)."""


# --------------------------------------------------------------------------------------- cutting


def _layer_candidates(model: keras.Model) -> list[str]:
    """Names worth cutting at: pooling layers and block outputs first, then every other layer."""
    names = [layer.name for layer in model.layers]
    pools = [layer.name for layer in model.layers if isinstance(layer, POOLING_LAYERS)]
    return pools + [n for n in names if n not in pools]


def cut(model: keras.Model | str, at: str = "last_pool", **build_kwargs: Any) -> keras.Model:
    """Cuts ``model`` at a layer and returns the body: a model from the same inputs to that layer's output.

    Args:
        model: any Keras model with functional inputs, or a registered zoo name (built with
            ``zoo.get(model, **build_kwargs)``).
        at: ``"last_pool"`` (the last pooling layer: pool5 on VGG) or a layer name.

    Raises:
        ValueError: the layer does not exist (the message lists close matches and the
            candidate names), or the model has no pooling layer for ``"last_pool"``.

    Example:
        >>> body = cut(zoo.get("vgg16", include_top=True, weights=None), at="last_pool")
        >>> body.output.shape   # (None, 7, 7, 512): block5_pool
    """
    if isinstance(model, str):
        import zoo

        model = zoo.get(model, **build_kwargs)
    if not isinstance(model, keras.Model):
        raise TypeError(f"cut() needs a keras.Model or a zoo model name, got {type(model).__name__}")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(f"model {model.name!r} is not built (no inputs); call it on data or build it first")
    candidates = _layer_candidates(model)
    if at == "last_pool":
        pools = [layer for layer in model.layers if isinstance(layer, POOLING_LAYERS)]
        if not pools:
            raise ValueError(
                f"model {model.name!r} has no pooling layer to cut at; pass at=<layer name>, one of: "
                f"{', '.join(candidates[-20:])}"
            )
        layer = pools[-1]
    else:
        names = [layer.name for layer in model.layers]
        if at not in names:
            close = difflib.get_close_matches(at, names, n=3, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            shown = candidates if len(candidates) <= 40 else candidates[:40] + ["..."]
            raise ValueError(
                f"model {model.name!r} has no layer named {at!r}.{hint} Use at='last_pool' or one of "
                f"these layer names: {', '.join(shown)}"
            )
        layer = model.get_layer(at)
    return keras.Model(inputs, layer.output, name=f"{model.name}_body")


# -------------------------------------------------------------------------------------- blocks


_BLOCK_NAME = re.compile(r"^([A-Za-z]+\d+)_")


def layer_blocks(body: keras.Model) -> list[list[keras.layers.Layer]]:
    """Groups the body's layers into blocks, input side first.

    Layers named ``<word><number>_...`` (``block5_conv1``, ``conv4_block6_out``) are grouped by
    that prefix (``block5``, ``conv4``), as zoo and keras.applications models name them;
    otherwise each pooling layer closes a block. Input layers are left out.
    """
    layers = [layer for layer in body.layers if not isinstance(layer, keras.layers.InputLayer)]
    prefixes = [_BLOCK_NAME.match(layer.name) for layer in layers]
    named = sum(m is not None for m in prefixes) >= max(1, len(layers) // 2)
    blocks: list[list[keras.layers.Layer]] = []
    if named:
        keys: dict[str, int] = {}
        for layer, m in zip(layers, prefixes):
            key = m.group(1) if m else (blocks and list(keys)[-1]) or "stem"
            if key not in keys:
                keys[key] = len(blocks)
                blocks.append([])
            blocks[keys[key]].append(layer)
        return blocks
    current: list[keras.layers.Layer] = []
    for layer in layers:
        current.append(layer)
        if isinstance(layer, POOLING_LAYERS):
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def freeze(body: keras.Model) -> None:
    """Freezes the whole body (phase 1: only the new head trains)."""
    body.trainable = False


def unfreeze_top(body: keras.Model, num_blocks: int) -> list[str]:
    """Makes only the top ``num_blocks`` blocks of the body trainable (phase 2).

    Batch-normalization layers stay frozen, which in Keras 3 also keeps them in inference
    mode (moving statistics neither used from the batch nor updated).

    Returns:
        Names of the layers made trainable.
    """
    blocks = layer_blocks(body)
    if num_blocks < 0 or num_blocks > len(blocks):
        raise ValueError(f"num_blocks must be in [0, {len(blocks)}] for this body, got {num_blocks}")
    body.trainable = True
    top = {id(layer) for block in blocks[len(blocks) - num_blocks :] for layer in block}
    opened = []
    for layer in body.layers:
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = id(layer) in top and not is_bn
        if layer.trainable and layer.weights:
            opened.append(layer.name)
    return opened


# -------------------------------------------------------------------------------------- heads


def _pool_features(x: Any, pooling: str | None) -> Any:
    if len(x.shape) != 4 or pooling is None:
        return x if len(x.shape) == 2 else keras.layers.Flatten(name="head_flatten")(x)
    layers = {
        "avg": lambda: keras.layers.GlobalAveragePooling2D(name="head_avg_pool"),
        "max": lambda: keras.layers.GlobalMaxPooling2D(name="head_max_pool"),
        "flatten": lambda: keras.layers.Flatten(name="head_flatten"),
    }
    if pooling not in layers:
        raise ValueError(f"pooling must be one of {', '.join(layers)} or None, got {pooling!r}")
    return layers[pooling]()(x)


def make_sklearn_estimator(head: str, seed: int = 0, **kwargs: Any) -> Any:
    """A scikit-learn classifier for ``head``: ``logreg``, ``random_forest`` or ``gboost``."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if head == "logreg":
        return make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=kwargs.pop("max_iter", 2000), **kwargs)
        )
    if head == "random_forest":
        return RandomForestClassifier(
            n_estimators=kwargs.pop("n_estimators", 300), random_state=seed, **kwargs
        )
    if head == "gboost":
        return HistGradientBoostingClassifier(
            min_samples_leaf=kwargs.pop("min_samples_leaf", 5), random_state=seed, **kwargs
        )
    raise ValueError(f"Unknown sklearn head {head!r}; choose from {', '.join(SKLEARN_HEADS)}")


def head_swap(
    body: keras.Model,
    head: str | keras.layers.Layer | Sequence[keras.layers.Layer] | Any = "mlp",
    num_classes: int | None = None,
    *,
    pooling: str | None = "avg",
    hidden: Sequence[int] = (256,),
    dropout: float = 0.5,
    cache_dir: str | os.PathLike | None = None,
    name: str | None = None,
    seed: int = 0,
) -> keras.Model | SklearnHead:
    """Attaches a new head to ``body``.

    Args:
        body: the feature extractor (e.g. from :func:`cut`). It is called with
            ``training=False``, so its batch normalization runs in inference mode even
            when some of its layers are unfrozen for fine-tuning.
        head: ``"mlp"`` (pooling, Dense ``hidden`` + dropout, softmax), ``"linear"`` (pooling,
            softmax), a Keras layer or list of layers (applied to the body output; a softmax
            Dense is appended unless the last output already has ``num_classes`` units),
            ``"logreg"`` / ``"random_forest"`` / ``"gboost"`` or a scikit-learn estimator
            (returns a :class:`SklearnHead` trained on extracted, cached features).
        num_classes: classes of the new task (needed for Keras heads).
        pooling: how 4-D body outputs become vectors: ``"avg"``, ``"max"``, ``"flatten"``.
        hidden, dropout: the MLP head's sizes.
        cache_dir: feature cache folder for scikit-learn heads.

    Returns:
        A ``keras.Model`` (uncompiled) for Keras heads, a :class:`SklearnHead` otherwise.

    Example:
        >>> model = head_swap(body, "mlp", num_classes=5)
        >>> forest = head_swap(body, "random_forest", cache_dir="runs/features")
    """
    if isinstance(head, str) and head in SKLEARN_HEADS:
        return SklearnHead(
            body, make_sklearn_estimator(head, seed=seed), pooling=pooling, cache_dir=cache_dir
        )
    if hasattr(head, "fit") and hasattr(head, "predict") and not isinstance(head, keras.layers.Layer):
        return SklearnHead(body, head, pooling=pooling, cache_dir=cache_dir)
    if isinstance(head, str) and head not in KERAS_HEADS:
        raise ValueError(
            f"Unknown head {head!r}; choose from {', '.join(KERAS_HEADS + SKLEARN_HEADS)}, Keras layers "
            "or a scikit-learn estimator"
        )
    if num_classes is None or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2 for a Keras head, got {num_classes!r}")
    inputs = keras.Input(body.input_shape[1:], name="image")
    x = body(inputs, training=False)
    if head in KERAS_HEADS:
        x = _pool_features(x, pooling)
        if head == "mlp":
            for i, units in enumerate(hidden, start=1):
                x = keras.layers.Dense(units, activation="relu", name=f"head_fc{i}")(x)
                x = keras.layers.Dropout(dropout, name=f"head_dropout{i}")(x)
    else:
        for layer in head if isinstance(head, (list, tuple)) else [head]:
            x = layer(x)
        if len(x.shape) > 2:
            x = _pool_features(x, pooling)
    if x.shape[-1] != num_classes:
        x = keras.layers.Dense(num_classes, activation="softmax", name="head_predictions")(x)
    return keras.Model(
        inputs, x, name=name or f"{body.name}_{head if isinstance(head, str) else 'custom'}_head"
    )


# ---------------------------------------------------------------------------- feature caching


def weights_fingerprint(model: keras.Model) -> str:
    """SHA-256 of a model's architecture summary and weight values (changes when either does)."""
    h = hashlib.sha256()
    h.update(json.dumps([model.name, str(model.input_shape), str(model.output_shape)]).encode())
    for w in model.weights:
        h.update(w.path.encode() if hasattr(w, "path") else w.name.encode())
        h.update(np.ascontiguousarray(keras.ops.convert_to_numpy(w)).tobytes())
    return h.hexdigest()


def array_fingerprint(*arrays: np.ndarray) -> str:
    """SHA-256 of arrays' shapes, dtypes and bytes: the identity of an in-memory data set."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def as_arrays(data: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(images, labels) as NumPy from arrays or a finite ``tf.data`` dataset of (image, label) batches."""
    if isinstance(data, np.ndarray) or hasattr(data, "__array__") and not hasattr(data, "element_spec"):
        return np.asarray(data), None if y is None else np.asarray(y)
    if hasattr(data, "element_spec"):
        xs, ys = [], []
        for batch in data.as_numpy_iterator():
            if isinstance(batch, tuple):
                xs.append(batch[0])
                ys.append(batch[1])
            else:
                xs.append(batch)
        if not xs:
            raise TransferDataError("the dataset is empty: no batches to extract features from")
        if data.cardinality() < 0 and len(xs) > 100000:
            raise TransferDataError("the dataset looks infinite; pass a finite dataset (no .repeat())")
        return np.concatenate(xs), np.concatenate(ys) if ys else None
    raise TypeError(f"expected NumPy arrays or a tf.data.Dataset, got {type(data).__name__}")


def extract_features(
    body: keras.Model,
    x: Any,
    y: Any = None,
    *,
    pooling: str | None = "avg",
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 64,
    data_key: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Runs the body over the data once and returns (features [N, D], labels), cached on disk.

    The cache file ``features-<key>.npz`` in ``cache_dir`` is keyed by the body's weights
    and architecture (:func:`weights_fingerprint`), the data (:func:`array_fingerprint`, or
    ``data_key`` when given) and ``pooling``; it is written atomically, so an interrupted run
    never leaves a half-written cache. Later calls with the same body and data load it
    instead of running the body.

    Example:
        >>> f_train, y_train = extract_features(body, x_train, y_train, cache_dir="runs/features")
    """
    x, y = as_arrays(x, y)
    path = None
    if cache_dir is not None:
        key_src = [weights_fingerprint(body), data_key or array_fingerprint(x, *([] if y is None else [y]))]
        key = hashlib.sha256(json.dumps(key_src + [str(pooling)]).encode()).hexdigest()[:24]
        path = Path(cache_dir) / f"features-{key}.npz"
        if path.is_file():
            with np.load(path) as f:
                return f["features"], (f["labels"] if "labels" in f.files else None)
    feats = keras.ops.convert_to_numpy(body.predict(x, batch_size=batch_size, verbose=0))
    if feats.ndim == 4:
        feats = {
            "avg": lambda f: f.mean(axis=(1, 2)),
            "max": lambda f: f.max(axis=(1, 2)),
            "flatten": lambda f: f.reshape(len(f), -1),
            None: lambda f: f.reshape(len(f), -1),
        }[pooling](feats)
    feats = feats.reshape(len(feats), -1).astype(np.float32)
    if path is not None:
        buf = io.BytesIO()
        np.savez(buf, features=feats, **({} if y is None else {"labels": y}))
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.getvalue())
    return feats, y


class SklearnHead:
    """A frozen Keras body with a scikit-learn classifier on its (cached) features.

    Example:
        >>> head = SklearnHead(body, make_sklearn_estimator("logreg"), cache_dir="runs/features")
        >>> head.fit(x_train, y_train).score(x_test, y_test)
    """

    def __init__(
        self,
        body: keras.Model,
        estimator: Any,
        *,
        pooling: str | None = "avg",
        cache_dir: str | os.PathLike | None = None,
        batch_size: int = 64,
    ):
        self.body, self.estimator, self.pooling = body, estimator, pooling
        self.cache_dir, self.batch_size = cache_dir, batch_size

    def features(self, x: Any, y: Any = None, data_key: str | None = None) -> tuple[np.ndarray, Any]:
        """(features, labels) of the data through the body, from the cache when possible."""
        return extract_features(
            self.body, x, y, pooling=self.pooling, cache_dir=self.cache_dir, batch_size=self.batch_size,
            data_key=data_key,
        )  # fmt: skip

    def fit(self, x: Any, y: Any = None, data_key: str | None = None) -> SklearnHead:
        """Fits the estimator on the body's features of ``x`` (arrays with ``y``, or a labelled dataset)."""
        feats, labels = self.features(x, y, data_key)
        if labels is None:
            raise ValueError("SklearnHead.fit needs labels: pass y or a dataset of (image, label)")
        self.estimator.fit(feats, np.asarray(labels).reshape(len(feats), -1).squeeze(-1))
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        """Class probabilities [N, classes]."""
        return self.estimator.predict_proba(self.features(x)[0])

    def predict(self, x: Any) -> np.ndarray:
        """Predicted class ids [N]."""
        return np.asarray(self.estimator.predict(self.features(x)[0]))

    def score(self, x: Any, y: Any = None) -> float:
        """Accuracy on (x, y) or a labelled dataset."""
        feats, labels = self.features(x, y)
        return float(np.mean(self.estimator.predict(feats) == np.asarray(labels).reshape(-1)))

    def save(self, folder: str | os.PathLike) -> Path:
        """Writes ``body.keras`` and ``head.pkl`` (the fitted estimator) into ``folder``."""
        import pickle

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "body.keras") as tmp:
            self.body.save(tmp)
        with atomic_path(folder / "head.pkl") as tmp:
            tmp.write_bytes(pickle.dumps({"estimator": self.estimator, "pooling": self.pooling}))
        return folder


# ---------------------------------------------------------------------------------- training


def compile_classifier(model: keras.Model, learning_rate: float) -> None:
    """Compiles a softmax classifier: Adam at ``learning_rate``, sparse cross-entropy, accuracy.

    Example:
        >>> compile_classifier(head_swap(body, "mlp", num_classes=5), 1e-3)
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def train_head_swap(
    model: keras.Model,
    body: keras.Model,
    train_data: Any,
    validation_data: Any = None,
    *,
    workdir: str | os.PathLike,
    head_epochs: int = 10,
    fine_tune_epochs: int = 0,
    fine_tune_blocks: int = 1,
    learning_rate: float = 1e-3,
    steps_per_epoch: int | None = None,
    verbose: int | str = "auto",
) -> dict[str, dict[str, list[float]]]:
    """Phase 1: body frozen, head trained. Phase 2 (``fine_tune_epochs > 0``): the top
    ``fine_tune_blocks`` blocks unfrozen at ``learning_rate / 10``, batch norm in inference mode.

    Each phase trains with :func:`zoo.training.fit_resumable` in ``workdir/phase1`` and
    ``workdir/phase2`` (resumable; a finished phase is not retrained: its weights are loaded).
    Build and call this inside a strategy scope for distributed training.

    Returns:
        ``{"phase1": history, "phase2": history}`` (phase2 only when fine-tuning).

    Example:
        >>> train_head_swap(model, body, train_ds, val_ds, workdir="runs/croc", fine_tune_epochs=5)
    """
    from zoo.training import fit_resumable, read_history

    workdir = Path(workdir)
    histories: dict[str, dict[str, list[float]]] = {}
    phases = [("phase1", head_epochs, learning_rate, None)]
    if fine_tune_epochs > 0:
        phases.append(("phase2", fine_tune_epochs, learning_rate / 10.0, fine_tune_blocks))
    for phase, epochs, lr, blocks in phases:
        if blocks is None:
            freeze(body)
        else:
            unfreeze_top(body, blocks)
        compile_classifier(model, lr)
        done = workdir / phase / "done.weights.h5"
        if done.is_file():
            with warnings.catch_warnings():
                # the file also holds the finished phase's optimizer state, which the fresh
                # optimizer of this phase does not take (Keras warns); only the weights matter here
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(done)
            histories[phase] = read_history(workdir / phase / "history.csv")
            continue
        histories[phase] = fit_resumable(
            model, train_data, epochs=epochs, workdir=workdir / phase, validation_data=validation_data,
            steps_per_epoch=steps_per_epoch, verbose=verbose, title=f"{model.name} {phase}",
        )  # fmt: skip
        with atomic_path(done) as tmp:
            model.save_weights(tmp)
    return histories


def evaluate_accuracy(model: keras.Model | SklearnHead, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of a Keras classifier (softmax output) or a :class:`SklearnHead`."""
    if isinstance(model, SklearnHead):
        return model.score(x, y)
    probs = keras.ops.convert_to_numpy(model.predict(x, batch_size=256, verbose=0))
    return float(np.mean(np.argmax(probs, axis=-1) == np.asarray(y).reshape(-1)))


# -------------------------------------------------------------------------------------- data


def load_image_folder(
    folder: str | os.PathLike,
    image_size: tuple[int, int],
    *,
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 0,
    color_mode: str = "rgb",
) -> tuple[Any, Any, list[str]]:
    """A folder of class sub-folders (``cats/*.jpg``, ``dogs/*.jpg``) as (train, validation) datasets.

    Uses ``keras.utils.image_dataset_from_directory``; pixel values stay in [0, 255].

    Returns:
        (train_ds, val_ds, class_names).

    Raises:
        TransferDataError: the folder is missing, has no class sub-folders or no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise TransferDataError(f"image folder {str(folder)!r} does not exist or is not a folder")
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise TransferDataError(
            f"image folder {str(folder)!r} has no class sub-folders; expected <folder>/<class name>/<image>"
        )
    counts = {p.name: sum(1 for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES) for p in classes}
    if not any(counts.values()):
        raise TransferDataError(f"image folder {str(folder)!r} has class sub-folders but no images in them")
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        raise TransferDataError(f"class folders without images in {str(folder)!r}: {', '.join(empty)}")
    kwargs = dict(
        image_size=tuple(image_size), batch_size=batch_size, seed=seed, color_mode=color_mode,
        label_mode="int", verbose=False,
    )  # fmt: skip
    if validation_split > 0:
        train, val = keras.utils.image_dataset_from_directory(
            folder, validation_split=validation_split, subset="both", **kwargs
        )
    else:
        train, val = keras.utils.image_dataset_from_directory(folder, shuffle=True, **kwargs), None
    return train, val, [p.name for p in classes]


def load_tfds(
    name: str,
    *,
    data_dir: str | os.PathLike | None,
    image_size: tuple[int, int],
    batch_size: int = 32,
    train_split: str = "train",
    val_split: str = "test",
) -> tuple[Any, Any, int]:
    """A TFDS image-classification data set already prepared in ``data_dir`` (no download).

    Returns:
        (train_ds, val_ds, num_classes), images resized to ``image_size`` in [0, 255].

    Raises:
        TransferDataError: the data set is unknown or not prepared in ``data_dir``.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=None if data_dir is None else str(data_dir))
    except Exception as e:  # tfds raises DatasetNotFoundError and others
        raise TransferDataError(f"TFDS data set {name!r} is unknown: {e}") from None
    try:
        info = builder.info
        num_classes = info.features["label"].num_classes
        splits = [builder.as_dataset(split=s, as_supervised=True) for s in (train_split, val_split)]
    except Exception as e:
        raise TransferDataError(
            f"TFDS data set {name!r} is not prepared in data_dir={str(data_dir)!r} (nothing is downloaded "
            f"at run time; prepare it with `tfds build {name} --data_dir ...`): {e}"
        ) from None

    def prep(img: Any, label: Any) -> tuple[Any, Any]:
        img = tf.image.resize(tf.cast(img, tf.float32), image_size)
        if img.shape[-1] == 1:
            img = tf.image.grayscale_to_rgb(img)
        return img, label

    train, val = (s.map(prep).batch(batch_size).prefetch(tf.data.AUTOTUNE) for s in splits)
    return train, val, int(num_classes)


def run_transfer(
    workdir: str | os.PathLike,
    train_data: Any,
    validation_data: Any,
    num_classes: int,
    *,
    model: str | keras.Model = "vgg16",
    weights: str | None = "imagenet",
    at: str = "last_pool",
    input_shape: Sequence[int] = (224, 224, 3),
    head: str = "mlp",
    pooling: str = "avg",
    head_epochs: int = 5,
    fine_tune_epochs: int = 0,
    fine_tune_blocks: int = 1,
    learning_rate: float = 1e-3,
    preprocess: bool = True,
    strategy: str = "default",
    verbose: int | str = "auto",
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Crocodile learning on your data: cut a zoo classifier, swap its head, train (and fine-tune).

    ``train_data`` / ``validation_data`` are labelled ``tf.data`` datasets of images in
    [0, 255] (e.g. from :func:`load_image_folder` or :func:`load_tfds`); the zoo model's
    preprocessing is applied when ``preprocess``. Keras heads train in two phases
    (:func:`train_head_swap`); scikit-learn heads fit on cached features.

    Writes ``model.keras`` (Keras heads; the full model with its input preprocessing and
    ``labels``, the class names in output order, via :func:`zoo.saving.save_model`: what
    ``python -m zoo convert`` takes as it is) or ``sklearn_head/``, and ``report.json``.

    Example:
        >>> train, val, names = load_image_folder("flowers/", (160, 160))
        >>> run_transfer("runs/flowers", train, val, len(names), model="vgg16", fine_tune_epochs=3)
    """
    from zoo.training import get_strategy, strategy_scope

    workdir = Path(workdir)
    start = time.time()
    if preprocess and isinstance(model, str):
        import zoo

        fn = zoo.preprocess(model)
        train_data = train_data.map(lambda x, y: (fn(x), y))
        validation_data = None if validation_data is None else validation_data.map(lambda x, y: (fn(x), y))
    strat = get_strategy(strategy)
    with strategy_scope(strat):
        base = model
        if isinstance(model, str):
            import zoo

            base = zoo.get(model, include_top=False, weights=weights, input_shape=tuple(input_shape))
        body = cut(base, at)
        new = head_swap(body, head, num_classes, pooling=pooling, cache_dir=workdir / "features")
        report: dict[str, Any] = {
            "model": model if isinstance(model, str) else model.name, "weights": weights, "cut_at": at,
            "body_output": list(body.output_shape[1:]), "head": head, "num_classes": num_classes,
            "backend": keras.backend.backend(), "strategy": strategy,
        }  # fmt: skip
        if isinstance(new, SklearnHead):
            new.fit(train_data)
            if validation_data is not None:
                report["val_accuracy"] = new.score(validation_data)
            new.save(workdir / "sklearn_head")
        else:
            histories = train_head_swap(
                new, body, train_data, validation_data, workdir=workdir, head_epochs=head_epochs,
                fine_tune_epochs=fine_tune_epochs, fine_tune_blocks=fine_tune_blocks,
                learning_rate=learning_rate, verbose=verbose,
            )  # fmt: skip
            report["history"] = histories
            if validation_data is not None:
                x, y = as_arrays(validation_data)
                report["val_accuracy"] = evaluate_accuracy(new, x, y)
            from zoo.saving import save_model

            mode = "none"  # images reach the model as given (already preprocessed, or raw 0-255)
            if preprocess and isinstance(model, str):
                import zoo

                mode = zoo.registry.entry(model).preprocess or "none"
            save_model(new, workdir / "model.keras", preprocess=mode, labels=labels, task="classification")
    report["seconds"] = time.time() - start
    atomic_write_json(workdir / "report.json", report)
    return report
