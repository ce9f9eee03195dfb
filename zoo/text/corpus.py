"""Plain-text corpora for word2vec: streaming tokeniser, vocabulary, id encoding, training batches.

The corpus (a file or a folder of files) is read line by line and never held whole in memory:
one line is one sentence (lines longer than ``max_sentence_length`` tokens are split, as gensim
does), tokens are lower-cased runs of letters/digits (an inner apostrophe is kept: ``don't``).

Training never loops over words in Python. The corpus is encoded once into an ``int32`` id file
(``EncodedCorpus``, read back through ``np.memmap``), and :func:`training_batches` turns chunks of
about a million ids at a time into batches with vectorised NumPy: Mikolov subsampling
(``keep = (sqrt(f / (sample * N)) + 1) * sample * N / f``), a dynamic window (each centre word
draws its window size uniformly from 1..window), and negatives drawn from the unigram^0.75 table.

Non-UTF-8 input: with ``errors="strict"`` (default) a :class:`CorpusError` names the file, line and
byte; ``errors="replace"`` turns bad bytes into U+FFFD, which the tokeniser treats as a separator;
``errors="ignore"`` drops them.

Example:
    >>> vocab = Vocabulary.build(iter_sentences("corpus.txt"), min_count=5)
    >>> corpus = EncodedCorpus.build("corpus.txt", vocab, "runs/w2v/corpus")
    >>> x, y = next(training_batches(corpus, vocab, batch_size=4096, window=5, negative=5))
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoo.utils.io import atomic_path, atomic_write_json

_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
ERRORS = ("strict", "replace", "ignore")
MODES = ("skipgram", "cbow")
LAYOUTS = ("stream", "padded", "dedup")


class CorpusError(ValueError):
    """A corpus that cannot be trained on (missing, empty, undecodable, vocabulary too small)."""


def tokenize(line: str) -> list[str]:
    """Lower-cases ``line`` and returns its word tokens (letters/digits, inner apostrophes kept).

    Example:
        >>> tokenize("Don't PANIC: 42 towels!")
        ["don't", 'panic', '42', 'towels']
    """
    return _TOKEN.findall(line.lower())


def corpus_files(path: str | os.PathLike) -> list[Path]:
    """The files of a corpus: ``path`` itself, or every non-hidden file below a folder (sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise CorpusError(f"Corpus {path} does not exist; pass a plain-text file or a folder of them")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise CorpusError(f"Corpus folder {path} holds no files")
    return files


def iter_sentences(
    path: str | os.PathLike, *, errors: str = "strict", max_sentence_length: int = 10000
) -> Iterator[list[str]]:
    """Streams tokenised sentences (one per line; blank lines yield nothing) from a file or folder.

    Args:
        path: a plain-text file or a folder of them.
        errors: what to do with bytes that are not UTF-8: ``"strict"`` raises :class:`CorpusError`
            naming file, line and byte; ``"replace"``/``"ignore"`` as in ``bytes.decode``.
        max_sentence_length: longer lines are split into pieces of this many tokens.

    Example:
        >>> next(iter_sentences("corpus.txt"))
        ['hundreds', 'of', 'people', ...]
    """
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {ERRORS}, got {errors!r}")
    if max_sentence_length < 1:
        raise ValueError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
    for file in corpus_files(path):
        with open(file, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8", errors=errors)
                except UnicodeDecodeError as e:
                    raise CorpusError(
                        f"{file}:{lineno}: not valid UTF-8 ({e.reason}, byte 0x{raw[e.start]:02x} at column "
                        f"{e.start}). Re-encode the file as UTF-8, or pass errors='replace' (bad bytes become "
                        "separators) or errors='ignore' (bad bytes are dropped)."
                    ) from None
                tokens = tokenize(line)
                for start in range(0, len(tokens), max_sentence_length):
                    yield tokens[start : start + max_sentence_length]


@dataclass
class Vocabulary:
    """Words sorted by descending count, with their counts and the corpus size they came from.

    Attributes:
        words: the kept words, most frequent first (ties in order of first appearance).
        counts: ``int64`` count of each kept word.
        raw_words: tokens in the corpus, kept or not (the figure gensim's "raw words" reports).
    """

    words: list[str]
    counts: np.ndarray
    raw_words: int
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if len(self.words) != len(self.counts):
            raise ValueError(f"{len(self.words)} words but {len(self.counts)} counts")
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    @classmethod
    def build(
        cls, sentences: Iterable[list[str]], min_count: int = 5, max_vocab: int | None = None
    ) -> Vocabulary:
        """Counts tokens and keeps words seen ``min_count`` times or more, at most ``max_vocab`` of them.

        Raises:
            CorpusError: the corpus has no tokens, or no word reaches ``min_count``.

        Example:
            >>> Vocabulary.build([["a", "b", "a"]], min_count=2).words
            ['a']
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        if max_vocab is not None and max_vocab < 1:
            raise ValueError(f"max_vocab must be >= 1 or None, got {max_vocab}")
        counter: Counter[str] = Counter()
        for sentence in sentences:
            counter.update(sentence)
        raw = sum(counter.values())
        if raw == 0:
            raise CorpusError("The corpus is empty: it holds no word tokens")
        items = sorted((kv for kv in counter.items() if kv[1] >= min_count), key=lambda kv: -kv[1])
        if not items:
            raise CorpusError(
                f"No word occurs min_count={min_count} times (the corpus has {len(counter)} distinct words, "
                f"the most frequent {counter.most_common(1)[0][1]} times); lower min_count"
            )
        if max_vocab is not None:
            items = items[:max_vocab]
        return cls([w for w, _ in items], np.array([c for _, c in items], dtype=np.int64), raw)

    def keep_probabilities(self, sample: float) -> np.ndarray:
        """Mikolov's subsampling: probability of keeping each occurrence of each word.

        ``p = (sqrt(c / t) + 1) * t / c`` capped at 1, with ``t = sample * sum(counts)``
        (word2vec.c and gensim); ``sample <= 0`` keeps everything.
        """
        if sample <= 0:
            return np.ones(len(self), dtype=np.float64)
        threshold = sample * float(self.counts.sum())
        c = self.counts.astype(np.float64)
        return np.minimum(1.0, (np.sqrt(c / threshold) + 1.0) * threshold / c)

    def negative_table(self, power: float = 0.75, size: int = 10_000_000) -> np.ndarray:
        """The unigram^power sampling table of word2vec.c: word ``i`` fills a share of ``size``
        slots proportional to ``count_i ** power``; a uniform slot index draws a negative."""
        p = self.counts.astype(np.float64) ** power
        edges = np.round(np.cumsum(p) / p.sum() * size).astype(np.int64)
        reps = np.diff(np.concatenate([[0], edges]))
        return np.repeat(np.arange(len(self), dtype=np.int32), reps)

    def save(self, path: str | os.PathLike) -> Path:
        """Writes the vocabulary as JSON (atomically)."""
        return atomic_write_json(
            path, {"words": self.words, "counts": self.counts, "raw_words": self.raw_words}
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Reads a vocabulary written by :meth:`save`."""
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(d["words"], np.array(d["counts"], dtype=np.int64), int(d["raw_words"]))


@dataclass
class EncodedCorpus:
    """The corpus as in-vocabulary word ids (``int32``, memory-mapped) and sentence boundaries.

    Out-of-vocabulary tokens are dropped before windows are taken (as word2vec.c and gensim do).

    Attributes:
        ids: word ids of all sentences, concatenated.
        offsets: ``offsets[i]`` is where sentence ``i`` starts; ``offsets[-1] == len(ids)``.
        raw_words: tokens read, in vocabulary or not.
    """

    ids: np.ndarray
    offsets: np.ndarray
    raw_words: int

    @classmethod
    def build(
        cls,
        path: str | os.PathLike,
        vocab: Vocabulary,
        cache_dir: str | os.PathLike,
        *,
        errors: str = "strict",
        max_sentence_length: int = 10000,
    ) -> EncodedCorpus:
        """Encodes the corpus at ``path`` into ``cache_dir`` (``ids.int32``, ``offsets.npy``, ``meta.json``).

        Example:
            >>> corpus = EncodedCorpus.build("corpus.txt", vocab, "runs/w2v/corpus")
        """
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        get = vocab.index.get
        lengths: list[int] = []
        raw = 0
        with atomic_path(cache_dir / "ids.int32") as tmp, open(tmp, "wb") as f:
            buf: list[np.ndarray] = []
            buffered = 0
            for sentence in iter_sentences(path, errors=errors, max_sentence_length=max_sentence_length):
                raw += len(sentence)
                ids = np.fromiter(
                    map(get, sentence, [-1] * len(sentence)), dtype=np.int32, count=len(sentence)
                )
                ids = ids[ids >= 0]
                if len(ids):
                    buf.append(ids)
                    lengths.append(len(ids))
                    buffered += len(ids)
                if buffered >= 1 << 20:
                    f.write(np.concatenate(buf).tobytes())
                    buf, buffered = [], 0
            if buf:
                f.write(np.concatenate(buf).tobytes())
        offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        with atomic_path(cache_dir / "offsets.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, offsets)
        atomic_write_json(cache_dir / "meta.json", {"raw_words": raw, "words": int(offsets[-1])})
        return cls.load(cache_dir)

    @classmethod
    def load(cls, cache_dir: str | os.PathLike) -> EncodedCorpus:
        """Opens an encoded corpus written by :meth:`build` (ids are memory-mapped, not read)."""
        cache_dir = Path(cache_dir)
        meta = json.loads((cache_dir / "meta.json").read_text())
        offsets = np.load(cache_dir / "offsets.npy")
        n = int(offsets[-1])
        ids = (
            np.memmap(cache_dir / "ids.int32", dtype=np.int32, mode="r", shape=(n,))
            if n
            else np.zeros(0, np.int32)
        )
        return cls(ids, offsets, int(meta["raw_words"]))

    def __len__(self) -> int:
        return int(self.offsets[-1])


def check_trainable(vocab: Vocabulary, window: int, negative: int) -> None:
    """Raises :class:`CorpusError` if the vocabulary is too small for ``window`` and ``negative``."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if negative < 1:
        raise ValueError(f"negative must be >= 1, got {negative}")
    need = max(window, negative) + 1
    if len(vocab) < need:
        raise CorpusError(
            f"The vocabulary has only {len(vocab)} word{'' if len(vocab) == 1 else 's'}, fewer than window={window} / negative={negative} "
            f"need ({need}); use a larger corpus or lower min_count, window or negative"
        )


def expected_centres(vocab: Vocabulary, sample: float) -> float:
    """Expected number of centre words per pass after subsampling."""
    return float((vocab.counts * vocab.keep_probabilities(sample)).sum())


def _windows(
    ids: np.ndarray, sid: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Context ids ``[n, 2*window]`` and validity mask for each position (dynamic window, same sentence)."""
    n = len(ids)
    reach = rng.integers(1, window + 1, n)
    ctx = np.zeros((n, 2 * window), dtype=np.int32)
    mask = np.zeros((n, 2 * window), dtype=bool)
    slot = 0
    for o in range(-window, window + 1):
        if o == 0:
            continue
        k = abs(o)
        if k < n:
            if o < 0:  # context before the centre: centre i >= k, context i - k
                valid = (reach[k:] >= k) & (sid[k:] == sid[:-k])
                mask[k:, slot] = valid
                ctx[k:, slot] = np.where(valid, ids[:-k], 0)
            else:
                valid = (reach[:-k] >= k) & (sid[:-k] == sid[k:])
                mask[:-k, slot] = valid
                ctx[:-k, slot] = np.where(valid, ids[k:], 0)
        slot += 1
    return ctx, mask


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _distinct(
    ids: np.ndarray, vocab_size: int, weights: np.ndarray | None, multiple: int, extra: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct words of ``ids`` (ascending, padded with word 0 to a multiple of ``multiple``
    with at least one padding entry), each id's position among them, the stable order that sorts
    those positions, and each distinct word's (weighted) count (0 for the padding entries).
    ``extra`` padding slots are appended after ``ids``; they point at the last (padding) entry."""
    present = np.bincount(ids, minlength=vocab_size) > 0
    unique = np.flatnonzero(present).astype(np.int32)
    counts = np.bincount(ids, weights=weights, minlength=vocab_size)[unique].astype(np.float32)
    size = _round_up(len(unique) + 1, multiple)
    index = (np.cumsum(present, dtype=np.int32) - 1)[ids]
    order = np.argsort(index.astype(np.uint16) if size <= 1 << 16 else index, kind="stable")
    if extra:
        index = np.concatenate([index, np.full(extra, size - 1, np.int32)])
        order = np.concatenate([order, np.arange(len(ids), len(ids) + extra)])
    pad = size - len(unique)
    return (
        np.pad(unique, (0, pad)),
        index.astype(np.int32),
        order.astype(np.int32),
        np.pad(counts, (0, pad)),
    )


def dedup_batch(
    x: dict[str, np.ndarray], vocab_size: int, mode: str, pad_multiple: int = 256
) -> dict[str, np.ndarray]:
    """Rearranges a padded batch so that each embedding row is gathered (and updated) once.

    For each table, the distinct words of the batch (``*_unique``, padded to a multiple of
    ``pad_multiple``), every slot's position among them (``*_index``), the order sorting those
    positions (``*_order``: the gradient is then a sorted segment sum, much cheaper on CPU than a
    scatter of every slot) and the (mask-weighted) count of each distinct word (``*_counts``, for
    the duplicate cap). Output table: the centre and noise words ``[B, 1+K]``. Input table:
    skip-gram keeps the ``[B, 2*window]`` context grid; CBOW packs only the valid context slots
    (``ctx_rows``: the row of each slot, ascending; padding slots point at a padding entry, whose
    vector the model zeroes, in the last row) and gives each row's context count (``ctx_count``).
    """
    center, negatives = x["center"], x["negatives"]
    b = len(center)
    out_ids = np.concatenate([center[:, None], negatives], axis=1)
    ou, oi, oo, oc = _distinct(out_ids.reshape(-1), vocab_size, None, pad_multiple)
    d = {
        "center": center,
        "negatives": negatives,
        "out_unique": ou,
        "out_index": oi.reshape(out_ids.shape),
        "out_order": oo,
        "out_counts": oc,
    }
    mask = x["context_mask"]
    if mode == "skipgram":
        cu, ci, co, cc = _distinct(x["context"].reshape(-1), vocab_size, mask.reshape(-1), pad_multiple)
        d.update(ctx_index=ci.reshape(mask.shape))
    else:
        rows, cols = np.nonzero(mask)
        n = len(rows)
        slots = _round_up(n + 1, 4 * pad_multiple)
        cu, ci, co, cc = _distinct(x["context"][rows, cols], vocab_size, None, pad_multiple, slots - n)
        d.update(
            ctx_index=ci,
            ctx_rows=np.concatenate([rows.astype(np.int32), np.full(slots - n, b - 1, np.int32)]),
            ctx_count=mask.sum(axis=1, dtype=np.float32),
        )
    d.update(ctx_unique=cu, ctx_order=co, ctx_counts=cc)
    return d


def _subsampled_chunks(
    corpus: EncodedCorpus, vocab: Vocabulary, *, sample: float, rng: np.random.Generator, chunk_words: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless passes over the corpus in chunks of whole sentences (about ``chunk_words`` words),
    each word kept with its subsampling probability: ``(ids, sentence ids)`` of the kept words,
    sentence ids counting up across chunks and passes. Raises :class:`CorpusError` after a pass
    in which no kept word has a kept neighbour in its sentence (no centre word has context)."""
    n_total = len(corpus)
    if n_total == 0:
        raise CorpusError("The encoded corpus holds no in-vocabulary words")
    keep_p = vocab.keep_probabilities(sample).astype(np.float32)
    offsets = corpus.offsets
    next_sid, pos, pairs_this_pass = 0, 0, 0
    while True:
        end_sent = int(np.searchsorted(offsets, min(pos + chunk_words, n_total), side="left"))
        end = int(offsets[end_sent])
        first_sent = int(np.searchsorted(offsets, pos, side="right")) - 1
        ids = np.asarray(corpus.ids[pos:end])
        lengths = np.diff(offsets[first_sent : end_sent + 1])
        sid = np.repeat(np.arange(next_sid, next_sid + len(lengths), dtype=np.int64), lengths)
        next_sid += len(lengths)
        keep = rng.random(len(ids), dtype=np.float32) < keep_p[ids]
        ids, sid = ids[keep], sid[keep]
        pairs_this_pass += int(np.count_nonzero(sid[1:] == sid[:-1]))
        if end >= n_total and pairs_this_pass == 0:
            raise CorpusError(
                "No centre word has a context word (every sentence has one word after subsampling); "
                "use longer lines or a smaller sample"
            )
        pos, pairs_this_pass = (0, 0) if end >= n_total else (end, pairs_this_pass)
        yield ids, sid


def training_batches(
    corpus: EncodedCorpus,
    vocab: Vocabulary,
    *,
    batch_size: int,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-3,
    mode: str = "skipgram",
    seed: int = 0,
    chunk_words: int = 1 << 20,
    table: np.ndarray | None = None,
    layout: str = "padded",
    pad_multiple: int = 256,
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Endless stream of word2vec training batches, built chunk by chunk with vectorised NumPy.

    Each row is one kept centre word with its (dynamic) window of context words and ``negative``
    noise words drawn from the unigram^0.75 table; the noise words are shared by the row's context
    words (the matrix form of Ji et al. 2016, "Parallelizing Word2Vec in Shared and Distributed
    Memory"). Rows are shuffled within a chunk; windows never cross sentences.

    Yields:
        ``(inputs, y)``: ``inputs`` holds ``center`` ``[B]``, ``context`` ``[B, 2*window]``,
        ``context_mask`` ``[B, 2*window]`` (float32, 1 = real context word) and ``negatives`` ``[B, K]``;
        ``y`` is the loss weight: the context mask for skip-gram, ones ``[B, 1]`` for CBOW.
        With ``layout="dedup"`` the same batch comes as :func:`dedup_batch` arranges it (each
        table's rows gathered once per distinct word; CBOW's context packed to its valid slots).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    check_trainable(vocab, window, negative)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    table = vocab.negative_table() if table is None else table
    rng = np.random.default_rng(seed)
    pending: list[tuple[np.ndarray, ...]] = []
    pending_rows = 0
    for ids, sid in _subsampled_chunks(corpus, vocab, sample=sample, rng=rng, chunk_words=chunk_words):
        ctx, mask = _windows(ids, sid, window, rng)
        has = mask.any(axis=1)
        ids, ctx, mask = ids[has], ctx[has], mask[has]
        perm = rng.permutation(len(ids))
        ids, ctx, mask = ids[perm], ctx[perm], mask[perm]
        neg = table[rng.integers(0, len(table), (len(ids), negative))]
        pending.append((ids, ctx, mask, neg))
        pending_rows += len(ids)
        if pending_rows < batch_size:
            continue
        ids, ctx, mask, neg = (np.concatenate(parts) for parts in zip(*pending))
        full = (len(ids) // batch_size) * batch_size
        for s in range(0, full, batch_size):
            m = mask[s : s + batch_size].astype(np.float32)
            x = {
                "center": ids[s : s + batch_size],
                "context": ctx[s : s + batch_size],
                "context_mask": m,
                "negatives": neg[s : s + batch_size],
            }
            y = m if mode == "skipgram" else np.ones((batch_size, 1), np.float32)
            if layout == "dedup":
                x = dedup_batch(x, len(vocab), mode, pad_multiple)
            yield x, y
        pending = [(ids[full:], ctx[full:], mask[full:], neg[full:])]
        pending_rows = len(ids) - full


def stream_segment(batch_size: int, segment: int) -> int:
    """Centre words per segment of a stream batch: the largest divisor of ``batch_size`` up to ``segment``."""
    return max(d for d in range(1, min(segment, batch_size) + 1) if batch_size % d == 0)


def stream_batches(
    corpus: EncodedCorpus,
    vocab: Vocabulary,
    *,
    batch_size: int,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-3,
    seed: int = 0,
    chunk_words: int = 1 << 20,
    table: np.ndarray | None = None,
    max_blocks: int = 64,
    segment: int = 32,
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Endless stream of word2vec training batches as runs of consecutive words, in groups.

    The ``"stream"`` batch layout. The subsampled corpus (passes one after another, each subsampled
    afresh) is cut into segments of ``segment`` consecutive kept words (the centre words), each
    with the ``window`` words on either side; a batch holds ``batch_size / segment`` segments
    drawn at random from a chunk of about ``chunk_words`` words (so one batch spans many
    documents, as shuffled rows would). The pipeline does no per-slot work: the model builds
    each row's context from its segment (integer gathers) and compares the sentence ids itself.
    Windows never cross sentences or segments; each centre word draws its window uniformly from
    1..window (``reach``), as in word2vec.c.

    Yields:
        ``(inputs, y)`` for ``m <= max_blocks`` batches at once: ``inputs`` holds ``tokens``
        ``[m, P, S + 2*window]`` (word ids of ``P`` segments of ``S`` centre words each; centre
        ``q`` of a batch is ``tokens[q // S, window + q % S]``), ``sentence`` (sentence ids, same
        shape, equal within a sentence; the padding before the corpus start is -1), ``reach``
        ``[m, B]`` (each centre word's window) and ``negatives`` ``[m, B, K]`` (noise words from
        the unigram^0.75 table); ``y`` is ones ``[m, B, 1]``. Slice the leading axis for one
        training batch. ``S`` is the largest divisor of ``batch_size`` up to ``segment``.
    """
    check_trainable(vocab, window, negative)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_blocks < 1:
        raise ValueError(f"max_blocks must be >= 1, got {max_blocks}")
    table = vocab.negative_table() if table is None else table
    rng = np.random.default_rng(seed)
    b = batch_size
    seg = stream_segment(b, segment)
    parts, span = b // seg, seg + 2 * window
    buf_ids = np.zeros(window, np.int32)  # the left margin before the corpus start: padding
    buf_sid = np.full(window, -1, np.int64)
    for ids, sid in _subsampled_chunks(corpus, vocab, sample=sample, rng=rng, chunk_words=chunk_words):
        buf_ids, buf_sid = np.concatenate([buf_ids, ids]), np.concatenate([buf_sid, sid])
        # Cut the buffer into segments of `seg` centres (with their margins), shuffle whole
        # batches' worth of them, and give each batch `parts` segments from all over the chunk.
        batches = (len(buf_ids) - 2 * window) // seg // parts
        starts = rng.permutation(batches * parts).reshape(batches, parts) * seg
        for first in range(0, batches, max_blocks):
            m = min(max_blocks, batches - first)
            index = starts[first : first + m, :, None] + np.arange(span)  # [m, parts, seg + 2w]
            x = {
                "tokens": buf_ids[index],
                # running sentence numbers, wrapped to int32 (runs of one batch are < 2**31 apart)
                "sentence": buf_sid[index].astype(np.int32),
                "reach": rng.integers(1, window + 1, (m, b), dtype=np.int32),
                "negatives": table[rng.integers(0, len(table), (m, b, negative))],
            }
            yield x, np.ones((m, b, 1), np.float32)
        used = batches * parts * seg
        buf_ids, buf_sid = buf_ids[used:], buf_sid[used:]
