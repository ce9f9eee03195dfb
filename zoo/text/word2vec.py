"""word2vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling, as Keras models.

Both modes share one :class:`Word2VecModel` with two ``keras.layers.Embedding`` tables, the input
(word) vectors ``word_embedding`` (word2vec.c's ``syn0``, initialised uniform in ±0.5/dim) and the
output (context) vectors ``context_embedding`` (``syn1neg``, initialised to zero). One training row
is one centre word with its dynamic window of context words and ``K`` noise words:

- skip-gram: every context word's input vector scores the centre word (positive) and the K noise
  words (negative) through the output table: logits ``[B, 2*window, 1+K]``;
- CBOW: the mean of the context input vectors scores the same 1+K output words: ``[B, 1, 1+K]``.
  The gradient reaching each context vector is the full error, not error / count, as in
  word2vec.c and gensim (``cbow_mean=1``); the forward value is the mean.

The noise words are shared by the context words of a row (Ji et al. 2016, "Parallelizing Word2Vec
in Shared and Distributed Memory"), which turns the per-pair dot products into one small batched
matrix product; a noise word equal to the centre word is masked, as word2vec.c skips it.
The loss (:func:`negative_sampling_loss`, keras.ops) is ``-log s(pos) - sum log s(-neg)`` summed over
the batch, trained with plain SGD whose rate falls linearly from ``alpha`` to ``min_alpha`` over
the whole run, like the original; summing (not averaging) keeps word2vec's per-occurrence step size.

Shared negatives (``Word2VecConfig(negatives="shared")``, the default for skip-gram): each group
of ``shared_rows`` consecutive rows is scored against the same ``shared_negatives``
noise words, each term weighted ``K / shared_negatives`` so the expected loss is unchanged, which
turns the noise logits into one batched matrix product and gathers / updates 1/5 as many output
rows (32 noise words per 32 rows instead of 5 per row). Skip-gram in this mode predicts the
context words from the centre word's input vector (the paper's direction; the per-row path, like
word2vec.c, predicts the centre from each context word: the same pairs, mirrored), so it reads
one input row per centre word instead of ``2*window``. Sharing noise words across a whole batch
of thousands of rows does not train: each noise word would collect thousands of stale gradients
at once (it diverges, or the duplicate cap below shrinks it too far: WordSim-353 0.09-0.10 vs
0.22), hence the small groups (docs/RESULTS.md, word2vec).

One deviation, forced by large batches: word2vec.c applies each occurrence's update before the
next (Hogwild), so a frequent word's sigmoid saturates as it moves; a batch sums all of a word's
gradients at one stale point, and with thousands of rows a frequent word's sum overshoots and
training diverges (NaN at alpha=0.025, batch 4096). So a word seen ``n > duplicate_cap`` times
in a batch has its gradient scaled by ``duplicate_cap / n`` (default 64 for skip-gram, 128 for
CBOW, both with batches of 1024; 8 learned too slowly, full averaging far too slowly: see
docs/RESULTS.md, word2vec tuning runs). Rare words keep exact per-occurrence steps.

Batches (see :class:`Word2VecConfig` ``layout``). The default ``"stream"`` batch
(:func:`zoo.text.corpus.stream_batches`) is runs of consecutive subsampled words from all over
a chunk of the corpus, their sentence ids and each centre word's window; the model builds the
``[B, 2*window]`` context grid and its mask itself with integer gathers and comparisons (no
float tensor is sliced, whose gradient would be a padded copy). Building that grid in NumPy
(the ``"padded"`` batch, :func:`zoo.text.corpus.training_batches`) and moving it through
tf.data cost as much CPU as the train step itself; with runs of text the pipeline is a few
slices per batch, generated 64 batches at a time. All layouts give the same loss and gradients
(``tests/text/test_word2vec.py``).

Speed on CPU (TensorFlow; see docs/RESULTS.md, word2vec): the step is bound by gathers, memory
passes over ``[B, slots, d]`` tensors and the scatter of the embedding gradients, not by
arithmetic. By default the train step is XLA-compiled (``jit_compile``), which fuses the
element-wise passes and applies each table's gradient as one scatter-add; without XLA the
``"dedup"`` layout (:func:`zoo.text.corpus.dedup_batch`) gathers each distinct word once, sums
its gradient with a sorted segment sum (:func:`_expand_rows`) and packs CBOW's valid context
slots. Batched ``[B, 1+K, d] x [B, d, 1]`` matmuls and slicing of the logits are avoided: their
gradients (MKL batched GEMMs with k=1, strided-slice scatters) cost more than the rest of a CBOW
step.

Example:
    >>> from zoo.text.word2vec import Word2VecConfig, train_word2vec
    >>> wv, report = train_word2vec("corpus.txt", "runs/w2v", Word2VecConfig(mode="skipgram", epochs=5))
    >>> wv.most_similar("king")
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.text.corpus import (
    LAYOUTS,
    MODES,
    EncodedCorpus,
    Vocabulary,
    check_trainable,
    corpus_files,
    expected_centres,
    iter_sentences,
    stream_batches,
    stream_segment,
    training_batches,
)
from zoo.text.vectors import WordVectors
from zoo.utils.io import atomic_write_json

DEFAULT_DUPLICATE_CAP = {"skipgram": 64.0, "cbow": 128.0}
DEFAULT_BATCH_SIZE = {"skipgram": 1024, "cbow": 1024}
DEFAULT_NEGATIVES = {"skipgram": "shared", "cbow": "per_row"}
DEFAULT_SHARED_NEGATIVES = {"skipgram": 32, "cbow": 32}
DEFAULT_SHARED_ROWS = {"skipgram": 32, "cbow": 32}
DEFAULT_STEPS_PER_EXECUTION = 32
STREAM_SEGMENT = 32  # centre words per run of consecutive text in a stream batch
NEGATIVES = ("per_row", "shared")
_MASKED_LOGIT = -30.0  # softplus(-30) ~ 1e-13: a masked noise word adds no loss and no gradient


@dataclass
class Word2VecConfig:
    """word2vec settings (names and defaults as gensim's ``Word2Vec``; ``mode`` replaces ``sg``).

    Attributes:
        mode: ``"skipgram"`` or ``"cbow"``.
        dim: vector size.
        window: largest window; each centre word draws its window uniformly from 1..window.
        negative: noise words per row.
        sample: subsampling threshold (0 disables).
        min_count: words seen fewer times are dropped.
        max_vocab: keep at most this many words (most frequent), or None.
        epochs: passes over the corpus.
        alpha: initial learning rate; it decays linearly to ``min_alpha``.
        min_alpha: final learning rate.
        batch_size: centre words per step; None picks 1024 (tuned on the benchmark corpus: 2048
            and 4096 are no faster per word on CPU, and smaller batches give fresher updates:
            skip-gram WordSim-353 0.203 at 1024 vs 0.191 at 2048, mean of 3 seeds).
        seed: seeds initialisation and sampling.
        jit_compile: XLA-compile the train step; None (default): on with TensorFlow and JAX, off
            with torch. XLA fuses the many small element-wise passes and turns the gather
            gradients into one dense scatter-add per table: with the padded layout 4x less CPU per
            step for CBOW, 1.6x for skip-gram (docs/RESULTS.md, word2vec).
        errors: handling of non-UTF-8 bytes (see :func:`zoo.text.corpus.iter_sentences`).
        duplicate_cap: a word seen more than this many times in one batch has its summed gradient
            scaled down to this many occurrences' worth; None picks 64 for skip-gram and 128 for
            CBOW (tuned on the benchmark corpus), ``math.inf`` gives the plain sum (which diverges
            at alpha=0.025 with batches of thousands; see the module docstring).
        layout: batch layout fed to the model, same loss and gradients in all three:
            ``"stream"`` (default; :func:`zoo.text.corpus.stream_batches`: runs of consecutive
            words, the context grid built inside the model, so the input pipeline costs almost
            nothing), ``"padded"`` (:func:`zoo.text.corpus.training_batches`: the
            ``[B, 2*window]`` context grid built in NumPy) or ``"dedup"`` (each table row
            gathered and updated once per distinct word of the batch, gradients summed by sorted
            segment sums, CBOW context packed to its valid slots, see
            :func:`zoo.text.corpus.dedup_batch`; for steps without XLA).
        negatives: ``"per_row"`` (each row its own ``negative`` noise words, shared by its context
            words) or ``"shared"`` (each group of ``shared_rows`` rows shares ``shared_negatives``
            noise words; stream and padded layouts; see the module docstring). None (default):
            shared for skip-gram (1.4x the words/s of per_row on the benchmark corpus at the same
            quality), per_row for CBOW (shared is slower there: its batched matrix products cost
            more than the 4 noise rows per row it saves), per_row with the dedup layout.
        shared_negatives: noise words per group with ``negatives="shared"`` (at most
            ``shared_rows * negative``); None: 32.
        shared_rows: rows per group with ``negatives="shared"`` (must divide ``batch_size``); None: 32.
        steps_per_execution: at most this many train steps per call of the compiled loop
            (Keras ``steps_per_execution``; fewer round trips: 32 is ~10 % faster than 8 for
            CBOW); None: 32. Each epoch is whole executions (:func:`execution_plan`).
    """

    mode: str = "skipgram"
    dim: int = 100
    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    min_count: int = 5
    max_vocab: int | None = None
    epochs: int = 5
    alpha: float = 0.025
    min_alpha: float = 0.0001
    batch_size: int | None = None
    seed: int = 1
    jit_compile: bool | None = None
    errors: str = "strict"
    duplicate_cap: float | None = None
    layout: str | None = None
    negatives: str | None = None
    shared_negatives: int | None = None
    shared_rows: int | None = None
    steps_per_execution: int | None = None

    def __post_init__(self) -> None:
        if self.mode in MODES and self.batch_size is None:
            self.batch_size = DEFAULT_BATCH_SIZE[self.mode]
        if self.jit_compile is None:
            self.jit_compile = keras.backend.backend() in ("tensorflow", "jax")
        if self.layout is None:
            self.layout = "stream"
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.negatives is None:
            self.negatives = DEFAULT_NEGATIVES[self.mode] if self.layout != "dedup" else "per_row"
        if self.steps_per_execution is None:
            self.steps_per_execution = DEFAULT_STEPS_PER_EXECUTION
        for name in ("dim", "window", "negative", "min_count", "epochs", "batch_size", "steps_per_execution"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0 < self.alpha or not 0 <= self.min_alpha <= self.alpha:
            raise ValueError(
                f"need 0 <= min_alpha <= alpha and alpha > 0, got {self.min_alpha}, {self.alpha}"
            )
        if self.sample < 0:
            raise ValueError(f"sample must be >= 0, got {self.sample}")
        if self.duplicate_cap is None:
            self.duplicate_cap = DEFAULT_DUPLICATE_CAP[self.mode]
        if self.duplicate_cap < 1:
            raise ValueError(f"duplicate_cap must be >= 1 (math.inf: no cap), got {self.duplicate_cap}")
        if self.negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {self.negatives!r}")
        if self.negatives == "shared" and self.layout == "dedup":
            raise ValueError('negatives="shared" needs layout="stream" or "padded"')
        if self.shared_rows is None:
            self.shared_rows = DEFAULT_SHARED_ROWS[self.mode]
        if self.shared_negatives is None:
            self.shared_negatives = DEFAULT_SHARED_NEGATIVES[self.mode]
        shared = self.negatives == "shared"
        if self.shared_rows < 1 or (shared and self.batch_size % self.shared_rows):
            raise ValueError(f"shared_rows must be >= 1 and divide batch_size, got {self.shared_rows}")
        if not 1 <= self.shared_negatives <= self.shared_rows * self.negative:
            raise ValueError(
                f"shared_negatives must be in 1..shared_rows*negative ({self.shared_rows * self.negative}), "
                f"got {self.shared_negatives}"
            )


def negative_sampling_loss(y_true: Any, y_pred: Any, negative_weight: float = 1.0) -> Any:
    """Negative-sampling loss per row: ``sum_s w_s * (softplus(-pos_s) + sum_k softplus(neg_sk))``.

    Args:
        y_true: weights ``[B, S]`` (the context mask for skip-gram; ones ``[B, 1]`` for CBOW).
        y_pred: logits ``[B, S, 1+K]``; index 0 is the true word, 1..K the noise words.
        negative_weight: weight of each noise word's term (``K / S`` for ``S`` shared noise words).

    Returns:
        ``[B]`` losses (``-log s(x) = softplus(-x)``, ``-log s(-x) = softplus(x)``).
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    # softplus(sign * logit) with sign -1 for the true word, +1 for the noise words: one broadcast
    # product instead of slicing y_pred (whose gradient, a strided-slice scatter, is slow on CPU).
    k = y_pred.shape[-1]
    sign = ops.cast(ops.concatenate([-ops.ones((1,)), ops.ones((k - 1,))]), y_pred.dtype)
    terms = ops.softplus(y_pred * sign)
    if negative_weight != 1.0:
        weight = ops.concatenate([ops.ones((1,)), ops.full((k - 1,), float(negative_weight))])
        terms = terms * ops.cast(weight, y_pred.dtype)
    per = ops.sum(terms, axis=-1)
    return ops.sum(per * y_true, axis=-1)


def _cap_duplicate_gradients(vectors: Any, ids: Any, weights: Any, vocab_size: int, cap: float) -> Any:
    """Identity forward; backward, the gradient of a word seen ``n > cap`` times in the batch is
    scaled by ``cap / n``, so a table row moves by at most ``cap`` times its mean batch gradient.
    (A custom gradient rather than ``v * s + stop_gradient(v * (1 - s))``: no forward passes.)"""
    flat = ops.reshape(ids, (-1,))
    w = ops.ones_like(flat, dtype=vectors.dtype) if weights is None else ops.reshape(weights, (-1,))
    counts = ops.segment_sum(ops.cast(w, vectors.dtype), flat, num_segments=vocab_size)
    scale = ops.minimum(1.0, cap / ops.maximum(ops.cast(ops.take(counts, ids), vectors.dtype), 1.0))
    scale = ops.stop_gradient(scale[..., None])

    @ops.custom_gradient
    def capped(values):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return upstream * scale

        return values, grad

    return capped(vectors)


@dataclass
class _Grid:
    """A batch as centre words and their context grid (``padded`` and ``stream`` layouts).

    Attributes:
        center: centre ids ``[B]``.
        context: context ids ``[B, 2*window]``.
        valid: whether a slot holds a context word ``[B, 2*window]`` (bool).
        mask: ``valid`` as floats.
        stream: True for a stream batch: every slot is scored, and the model masks invalid
            pairs in the logits (padded batches weight them by ``y`` instead).
    """

    center: Any
    context: Any
    valid: Any
    mask: Any
    stream: bool


def _sorted_segment_sum(data: Any, segment_ids: Any, num_segments: Any, xla: bool = False) -> Any:
    """``segment_sum`` for ascending ``segment_ids`` into ``num_segments`` rows (TensorFlow's sorted
    kernel takes no ``num_segments``, so its result is zero-padded; JAX needs it static; XLA on
    TensorFlow (``xla=True``) cannot compile the sorted kernel, so it gets the unsorted one)."""
    if keras.backend.backend() == "tensorflow" and xla:
        return ops.segment_sum(data, segment_ids, num_segments=num_segments)
    if keras.backend.backend() == "tensorflow":
        out = ops.segment_sum(data, segment_ids, sorted=True)
        return ops.pad(out, [[0, num_segments - ops.shape(out)[0]], [0, 0]])
    return ops.segment_sum(data, segment_ids, num_segments=num_segments, sorted=True)


def _expand_rows(rows: Any, index: Any, order: Any, scale: Any, xla: bool = False) -> Any:
    """``take(rows, index)`` whose gradient is summed per distinct row by a *sorted* segment sum
    (``order`` sorts the flattened ``index``) and then scaled per row by ``scale`` (the duplicate
    cap). The generic gradient of a gather is an unsorted scatter of every slot, several times
    slower on CPU; the table itself is then updated once per distinct word."""
    dim = rows.shape[-1]

    @ops.custom_gradient
    def expand(values):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            flat = ops.take(ops.reshape(upstream, (-1, dim)), order, axis=0)
            segments = ops.take(ops.reshape(index, (-1,)), order, axis=0)
            summed = _sorted_segment_sum(flat, segments, ops.shape(values)[0], xla)
            return summed * ops.expand_dims(scale, 1)

        return ops.take(values, index, axis=0), grad

    return expand(rows)


@keras.saving.register_keras_serializable(package="zoo")
class NegativeSamplingLoss(keras.losses.Loss):
    """:func:`negative_sampling_loss` summed over the batch (word2vec's per-occurrence step size)."""

    def __init__(
        self,
        reduction: str = "sum",
        name: str = "negative_sampling",
        negative_weight: float = 1.0,
        **kwargs,
    ):
        super().__init__(reduction=reduction, name=name, **kwargs)
        self.negative_weight = float(negative_weight)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return negative_sampling_loss(y_true, y_pred, self.negative_weight)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_weight": self.negative_weight}


@keras.saving.register_keras_serializable(package="zoo")
class Word2VecModel(keras.Model):
    """Skip-gram or CBOW scorer over two embedding tables; call on one batch from
    :func:`zoo.text.corpus.stream_batches` (``tokens``, ``sentence``, ``reach``, ``negatives``;
    train with ``y`` = ones ``[B, 1]``), :func:`zoo.text.corpus.training_batches` (``center``,
    ``context``, ``context_mask``, ``negatives``; ``y`` = the mask for skip-gram, ones for CBOW)
    or :func:`zoo.text.corpus.dedup_batch`.

    Args:
        vocab_size: number of words.
        dim: vector size.
        mode: ``"skipgram"`` or ``"cbow"``.
        seed: initialiser seed.
        duplicate_cap: see :class:`Word2VecConfig` (None or ``math.inf``: no cap).
        negatives, shared_negatives, shared_rows: see :class:`Word2VecConfig` (with ``"shared"``
            the batch size must be a multiple of ``shared_rows``).

    Example:
        >>> m = Word2VecModel(1000, 64, "cbow")
        >>> logits = m({"center": c, "context": ctx, "context_mask": mask, "negatives": neg})
        >>> logits = m({"tokens": runs, "sentence": sentence_ids, "reach": reach, "negatives": neg})
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int = 100,
        mode: str = "skipgram",
        seed: int | None = None,
        duplicate_cap: float | None = 32.0,
        negatives: str = "per_row",
        shared_negatives: int = 32,
        shared_rows: int = 32,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
        if int(shared_negatives) < 1:
            raise ValueError(f"shared_negatives must be >= 1, got {shared_negatives}")
        self.vocab_size, self.dim, self.mode, self.seed = int(vocab_size), int(dim), mode, seed
        if int(shared_rows) < 1:
            raise ValueError(f"shared_rows must be >= 1, got {shared_rows}")
        self.negatives, self.shared_negatives, self.shared_rows = (
            negatives,
            int(shared_negatives),
            int(shared_rows),
        )
        self.duplicate_cap = None if duplicate_cap is None else float(duplicate_cap)
        self.word_embedding = keras.layers.Embedding(
            vocab_size,
            dim,
            embeddings_initializer=keras.initializers.RandomUniform(-0.5 / dim, 0.5 / dim, seed=seed),
            name="word_embedding",
        )
        self.context_embedding = keras.layers.Embedding(
            vocab_size, dim, embeddings_initializer="zeros", name="context_embedding"
        )

    def build(self, input_shape: Any = None) -> None:
        self.word_embedding.build((None,))
        self.context_embedding.build((None,))
        super().build(input_shape)

    def _grid(self, inputs: dict[str, Any]) -> _Grid:
        """The centre words and context grid of a padded or stream batch. A stream batch's grid
        is built here from its runs of text (integer gathers), not in the input pipeline."""
        if "tokens" not in inputs:
            mask = ops.cast(inputs["context_mask"], self.compute_dtype)
            center, context = ops.cast(inputs["center"], "int32"), ops.cast(inputs["context"], "int32")
            return _Grid(center, context, mask > 0, mask, False)
        tokens = ops.cast(inputs["tokens"], "int32")  # [P, S + 2*window]
        sentence = ops.cast(inputs["sentence"], "int32")
        reach = ops.cast(inputs["reach"], "int32")  # [B]
        b, (parts, span) = reach.shape[0], tokens.shape
        if None in (b, parts, span) or b % parts or span <= b // parts or (span - b // parts) % 2:
            raise ValueError(
                "A stream batch needs static shapes tokens [P, B/P + 2*window] and reach [B], got "
                f"{tuple(tokens.shape)} and {tuple(reach.shape)}"
            )
        seg = b // parts
        w = (span - seg) // 2
        shift = np.array([o for o in range(-w, w + 1) if o])  # the slot order of training_batches
        q = np.arange(b)
        at = (q // seg) * span + w + q % seg  # flat position of centre word q
        where = ops.convert_to_tensor(at[:, None] + shift[None, :], dtype="int32")  # [B, 2*window]
        tokens, sentence = ops.reshape(tokens, (-1,)), ops.reshape(sentence, (-1,))
        at = ops.convert_to_tensor(at, dtype="int32")
        same = ops.take(sentence, where) == ops.take(sentence, at)[:, None]
        valid = ops.logical_and(
            same, ops.convert_to_tensor(np.abs(shift), dtype="int32")[None, :] <= reach[:, None]
        )
        return _Grid(
            ops.take(tokens, at), ops.take(tokens, where), valid, ops.cast(valid, self.compute_dtype), True
        )

    def _capped(self) -> bool:
        return self.duplicate_cap is not None and math.isfinite(self.duplicate_cap)

    def _context_vectors(self, grid: _Grid) -> Any:
        """Input vectors of the context grid ``[B, 2*window, d]``, gradient capped."""
        ctx = self.word_embedding(grid.context)
        if self._capped():
            ctx = _cap_duplicate_gradients(ctx, grid.context, grid.mask, self.vocab_size, self.duplicate_cap)
        return ctx

    def _cbow_hidden(self, ctx: Any, mask: Any) -> Any:
        """CBOW's hidden vector ``[B, d]``: forward the mean of the context vectors, backward the
        full error to each (word2vec.c and gensim with ``cbow_mean=1``)."""
        total = ops.sum(ctx * mask[..., None], axis=1)
        count = ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)
        return total + ops.stop_gradient(total / count - total)

    def _cap_scale(self, counts: Any) -> Any:
        """Gradient scale of each distinct word of a deduplicated batch: min(1, cap / count)."""
        counts = ops.cast(counts, self.compute_dtype)
        if self.duplicate_cap is None or not math.isfinite(self.duplicate_cap):
            return ops.ones_like(counts)
        return ops.minimum(1.0, self.duplicate_cap / ops.maximum(counts, 1.0))

    def _call_dedup(self, inputs: dict[str, Any]) -> Any:
        """Same logits from a :func:`zoo.text.corpus.dedup_batch` batch: every table row is
        gathered and updated once per distinct word, CBOW sums only the valid context slots."""
        center = ops.cast(inputs["center"], "int32")
        negatives = ops.cast(inputs["negatives"], "int32")
        xla = getattr(self, "jit_compile", False) is True
        out = _expand_rows(
            self.context_embedding(ops.cast(inputs["out_unique"], "int32")),
            ops.cast(inputs["out_index"], "int32"),
            ops.cast(inputs["out_order"], "int32"),
            self._cap_scale(inputs["out_counts"]),
            xla,
        )  # [B, 1+K, d]
        ctx_rows = self.word_embedding(ops.cast(inputs["ctx_unique"], "int32"))
        if self.mode == "cbow":  # the padding entries (count 0) add zero vectors to the last row
            ctx_rows = ctx_rows * ops.expand_dims(ops.cast(inputs["ctx_counts"] > 0, ctx_rows.dtype), 1)
        ctx = _expand_rows(
            ctx_rows,
            ops.cast(inputs["ctx_index"], "int32"),
            ops.cast(inputs["ctx_order"], "int32"),
            self._cap_scale(inputs["ctx_counts"]),
            xla,
        )  # skip-gram [B, S, d]; CBOW [slots, d]
        if self.mode == "skipgram":
            logits = ops.matmul(ctx, ops.transpose(out, (0, 2, 1)))  # [B, S, 1+K]
        else:
            b = ops.shape(center)[0]
            rows = ops.cast(inputs["ctx_rows"], "int32")
            total = _sorted_segment_sum(ctx, rows, b, xla)  # [B, d]
            count = ops.expand_dims(ops.maximum(ops.cast(inputs["ctx_count"], self.compute_dtype), 1.0), 1)
            hidden = total + ops.stop_gradient(total / count - total)
            # Broadcast product, not a batched matmul: [B, 1+K, d] x [B, d, 1] matmuls and their
            # gradients (an outer product with k=1) are several times slower on CPU.
            logits = ops.expand_dims(ops.sum(out * ops.expand_dims(hidden, 1), axis=-1), 1)  # [B, 1, 1+K]
        keep = ops.concatenate(
            [ops.ones_like(center[:, None], dtype="bool"), negatives != center[:, None]], axis=1
        )
        return ops.where(keep[:, None, :], logits, ops.cast(_MASKED_LOGIT, logits.dtype))

    def _call_shared(self, inputs: dict[str, Any]) -> Any:
        """Shared negatives: each group of ``G = shared_rows`` consecutive rows is scored against the
        same ``S = shared_negatives`` noise words, the first ``S`` of the group's i.i.d. draws from
        the unigram^0.75 table. The noise logits are then one batched matrix product
        ``[B/G, G, d] x [B/G, d, S]`` and the output table is gathered (and its gradient
        scattered) for ``B/G * S`` noise rows instead of ``B * K``. Logits ``[B, slots, 1+S]``;
        train with ``negative_weight = K / S`` (the same expected loss).

        Skip-gram here predicts the context words from the centre word's input vector (the
        paper's direction; word2vec.c and the per-row path predict the centre from each context
        word, i.e. the same pairs mirrored), so the input table has one row per centre word and
        the noise logits are ``[B, S]``, not ``[B, 2*window, S]``."""
        grid = self._grid(inputs)
        center, context, mask = grid.center, grid.context, grid.mask
        negatives = ops.cast(inputs["negatives"], "int32")
        k, g = negatives.shape[-1], self.shared_rows
        if center.shape[0] is not None and center.shape[0] % g:
            raise ValueError(f"batch size {center.shape[0]} is not a multiple of shared_rows={g}")
        s = min(self.shared_negatives, g * k)
        groups = ops.reshape(negatives, (-1, g * k))[:, :s]  # [B/G, S]
        per_row = ops.reshape(ops.repeat(groups[:, None, :], g, axis=1), (-1, s))  # [B, S]
        dim = self.dim
        if self.mode == "skipgram":
            w = context.shape[1]
            hidden = self.word_embedding(center)  # [B, d]
            pos_ids, pos_weight = ops.reshape(context, (-1,)), ops.reshape(mask, (-1,))
            row_weight = ops.sum(mask, axis=1)  # pairs per row: each scores the S noise words
            keep = context[:, :, None] != per_row[:, None, :]  # [B, W, S]: noise == context j masked
        else:
            hidden = self._cbow_hidden(self._context_vectors(grid), mask)
            pos_ids, pos_weight = center, ops.ones_like(center, dtype=self.compute_dtype)
            row_weight = pos_weight
            keep = (per_row != center[:, None])[:, None, :]  # [B, 1, S]
        out_ids = ops.concatenate([pos_ids, ops.reshape(groups, (-1,))], axis=0)
        out = self.context_embedding(out_ids)  # [positives + B/G*S, d]
        if self._capped():
            # a noise word counts once for each (row, pair) it scores, at weight K / S
            noise_weight = ops.sum(ops.reshape(row_weight, (-1, g)), axis=1, keepdims=True) * (k / s)
            weights = ops.concatenate(
                [pos_weight, ops.reshape(ops.repeat(noise_weight, s, axis=1), (-1,))], axis=0
            )
            out = _cap_duplicate_gradients(out, out_ids, weights, self.vocab_size, self.duplicate_cap)
            if self.mode == "skipgram":
                hidden = _cap_duplicate_gradients(
                    hidden, center, row_weight, self.vocab_size, self.duplicate_cap
                )
        n_pos = pos_ids.shape[0] if pos_ids.shape[0] is not None else ops.shape(pos_ids)[0]
        pos_out, noise_out = out[:n_pos], ops.reshape(out[n_pos:], (-1, s, dim))  # noise [B/G, S, d]
        if self.mode == "skipgram":
            pos = ops.sum(ops.reshape(pos_out, (-1, w, dim)) * ops.expand_dims(hidden, 1), axis=-1)[..., None]
        else:
            pos = ops.sum(pos_out * hidden, axis=-1)[:, None, None]  # [B, 1, 1]
        neg = ops.matmul(ops.reshape(hidden, (-1, g, dim)), ops.transpose(noise_out, (0, 2, 1)))
        neg = ops.reshape(neg, (-1, 1, s))  # [B, 1, S]
        neg = ops.where(keep, neg, ops.cast(_MASKED_LOGIT, neg.dtype))
        return self._mask_pairs(ops.concatenate([pos, neg], axis=-1), grid)

    def _mask_pairs(self, logits: Any, grid: _Grid) -> Any:
        """Stream batches score every slot: a pair without a context word (skip-gram, logits
        ``[B, 2*window, 1+K]``) or a row without any (CBOW, ``[B, 1, 1+K]``) gets logits whose loss
        and gradient are ~0 (true word +30, noise words -30). Padded batches weight them by ``y``."""
        if not grid.stream:
            return logits
        valid = grid.valid if self.mode == "skipgram" else ops.any(grid.valid, axis=1, keepdims=True)
        k = logits.shape[-1]
        fill = ops.cast(ops.concatenate([-ops.ones((1,)), ops.ones((k - 1,))]) * _MASKED_LOGIT, logits.dtype)
        return ops.where(valid[:, :, None], logits, fill)

    def call(self, inputs: dict[str, Any]) -> Any:
        if "out_unique" in inputs:
            if self.negatives == "shared":
                raise ValueError('negatives="shared" needs the stream or padded batch layout')
            return self._call_dedup(inputs)
        if self.negatives == "shared":
            return self._call_shared(inputs)
        grid = self._grid(inputs)
        center = grid.center
        negatives = ops.cast(inputs["negatives"], "int32")
        out_ids = ops.concatenate([center[:, None], negatives], axis=1)
        ctx = self._context_vectors(grid)  # [B, S, d]
        out = self.context_embedding(out_ids)  # [B, 1+K, d]
        if self._capped():
            out = _cap_duplicate_gradients(out, out_ids, None, self.vocab_size, self.duplicate_cap)
        if self.mode == "skipgram":  # each context word scores the centre and noise words
            logits = ops.matmul(ctx, ops.transpose(out, (0, 2, 1)))  # [B, S, 1+K]
        else:
            hidden = self._cbow_hidden(ctx, grid.mask)
            # Broadcast product, not a batched matmul: [B, 1+K, d] x [B, d, 1] matmuls and their
            # gradients (an outer product with k=1) are several times slower on CPU.
            logits = ops.expand_dims(ops.sum(out * ops.expand_dims(hidden, 1), axis=-1), 1)  # [B, 1, 1+K]
        keep = ops.concatenate(
            [ops.ones_like(center[:, None], dtype="bool"), negatives != center[:, None]], axis=1
        )
        logits = ops.where(keep[:, None, :], logits, ops.cast(_MASKED_LOGIT, logits.dtype))
        return self._mask_pairs(logits, grid)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            dim=self.dim,
            mode=self.mode,
            seed=self.seed,
            duplicate_cap=self.duplicate_cap,
            negatives=self.negatives,
            shared_negatives=self.shared_negatives,
            shared_rows=self.shared_rows,
        )
        return config

    def word_vectors(self, words: list[str]) -> WordVectors:
        """The input vectors (``word_embedding``) as :class:`WordVectors` (what word2vec.c saves)."""
        return WordVectors(words, keras.ops.convert_to_numpy(self.word_embedding.embeddings))


def build_model(
    vocab_size: int, config: Word2VecConfig, total_steps: int, steps_per_execution: int | None = None
) -> Word2VecModel:
    """A compiled :class:`Word2VecModel`: SGD with linear decay ``alpha -> min_alpha`` over ``total_steps``
    (``steps_per_execution``: train steps per call of the compiled loop, default the config's)."""
    model = Word2VecModel(
        vocab_size,
        config.dim,
        config.mode,
        seed=config.seed,
        duplicate_cap=config.duplicate_cap,
        negatives=config.negatives,
        shared_negatives=config.shared_negatives,
        shared_rows=config.shared_rows,
    )
    model.build()
    schedule = keras.optimizers.schedules.PolynomialDecay(
        config.alpha, decay_steps=max(1, total_steps), end_learning_rate=config.min_alpha, power=1.0
    )
    shared = config.negatives == "shared"
    s = min(config.shared_negatives, config.shared_rows * config.negative)
    loss = NegativeSamplingLoss(negative_weight=config.negative / s if shared else 1.0)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule),
        loss=loss,
        jit_compile=config.jit_compile,
        steps_per_execution=steps_per_execution or config.steps_per_execution,
    )
    return model


