"""Tests for zoo.text.vectors: queries, word2vec files, projector files, evaluation vs gensim, plot."""

import numpy as np
import pytest

from zoo.text.vectors import UnknownWordError, WordVectors, pearson, rankdata, spearman


def _toy():
    # man -> woman and king -> queen share the same offset: the analogy must find queen.
    words = ["man", "woman", "king", "queen", "apple", "pear"]
    vecs = np.array(
        [[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 3, 0], [1, 1, 3, 0], [0, 0, 0, 5], [0, 0.2, 0, 5]],
        dtype="float32",
    )
    return WordVectors(words, vecs)


def test_rank_and_correlations_match_scipy(rng):
    stats = pytest.importorskip("scipy.stats")
    x = rng.integers(0, 6, 40).astype(float)  # many ties
    y = x + rng.normal(0, 2, 40)
    np.testing.assert_allclose(rankdata(x), stats.rankdata(x))
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3]))


def test_analogy_most_similar_and_unknown_words():
    wv = _toy()
    assert wv.analogy("man", "king", "woman")[0][0] == "queen"
    assert wv.most_similar("apple", topn=1)[0][0] == "pear"
    assert len(wv.most_similar("apple", topn=10)) == 5  # everything but the query word
    assert "apple" not in [w for w, _ in wv.most_similar("apple")]
    with pytest.raises(UnknownWordError, match="'quen' is not in the vocabulary.*Close: queen"):
        wv.analogy("man", "king", "quen")
    with pytest.raises(ValueError, match="at least one"):
        wv.most_similar()


def test_word2vec_text_and_binary_round_trip_and_load_in_gensim(tmp_path, rng):
    kv_mod = pytest.importorskip("gensim.models")
    words = ["the", "café", "naïve", "x"]
    wv = WordVectors(words, rng.normal(size=(4, 7)).astype("float32"))
    for binary in (False, True):
        path = wv.save_word2vec_format(tmp_path / f"v.{int(binary)}", binary=binary)
        ours = WordVectors.load_word2vec_format(path, binary=binary)
        theirs = kv_mod.KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert ours.words == words and list(theirs.index_to_key) == words
        np.testing.assert_allclose(ours.vectors, wv.vectors, atol=1e-6 if not binary else 0)
        np.testing.assert_allclose(theirs.vectors, wv.vectors, atol=1e-6 if not binary else 0)
        # And files gensim writes load in ours.
        theirs.save_word2vec_format(str(tmp_path / "g"), binary=binary)
        again = WordVectors.load_word2vec_format(tmp_path / "g", binary=binary)
        assert again.words == words
        np.testing.assert_allclose(again.vectors, wv.vectors, atol=1e-5)


def test_projector_files(tmp_path):
    vec, meta = _toy().save_projector(tmp_path / "proj")
    rows = vec.read_text().splitlines()
    assert len(rows) == 6 and rows[1].split("\t") == ["1.000000", "1.000000", "0.000000", "0.000000"]
    assert meta.read_text().splitlines() == ["man", "woman", "king", "queen", "apple", "pear"]


def _eval_vocabulary(gensim_utils):
    words = []
    for name in ("wordsim353.tsv", "simlex999.txt"):
        with open(gensim_utils.datapath(name), encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    words += [w.lower() for w in line.split("\t")[:2]]
    sections = {}
    with open(gensim_utils.datapath("questions-words.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(":"):
                name = line[1:].strip()
                sections[name] = []
            else:
                sections[name].append(line.lower().split())
    return list(dict.fromkeys(words)), sections


def test_evaluation_matches_gensim(rng):
    gensim_utils = pytest.importorskip("gensim.test.utils")
    from gensim.models import KeyedVectors

    pair_words, sections = _eval_vocabulary(gensim_utils)
    pair_words = pair_words[: int(len(pair_words) * 0.8)]  # some pairs fall out of vocabulary
    # Countries and capitals with a shared offset (plus noise): a non-trivial share of analogies is right.
    caps = sections["capital-common-countries"]
    capitals, countries = zip(*{(q[0], q[1]) for q in caps})
    dim = 20
    offset = rng.normal(size=dim)
    vecs = {c: rng.normal(size=dim) for c in countries}
    vecs.update({cap: vecs[c] + offset + rng.normal(0, 0.6, dim) for cap, c in zip(capitals, countries)})
    family = {w for q in sections["family"] for w in q}
    words = list(dict.fromkeys(list(vecs) + sorted(family) + pair_words))
    matrix = np.stack([vecs[w] if w in vecs else rng.normal(size=dim) for w in words]).astype("float32")
    ours = WordVectors(words, matrix)
    theirs = KeyedVectors(dim)
    theirs.add_vectors(words, matrix)
    for name in ("wordsim353.tsv", "simlex999.txt"):
        path = gensim_utils.datapath(name)
        mine = ours.evaluate_word_pairs(path)
        (p, _), (s, _), oov = theirs.evaluate_word_pairs(path)
        assert mine["pearson"] == pytest.approx(p, abs=1e-5)
        assert mine["spearman"] == pytest.approx(s, abs=1e-5)
        assert mine["oov_ratio"] == pytest.approx(oov)
    path = gensim_utils.datapath("questions-words.txt")
    for restrict in (300000, 60):
        mine = ours.evaluate_word_analogies(path, restrict_vocab=restrict)
        score, their_sections = theirs.evaluate_word_analogies(path, restrict_vocab=restrict)
        assert mine["accuracy"] == pytest.approx(score)
        their_total = their_sections[-1]
        assert mine["correct"] == len(their_total["correct"]) and mine["total"] == mine["correct"] + len(
            their_total["incorrect"]
        )
    assert 0.1 < ours.evaluate_word_analogies(path)["sections"][0]["accuracy"] < 1.0


def test_plot_writes_a_png(tmp_path):
    path = _toy().plot(["apple", "pear"], tmp_path / "pca.png", pairs=[("man", "woman"), ("king", "queen")])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UnknownWordError):
        _toy().plot(["apple", "banana"], tmp_path / "x.png")
