"""Trained word vectors: queries, word2vec text/binary files, projector files, evaluation, a PCA plot.

:class:`WordVectors` is what training returns and what the word2vec files load into. Evaluation
follows gensim's ``KeyedVectors.evaluate_word_pairs`` / ``evaluate_word_analogies`` (same file
formats, same vocabulary restriction, same 3CosAdd rule) with our own Spearman and analogy code.
The benchmark files (WordSim-353, SimLex-999, the Google analogies) ship in gensim's test data;
:func:`eval_file` finds them (``pip install zoo[eval]``).

Example:
    >>> wv = WordVectors.load_word2vec_format("vectors.bin", binary=True)
    >>> wv.most_similar("king", topn=3)
    >>> wv.analogy("man", "king", "woman")            # man : king :: woman : ?
    >>> wv.evaluate_word_pairs(eval_file("wordsim353.tsv"))["spearman"]
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from zoo.utils.io import atomic_path, atomic_write_text

EVAL_FILES = {
    "wordsim353": "wordsim353.tsv",
    "simlex999": "simlex999.txt",
    "analogies": "questions-words.txt",
    "lee": "lee_background.cor",
}


class UnknownWordError(KeyError):
    """A query word that is not in the vocabulary."""

    def __str__(self) -> str:
        return str(self.args[0])


def eval_file(name: str) -> Path:
    """Path of an evaluation file shipped in gensim's test data (gensim is the ``zoo[eval]`` extra).

    Args:
        name: ``"wordsim353"``, ``"simlex999"``, ``"analogies"``, ``"lee"`` or a file name there.
    """
    try:
        from gensim.test.utils import datapath
    except ImportError as e:
        raise ImportError(
            "The evaluation files ship with gensim's test data; install the extra: pip install 'zoo[eval]'"
        ) from e
    path = Path(datapath(EVAL_FILES.get(name, name)))
    if not path.exists():
        raise FileNotFoundError(f"{path} not found in gensim's test data; known: {', '.join(EVAL_FILES)}")
    return path


def rankdata(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (scipy's ``rankdata(method="average")``)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # Positions where a new value starts; each tie group gets the mean of its 1-based positions.
    starts = np.concatenate([[True], xs[1:] != xs[:-1]])
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.concatenate([first[1:], [len(x)]]) - 1
    avg = (first + last) / 2.0 + 1.0
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = avg[group]
    return ranks


def pearson(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Pearson correlation coefficient (NaN if either input is constant or shorter than 2)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    if len(x) < 2:
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    denom = np.sqrt((xc * xc).sum() * (yc * yc).sum())
    return float((xc * yc).sum() / denom) if denom > 0 else float("nan")


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation: Pearson correlation of average ranks."""
    return pearson(rankdata(x), rankdata(y))


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


