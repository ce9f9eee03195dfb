"""Text CNN (Kim 2014, "Convolutional Neural Networks for Sentence Classification").

Word ids -> embeddings (random, or initialised from word2vec vectors) -> parallel 1-D convolutions
3, 4 and 5 words wide (100 feature maps each, ReLU) -> max-over-time pooling -> concatenation ->
dropout 0.5 -> softmax layer whose weight vectors are held to an l2 norm of at most 3 (the paper's
CNN-rand / CNN-static / CNN-non-static settings; ``trainable_embeddings`` picks static or not).

Also a small offline demo: :func:`synthetic_sentiment` makes a two-class sentiment set with
negation ("not good" is negative), and :func:`text_cnn_demo` trains the model on it.

Example:
    >>> import zoo
    >>> model = zoo.get("text_cnn", vocab_size=20000, sequence_length=50, classes=2)
    >>> emb = embedding_matrix(word_vectors, tokenizer_words, dim=300)
    >>> model = text_cnn(vocab_size=len(tokenizer_words), embeddings=emb, trainable_embeddings=False)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.registry import register, resolve_num_classes
from zoo.text.corpus import tokenize

PAD, OOV = "<pad>", "<unk>"

# Kim 2014, Sec. 3.1: filter windows 3, 4, 5 with 100 feature maps each, dropout 0.5, l2 constraint 3,
# 300-d word2vec vectors, two classes for MR. Parameters beside the embedding table:
# 100 * (3 + 4 + 5) * 300 + 300 conv + 300 * 2 + 2 softmax = 360,902.
_KIM_NON_EMBEDDING_PARAMS = 100 * (3 + 4 + 5) * 300 + 300 + 300 * 2 + 2


@register(
    "text_cnn",
    task="text",
    paper="Kim 2014, Convolutional Neural Networks for Sentence Classification (EMNLP)",
    references={
        "non_embedding_params": _KIM_NON_EMBEDDING_PARAMS,
        "non_embedding_params_source": "computed from Kim 2014 Sec. 3.1 (d=300, windows 3/4/5 x 100 maps, 2 classes)",
        "mr_accuracy_cnn_non_static": 81.5,
        "mr_accuracy_source": "Kim 2014 Table 2 (MR, CNN-non-static)",
    },
)
def text_cnn(
    vocab_size: int = 20000,
    sequence_length: int | None = 64,
    embedding_dim: int = 300,
    filter_sizes: Sequence[int] = (3, 4, 5),
    num_filters: int = 100,
    dropout: float = 0.5,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
    embeddings: np.ndarray | None = None,
    trainable_embeddings: bool = True,
    max_norm: float | None = 3.0,
    name: str = "text_cnn",
) -> keras.Model:
    """Builds Kim's text CNN over int word ids ``[batch, sequence_length]`` (0 = padding).

    Args:
        vocab_size: rows of the embedding table (ids ``0..vocab_size-1``).
        sequence_length: fixed input length (64; pad or cut texts with :func:`encode_texts`), or None
            for any length ``>= max(filter_sizes)``.
        embedding_dim: word vector size (300 in the paper).
        filter_sizes: convolution widths in words.
        num_filters: feature maps per width.
        dropout: dropout rate before the classifier.
        classes: output classes (2).
        num_classes: the same count under the detectors' and segmenters' name (they must agree).
        classifier_activation: ``"softmax"``, or None for logits.
        embeddings: ``[vocab_size, embedding_dim]`` initial vectors (e.g. :func:`embedding_matrix`).
        trainable_embeddings: False freezes them (CNN-static).
        max_norm: l2 bound on each classifier weight vector (3 in the paper), None for none.
        name: model name.

    Example:
        >>> model = text_cnn(vocab_size=5000, sequence_length=40, embedding_dim=64, classes=2)
    """
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
    if not filter_sizes or min(filter_sizes) < 1:
        raise ValueError(f"filter_sizes must be positive widths, got {filter_sizes}")
    if sequence_length is not None and sequence_length < max(filter_sizes):
        raise ValueError(
            f"sequence_length={sequence_length} is shorter than the widest filter {max(filter_sizes)}"
        )
    classes = resolve_num_classes(num_classes, classes, default=2)
    if classes < 1:
        raise ValueError(f"classes must be >= 1, got {classes}")
    inputs = keras.Input((sequence_length,), dtype="int32", name="tokens")
    x = embedding_layer(vocab_size, embedding_dim, embeddings, trainable_embeddings)(inputs)
    pooled = []
    for width in filter_sizes:
        h = keras.layers.Conv1D(num_filters, width, activation="relu", name=f"conv_{width}")(x)
        pooled.append(keras.layers.GlobalMaxPooling1D(name=f"pool_{width}")(h))
    x = pooled[0] if len(pooled) == 1 else keras.layers.Concatenate(name="concat")(pooled)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    constraint = keras.constraints.MaxNorm(max_norm, axis=0) if max_norm else None
    outputs = keras.layers.Dense(
        classes, activation=classifier_activation, kernel_constraint=constraint, name="predictions"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def embedding_layer(
    vocab_size: int,
    embedding_dim: int,
    embeddings: np.ndarray | None = None,
    trainable: bool = True,
    name: str = "embedding",
    mask_zero: bool = False,
) -> keras.layers.Embedding:
    """The word-id embedding of the text models: U(-0.25, 0.25) (Kim's range) or ``embeddings``.

    Args:
        embeddings: ``[vocab_size, embedding_dim]`` initial vectors (e.g. :func:`embedding_matrix`).
        trainable: False freezes them (Kim's "static").
        mask_zero: id 0 is padding, masked for the layers after (the recurrent models).

    Example:
        >>> layer = embedding_layer(5000, 64)
    """
    initializer: Any = keras.initializers.RandomUniform(-0.25, 0.25)  # Kim's range for unknown words
    if embeddings is not None:
        embeddings = np.asarray(embeddings, dtype="float32")
        if embeddings.shape != (vocab_size, embedding_dim):
            raise ValueError(
                f"embeddings must have shape (vocab_size, embedding_dim) = {(vocab_size, embedding_dim)}, "
                f"got {embeddings.shape}"
            )
        initializer = keras.initializers.Constant(embeddings)
    return keras.layers.Embedding(
        vocab_size,
        embedding_dim,
        embeddings_initializer=initializer,
        trainable=trainable,
        name=name,
        mask_zero=mask_zero,
    )


def build_vocabulary(texts: Sequence[str], min_count: int = 1) -> list[str]:
    """Token list for :func:`encode_texts`: ``[PAD, OOV, words by descending count...]``."""
    from collections import Counter

    counts = Counter(t for text in texts for t in tokenize(text))
    return [PAD, OOV] + [w for w, c in counts.most_common() if c >= min_count]


def encode_texts(texts: Sequence[str], words: Sequence[str], length: int) -> np.ndarray:
    """Token ids ``[len(texts), length]``: truncated or right-padded with 0; unknown words -> 1."""
    index = {w: i for i, w in enumerate(words)}
    out = np.zeros((len(texts), length), dtype=np.int32)
    for row, text in enumerate(texts):
        ids = [index.get(t, 1) for t in tokenize(text)[:length]]
        out[row, : len(ids)] = ids
    return out


def embedding_matrix(word_vectors: Any, words: Sequence[str], seed: int = 0) -> np.ndarray:
    """Initial embedding table for ``words`` from trained vectors (a :class:`~zoo.text.vectors.WordVectors`).

    Words found take their vector; the rest draw from U(-a, a) with the vectors' own spread (Kim 2014
    drew unknown words so that their variance matches the pre-trained ones); the padding row is zero.

    Example:
        >>> emb = embedding_matrix(wv, build_vocabulary(train_texts))
    """
    rng = np.random.default_rng(seed)
    dim = word_vectors.dim
    a = float(np.sqrt(3.0) * word_vectors.vectors.std()) or 0.25
    out = rng.uniform(-a, a, (len(words), dim)).astype("float32")
    for i, w in enumerate(words):
        if w in word_vectors:
            out[i] = word_vectors[w]
    if words and words[0] == PAD:
        out[0] = 0.0
    return out


_POSITIVE = ["good", "great", "excellent", "wonderful", "superb", "enjoyable", "brilliant", "delightful"]
_NEGATIVE = ["bad", "awful", "terrible", "boring", "dreadful", "poor", "dull", "horrible"]
_SUBJECTS = ["the film", "this movie", "the plot", "the acting", "the story", "the soundtrack", "the ending"]
_FILLER = ["really", "quite", "honestly", "overall", "frankly", "simply", "truly", "certainly"]
_TAILS = ["from start to finish", "in every scene", "for most of its length", "as far as i can tell", ""]


def synthetic_sentiment(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """A toy two-class sentiment set (offline): ``(texts, labels)`` with 1 = positive.

    Each text is "<subject> was [filler] [not] <adjective> <tail>"; the label is the adjective's
    polarity, flipped by "not", so a 2-3 word window is needed (a bag of words is not enough).

    Example:
        >>> texts, labels = synthetic_sentiment(4)
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        positive = rng.random() < 0.5
        negated = rng.random() < 0.4
        adjective = rng.choice(_POSITIVE if positive else _NEGATIVE)
        parts = [rng.choice(_SUBJECTS), "was"]
        if rng.random() < 0.5:
            parts.append(rng.choice(_FILLER))
        if negated:
            parts.append("not")
        parts += [adjective, rng.choice(_TAILS)]
        texts.append(" ".join(p for p in parts if p))
        labels.append(int(positive != negated))
    return texts, np.array(labels, dtype=np.int32)


def text_cnn_demo(
    workdir: str | os.PathLike,
    *,
    epochs: int = 4,
    train_size: int = 2000,
    test_size: int = 500,
    word_vectors: Any = None,
    embedding_dim: int = 32,
    sequence_length: int = 16,
    seed: int = 0,
    verbose: int | str = "auto",
) -> dict[str, Any]:
    """Trains a small text CNN on :func:`synthetic_sentiment` and returns its test accuracy.

    With ``word_vectors`` the embedding starts from them (their size sets ``embedding_dim``).
    Checkpoints and curves go to ``workdir`` through :func:`zoo.training.fit_resumable`.

    Example:
        >>> text_cnn_demo("runs/text_cnn", epochs=3)["test_accuracy"]
    """
    from zoo.training import fit_resumable

    keras.utils.set_random_seed(seed)
    train_texts, train_y = synthetic_sentiment(train_size, seed)
    test_texts, test_y = synthetic_sentiment(test_size, seed + 1)
    words = build_vocabulary(train_texts)
    emb = None
    if word_vectors is not None:
        emb = embedding_matrix(word_vectors, words, seed)
        embedding_dim = emb.shape[1]
    model = text_cnn(
        vocab_size=len(words),
        sequence_length=sequence_length,
        embedding_dim=embedding_dim,
        num_filters=16,
        classes=2,
        embeddings=emb,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    x_train = encode_texts(train_texts, words, sequence_length)
    x_test = encode_texts(test_texts, words, sequence_length)
    import tensorflow as tf

    train_ds = tf.data.Dataset.from_tensor_slices((x_train, train_y)).shuffle(train_size, seed=seed).batch(50)
    test_ds = tf.data.Dataset.from_tensor_slices((x_test, test_y)).batch(250)
    history = fit_resumable(
        model,
        train_ds,
        epochs=epochs,
        workdir=Path(workdir),
        validation_data=test_ds,
        verbose=verbose,
        title="text CNN (synthetic sentiment)",
    )
    _, accuracy = model.evaluate(test_ds, verbose=0)
    return {
        "test_accuracy": float(accuracy),
        "vocab_size": len(words),
        "pretrained_embeddings": word_vectors is not None,
        "history": history,
    }