def _dataset(corpus: EncodedCorpus, vocab: Vocabulary, config: Word2VecConfig, seed: int) -> Any:
    """The batch stream: a prefetching ``tf.data.Dataset`` with the TensorFlow backend, a plain
    generator of NumPy batches with the others (so JAX and torch train without TensorFlow)."""
    s, k, b = 2 * config.window, config.negative, config.batch_size
    table = vocab.negative_table()
    common = dict(
        batch_size=b, window=config.window, negative=k, sample=config.sample, seed=seed, table=table
    )
    # Coarse padding of the dedup layout's variable sizes (distinct words, packed slots) keeps the
    # number of distinct batch shapes, hence of traces / XLA compilations, at one or two per run.
    pad_multiple = 1 << int(min(10, max(6, math.log2(max(2, len(vocab) // 8)))))
    if keras.backend.backend() != "tensorflow":
        if config.layout == "stream":
            groups = stream_batches(corpus, vocab, **common, segment=STREAM_SEGMENT)
            return (({key: v[i] for key, v in x.items()}, y[i]) for x, y in groups for i in range(len(y)))
        return training_batches(
            corpus, vocab, **common, mode=config.mode, layout=config.layout, pad_multiple=pad_multiple
        )
    import tensorflow as tf

    if config.layout == "stream":
        # Groups of batches from NumPy, sliced into single batches inside tf.data (one Python call
        # per group, not per batch).
        seg = stream_segment(b, STREAM_SEGMENT)
        parts, span = b // seg, seg + 2 * config.window
        group_spec = (
            {
                "tokens": tf.TensorSpec((None, parts, span), tf.int32),
                "sentence": tf.TensorSpec((None, parts, span), tf.int32),
                "reach": tf.TensorSpec((None, b), tf.int32),
                "negatives": tf.TensorSpec((None, b, k), tf.int32),
            },
            tf.TensorSpec((None, b, 1), tf.float32),
        )

        def blocks():
            return stream_batches(corpus, vocab, **common, segment=STREAM_SEGMENT)

        groups = tf.data.Dataset.from_generator(blocks, output_signature=group_spec).prefetch(2)
        return groups.flat_map(lambda x, y: tf.data.Dataset.from_tensor_slices((x, y))).prefetch(16)
    y_shape = (b, s) if config.mode == "skipgram" else (b, 1)
    if config.layout == "dedup":
        x_spec = {
            "center": tf.TensorSpec((b,), tf.int32),
            "negatives": tf.TensorSpec((b, k), tf.int32),
            "out_unique": tf.TensorSpec((None,), tf.int32),
            "out_index": tf.TensorSpec((b, 1 + k), tf.int32),
            "out_order": tf.TensorSpec((b * (1 + k),), tf.int32),
            "out_counts": tf.TensorSpec((None,), tf.float32),
            "ctx_unique": tf.TensorSpec((None,), tf.int32),
            "ctx_order": tf.TensorSpec((b * s,) if config.mode == "skipgram" else (None,), tf.int32),
            "ctx_counts": tf.TensorSpec((None,), tf.float32),
        }
        if config.mode == "skipgram":
            x_spec["ctx_index"] = tf.TensorSpec((b, s), tf.int32)
        else:
            x_spec["ctx_index"] = tf.TensorSpec((None,), tf.int32)
            x_spec["ctx_rows"] = tf.TensorSpec((None,), tf.int32)
            x_spec["ctx_count"] = tf.TensorSpec((b,), tf.float32)
    else:
        x_spec = {
            "center": tf.TensorSpec((b,), tf.int32),
            "context": tf.TensorSpec((b, s), tf.int32),
            "context_mask": tf.TensorSpec((b, s), tf.float32),
            "negatives": tf.TensorSpec((b, k), tf.int32),
        }
    signature = (x_spec, tf.TensorSpec(y_shape, tf.float32))

    def gen():
        return training_batches(
            corpus, vocab, **common, mode=config.mode, layout=config.layout, pad_multiple=pad_multiple
        )

    return tf.data.Dataset.from_generator(gen, output_signature=signature).prefetch(4)


class _WordsPerSecond(keras.callbacks.Callback):
    """Records wall time per epoch (training only) for the report."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._t)


def prepare_corpus(
    corpus: str | os.PathLike, workdir: str | os.PathLike, config: Word2VecConfig
) -> tuple[Vocabulary, EncodedCorpus]:
    """Builds (or reuses, when resuming) the vocabulary and id-encoded corpus under ``workdir``."""
    workdir = Path(workdir)
    vocab_path, cache = workdir / "vocab.json", workdir / "corpus"
    settings = {
        "corpus": str(Path(corpus).resolve()),
        "files": [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in corpus_files(corpus)],
        "min_count": config.min_count,
        "max_vocab": config.max_vocab,
        "errors": config.errors,
    }
    settings_path = workdir / "corpus_settings.json"
    if (
        vocab_path.exists()
        and (cache / "meta.json").exists()
        and settings_path.exists()
        and json.loads(settings_path.read_text()) == settings
    ):
        return Vocabulary.load(vocab_path), EncodedCorpus.load(cache)
    vocab = Vocabulary.build(
        iter_sentences(corpus, errors=config.errors), min_count=config.min_count, max_vocab=config.max_vocab
    )
    check_trainable(vocab, config.window, config.negative)
    encoded = EncodedCorpus.build(corpus, vocab, cache, errors=config.errors)
    vocab.save(vocab_path)
    atomic_write_json(settings_path, settings)
    return vocab, encoded


def execution_plan(vocab: Vocabulary, config: Word2VecConfig) -> tuple[int, int]:
    """``(steps_per_epoch, steps_per_execution)``: batches per epoch (the expected centre words after
    subsampling / batch size, at least 1) in whole executions (Keras runs whole executions) of at
    most ``config.steps_per_execution`` steps, sized so that the epoch overshoots by less than
    one step per execution (357 steps with up to 32 per execution: 12 executions of 30)."""
    steps = max(1, math.ceil(expected_centres(vocab, config.sample) / config.batch_size))
    executions = math.ceil(steps / max(1, config.steps_per_execution or 1))
    per_execution = math.ceil(steps / executions)
    return executions * per_execution, per_execution


def train_word2vec(
    corpus: str | os.PathLike,
    workdir: str | os.PathLike,
    config: Word2VecConfig | None = None,
    *,
    verbose: int | str = "auto",
    save: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> tuple[WordVectors, dict[str, Any]]:
    """Trains word2vec on a plain-text file or folder; resumes if ``workdir`` holds an interrupted run.

    Writes into ``workdir``: ``vocab.json``, ``corpus/`` (encoded ids), the checkpoints and curves of
    :func:`zoo.training.fit_resumable`, and with ``save=True`` ``vectors.txt`` / ``vectors.bin``
    (word2vec formats), ``projector/`` (vectors.tsv, metadata.tsv) and ``report.json``.

    Returns:
        The trained vectors and the report (settings, vocabulary and corpus sizes, timings, words/s).

    Example:
        >>> wv, report = train_word2vec("corpus.txt", "runs/w2v", Word2VecConfig(epochs=5))
        >>> report["words_per_second"]
    """
    from zoo.training import fit_resumable

    config = config or Word2VecConfig()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    vocab, encoded = prepare_corpus(corpus, workdir, config)
    prep_seconds = time.perf_counter() - t0
    steps, per_execution = execution_plan(vocab, config)
    keras.utils.set_random_seed(config.seed)
    model = build_model(len(vocab), config, steps * config.epochs, per_execution)
    timer = _WordsPerSecond()
    t1 = time.perf_counter()
    history = fit_resumable(
        model,
        _dataset(encoded, vocab, config, seed=config.seed),
        epochs=config.epochs,
        steps_per_epoch=steps,
        workdir=workdir,
        callbacks=[timer, *callbacks],
        verbose=verbose,
        title=f"word2vec {config.mode}",
    )
    train_seconds = time.perf_counter() - t1
    wv = model.word_vectors(vocab.words)
    epochs_run = max(1, len(timer.epoch_seconds))
    report: dict[str, Any] = {
        "config": dataclasses.asdict(config),
        "backend": keras.backend.backend(),
        "vocab_size": len(vocab),
        "raw_words": vocab.raw_words,
        "in_vocab_words": len(encoded),
        "steps_per_epoch": steps,
        "prepare_seconds": prep_seconds,
        "train_seconds": train_seconds,
        "epoch_seconds": timer.epoch_seconds,
        "words_per_second": vocab.raw_words * epochs_run / max(sum(timer.epoch_seconds), 1e-9),
        "loss_per_centre_word": [v / config.batch_size for v in history.get("loss", [])],
    }
    if save:
        save_outputs(wv, workdir, report)
    return wv, report


def save_outputs(wv: WordVectors, workdir: str | os.PathLike, report: dict[str, Any]) -> dict[str, Path]:
    """Writes vectors.txt, vectors.bin, projector/{vectors,metadata}.tsv and report.json (atomically)."""
    workdir = Path(workdir)
    paths = {
        "text": wv.save_word2vec_format(workdir / "vectors.txt", binary=False),
        "binary": wv.save_word2vec_format(workdir / "vectors.bin", binary=True),
    }
    paths["projector_vectors"], paths["projector_metadata"] = wv.save_projector(workdir / "projector")
    report["outputs"] = {k: str(v) for k, v in paths.items()}
    paths["report"] = atomic_write_json(workdir / "report.json", report)
    return paths