class WordVectors:
    """Words and their vectors (row ``i`` of ``vectors`` belongs to ``words[i]``, most frequent first).

    Example:
        >>> wv = WordVectors(["a", "b"], np.eye(2, dtype="float32"))
        >>> wv.similarity("a", "b")
        0.0
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"vectors must be [len(words)={len(words)}, dim], got shape {vectors.shape}")
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            i = int(np.argmin(finite))
            raise ValueError(f"The vector of word {i} ({words[i]!r}) has NaN or inf values")
        self.words = list(words)
        self.vectors = vectors
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("words contain duplicates")
        self._unit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.key(word)]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def unit_vectors(self) -> np.ndarray:
        """Rows scaled to unit length (cached)."""
        if self._unit is None:
            self._unit = _unit(self.vectors)
        return self._unit

    def key(self, word: str) -> int:
        """Row of ``word``; raises :class:`UnknownWordError` (with close matches) if absent."""
        try:
            return self.index[word]
        except KeyError:
            close = difflib.get_close_matches(str(word).lower(), self.words[:20000], n=3)
            hint = f" Close: {', '.join(close)}." if close else ""
            raise UnknownWordError(
                f"Word {word!r} is not in the vocabulary ({len(self)} words).{hint}"
            ) from None

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        u = self.unit_vectors
        return float(u[self.key(a)] @ u[self.key(b)])

    def most_similar(
        self,
        positive: str | Iterable[str] = (),
        negative: str | Iterable[str] = (),
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Words closest (cosine) to the mean of the unit ``positive`` minus ``negative`` vectors.

        The query words themselves are left out, as in gensim.

        Example:
            >>> wv.most_similar(positive=["woman", "king"], negative=["man"], topn=1)
            [('queen', 0.71)]
        """
        positive = [positive] if isinstance(positive, str) else list(positive)
        negative = [negative] if isinstance(negative, str) else list(negative)
        if not positive and not negative:
            raise ValueError("most_similar needs at least one positive or negative word")
        if isinstance(topn, bool) or not isinstance(topn, (int, np.integer)) or topn < 0:
            raise ValueError(f"topn must be an integer >= 0, got {topn!r}")
        u = self.unit_vectors
        rows = [self.key(w) for w in positive] + [self.key(w) for w in negative]
        weights = np.array([1.0] * len(positive) + [-1.0] * len(negative), dtype=np.float32)
        query = _unit((weights[:, None] * u[rows]).mean(axis=0))
        limit = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        scores = u[:limit] @ query
        scores[[r for r in rows if r < limit]] = -np.inf
        top = np.argsort(-scores)[: max(0, topn)]
        return [(self.words[i], float(scores[i])) for i in top if np.isfinite(scores[i])]

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list[tuple[str, float]]:
        """``a`` is to ``b`` as ``c`` is to ?  (3CosAdd: nearest to ``b - a + c``, inputs excluded).

        Example:
            >>> wv.analogy("man", "king", "woman")
            [('queen', 0.71)]
        """
        return self.most_similar(positive=[b, c], negative=[a], topn=topn)

    # ---------------------------------------------------------------- files
    def save_word2vec_format(self, path: str | os.PathLike, binary: bool = False) -> Path:
        """Writes the word2vec.c format (``"V dim"`` header; text rows, or word + float32 bytes), atomically."""
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            f.write(f"{len(self)} {self.dim}\n".encode())
            if binary:
                vecs = self.vectors.astype("<f4")
                for w, v in zip(self.words, vecs):
                    f.write(w.encode("utf-8") + b" " + v.tobytes() + b"\n")
            else:
                for w, v in zip(self.words, self.vectors):
                    f.write((w + " " + " ".join(f"{x:.6f}" for x in v) + "\n").encode("utf-8"))
        return path

    @classmethod
    def load_word2vec_format(cls, path: str | os.PathLike, binary: bool = False) -> WordVectors:
        """Reads the word2vec.c text or binary format (as written by word2vec.c, gensim or us)."""
        path = Path(path)
        with open(path, "rb") as f:
            header = f.readline().split()
            if len(header) != 2:
                raise ValueError(f"{path}: first line must be '<vocab_size> <dim>', got {header!r}")
            n, dim = int(header[0]), int(header[1])
            words: list[str] = []
            vecs = np.empty((n, dim), dtype=np.float32)
            for i in range(n):
                if binary:
                    word = bytearray()
                    while (ch := f.read(1)) != b" ":
                        if not ch:
                            raise ValueError(f"{path}: file ends inside word {i}")
                        if ch != b"\n":
                            word += ch
                    data = f.read(4 * dim)
                    if len(data) != 4 * dim:
                        raise ValueError(f"{path}: file ends inside vector {i}")
                    vecs[i] = np.frombuffer(data, dtype="<f4")
                    words.append(word.decode("utf-8"))
                else:
                    parts = f.readline().decode("utf-8").rstrip("\n").split(" ")
                    if len(parts) != dim + 1:
                        raise ValueError(f"{path}: line {i + 2} has {len(parts) - 1} values, expected {dim}")
                    words.append(parts[0])
                    vecs[i] = np.asarray(parts[1:], dtype=np.float32)
        return cls(words, vecs)

    def save_projector(self, folder: str | os.PathLike, limit: int | None = None) -> tuple[Path, Path]:
        """Writes TensorBoard/Embedding Projector files ``vectors.tsv`` and ``metadata.tsv`` into ``folder``.

        Load them at https://projector.tensorflow.org ("Load") or with TensorBoard's projector plugin.
        """
        folder = Path(folder)
        n = len(self) if limit is None else min(limit, len(self))
        rows = "\n".join("\t".join(f"{x:.6f}" for x in v) for v in self.vectors[:n])
        vec = atomic_write_text(folder / "vectors.tsv", rows + "\n")
        meta = atomic_write_text(folder / "metadata.tsv", "\n".join(self.words[:n]) + "\n")
        return vec, meta

    # ---------------------------------------------------------------- evaluation
    def _restricted(self, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
        limit = min(restrict_vocab, len(self))
        if not case_insensitive:
            return {w: i for i, w in enumerate(self.words[:limit])}
        index: dict[str, int] = {}
        for i, w in enumerate(self.words[:limit]):  # first (most frequent) spelling wins, as in gensim
            index.setdefault(w.upper(), i)
        return index

    def evaluate_word_pairs(
        self,
        pairs: str | os.PathLike,
        delimiter: str = "\t",
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
    ) -> dict[str, float]:
        """Correlation of cosine similarity with human scores (WordSim-353, SimLex-999), like gensim.

        Lines starting with ``#`` are skipped; pairs with a word outside the ``restrict_vocab`` most
        frequent words are left out and counted in ``oov_ratio`` (percent).

        Returns:
            ``{"pearson", "spearman", "oov_ratio", "pairs", "evaluated"}``.
        """
        index = self._restricted(restrict_vocab, case_insensitive)
        u = self.unit_vectors
        sims, gold = [], []
        total = oov = 0
        with open(pairs, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                parts = line.rstrip("\n").split(delimiter)
                if len(parts) < 3:
                    raise ValueError(
                        f"{pairs}: expected 'word1{delimiter}word2{delimiter}score', got {line!r}"
                    )
                a, b = parts[0], parts[1]
                if case_insensitive:
                    a, b = a.upper(), b.upper()
                total += 1
                if a not in index or b not in index:
                    oov += 1
                    continue
                sims.append(float(u[index[a]] @ u[index[b]]))
                gold.append(float(parts[2]))
        return {
            "pearson": pearson(sims, gold),
            "spearman": spearman(sims, gold),
            "oov_ratio": 100.0 * oov / max(total, 1),
            "pairs": total,
            "evaluated": len(sims),
        }

    def evaluate_word_analogies(
        self, analogies: str | os.PathLike, restrict_vocab: int = 300000, case_insensitive: bool = True
    ) -> dict[str, object]:
        """Accuracy on ``a b c d`` analogy questions (the Google ``questions-words.txt``), like gensim.

        A question counts only if all four words are among the ``restrict_vocab`` most frequent;
        the answer is the nearest word to ``b - a + c`` (unit vectors) among those, inputs excluded.

        Returns:
            ``{"accuracy", "correct", "total", "questions", "sections": [{"section", "correct",
            "total", "accuracy"}, ...]}`` (``total``: questions answered; ``questions``: in the file).
        """
        index = self._restricted(restrict_vocab, case_insensitive)
        limit = min(restrict_vocab, len(self))
        u = self.unit_vectors[:limit]
        sections: list[dict[str, object]] = []
        quads: dict[str, list[tuple[int, int, int, int]]] = {}
        questions = 0
        with open(analogies, encoding="utf-8") as f:
            for line in f:
                if line.startswith(":"):
                    name = line[1:].strip()
                    quads.setdefault(name, [])
                    continue
                if not line.strip():
                    continue
                if not quads:
                    raise ValueError(f"{analogies}: questions must follow a ': section' line")
                words = line.split()
                if len(words) != 4:
                    raise ValueError(f"{analogies}: expected 4 words per question, got {line!r}")
                questions += 1
                if case_insensitive:
                    words = [w.upper() for w in words]
                if all(w in index for w in words):
                    quads[name].append(tuple(index[w] for w in words))  # type: ignore[arg-type]
        correct_all = total_all = 0
        for name, qs in quads.items():
            correct = 0
            if qs:
                q = np.array(qs, dtype=np.int64)
                for s in range(0, len(q), 1024):
                    block = q[s : s + 1024]
                    query = _unit(u[block[:, 1]] - u[block[:, 0]] + u[block[:, 2]])
                    scores = query @ u.T
                    rows = np.arange(len(block))
                    for k in range(3):
                        scores[rows, block[:, k]] = -np.inf
                    correct += int((scores.argmax(axis=1) == block[:, 3]).sum())
            sections.append(
                {
                    "section": name,
                    "correct": correct,
                    "total": len(qs),
                    "accuracy": correct / len(qs) if qs else 0.0,
                }
            )
            correct_all += correct
            total_all += len(qs)
        return {
            "accuracy": correct_all / total_all if total_all else 0.0,
            "correct": correct_all,
            "total": total_all,
            "questions": questions,
            "sections": sections,
        }

    def evaluate(self, restrict_vocab: int = 300000) -> dict[str, object]:
        """WordSim-353 and SimLex-999 correlations and Google analogy accuracy (needs ``zoo[eval]``)."""
        analog = self.evaluate_word_analogies(eval_file("analogies"), restrict_vocab=restrict_vocab)
        return {
            "wordsim353": self.evaluate_word_pairs(eval_file("wordsim353"), restrict_vocab=restrict_vocab),
            "simlex999": self.evaluate_word_pairs(eval_file("simlex999"), restrict_vocab=restrict_vocab),
            "analogies": {k: v for k, v in analog.items() if k != "sections"},
        }

    # ---------------------------------------------------------------- plot
    def plot(
        self,
        words: Sequence[str],
        path: str | os.PathLike,
        pairs: Sequence[tuple[str, str]] = (),
        title: str = "",
    ) -> Path:
        """2-D PCA of the chosen words' vectors, saved as PNG; ``pairs`` are drawn as arrows
        (the course's male-female, verb-tense, country-capital pictures).

        Example:
            >>> wv.plot(["man", "woman", "king", "queen"], "pca.png", pairs=[("man", "woman"), ("king", "queen")])
        """
        from zoo.utils.plots import pyplot, save_figure

        names = list(dict.fromkeys(list(words) + [w for p in pairs for w in p]))
        if len(names) < 2:
            raise ValueError("plot needs at least two words")
        x = np.stack([self[w] for w in names]).astype(np.float64)
        x -= x.mean(axis=0)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        xy = x @ vt[:2].T
        if xy.shape[1] < 2:
            xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
        pos = dict(zip(names, xy))
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 5))
        ax.scatter(xy[:, 0], xy[:, 1], s=14)
        for w, (px, py) in pos.items():
            ax.annotate(w, (px, py), xytext=(3, 3), textcoords="offset points", fontsize=9)
        for a, b in pairs:
            ax.annotate(
                "",
                xy=pos[b],
                xytext=pos[a],
                arrowprops={"arrowstyle": "->", "color": "tab:red", "alpha": 0.6},
            )
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.set_title(title or "word vectors (PCA)")
        ax.grid(alpha=0.3)
        return save_figure(fig, path)
