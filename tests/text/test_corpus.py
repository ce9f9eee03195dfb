"""Tests for zoo.text.corpus: tokeniser, streaming, vocabulary, subsampling, negatives, batches."""

import numpy as np
import pytest

from zoo.text.corpus import (
    CorpusError,
    EncodedCorpus,
    Vocabulary,
    check_trainable,
    expected_centres,
    iter_sentences,
    stream_batches,
    tokenize,
    training_batches,
)


def test_tokenize_lowercases_and_keeps_inner_apostrophes():
    assert tokenize("Don't PANIC: 42 towels!  Ünïcode_ok") == [
        "don't",
        "panic",
        "42",
        "towels",
        "ünïcode",
        "ok",
    ]


def test_iter_sentences_streams_a_folder_and_splits_long_lines(tmp_path):
    (tmp_path / "b.txt").write_text("c d\n")
    (tmp_path / "a.txt").write_text("A b\n\nx y z w\n")
    (tmp_path / ".hidden").write_text("never read\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "c.txt").write_text("e\n")
    assert list(iter_sentences(tmp_path)) == [["a", "b"], ["x", "y", "z", "w"], ["c", "d"], ["e"]]
    assert list(iter_sentences(tmp_path / "a.txt", max_sentence_length=3)) == [
        ["a", "b"],
        ["x", "y", "z"],
        ["w"],
    ]


def test_non_utf8_is_an_error_naming_file_and_line_unless_replaced(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"good line\ncaf\xe9 noir\n")
    with pytest.raises(CorpusError, match=r"latin1.txt:2: not valid UTF-8.*0xe9"):
        list(iter_sentences(path))
    # "replace": the bad byte becomes U+FFFD, a separator; "ignore": it is dropped.
    assert list(iter_sentences(path, errors="replace"))[1] == ["caf", "noir"]
    assert list(iter_sentences(path, errors="ignore"))[1] == ["caf", "noir"]
    with pytest.raises(ValueError, match="errors must be"):
        list(iter_sentences(path, errors="bogus"))


def test_empty_or_missing_corpus_is_a_clear_error(tmp_path):
    (tmp_path / "empty.txt").write_text("  ,,, !!\n\n")
    with pytest.raises(CorpusError, match="empty"):
        Vocabulary.build(iter_sentences(tmp_path / "empty.txt"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(CorpusError, match="holds no files"):
        list(iter_sentences(tmp_path / "folder"))
    with pytest.raises(CorpusError, match="does not exist"):
        list(iter_sentences(tmp_path / "nope.txt"))
    with pytest.raises(CorpusError, match="lower min_count"):
        Vocabulary.build([["a", "b"]], min_count=2)


def test_vocabulary_min_count_max_vocab_and_order(tmp_path):
    sents = [["b", "a", "c", "a"], ["b", "a", "d"], ["c", "b"]]
    v = Vocabulary.build(sents, min_count=2)
    # Most frequent first; ties ("b" and "a", 3 each) in order of first appearance.
    assert v.words == ["b", "a", "c"] and v.counts.tolist() == [3, 3, 2] and v.raw_words == 9
    assert Vocabulary.build(sents, min_count=1, max_vocab=2).words == ["b", "a"]
    v.save(tmp_path / "v.json")
    w = Vocabulary.load(tmp_path / "v.json")
    assert w.words == v.words and w.counts.tolist() == v.counts.tolist() and w.raw_words == 9


def test_keep_probabilities_follow_mikolov_formula():
    v = Vocabulary(["the", "cat", "sat"], np.array([9000, 900, 100]), 10000)
    t = 1e-3 * 10000  # word2vec.c: (sqrt(cn / (sample * train_words)) + 1) * (sample * train_words) / cn
    expected = [min(1.0, (np.sqrt(c / t) + 1) * t / c) for c in (9000, 900, 100)]
    np.testing.assert_allclose(v.keep_probabilities(1e-3), expected)
    assert v.keep_probabilities(1e-2)[2] == 1.0 and v.keep_probabilities(0).tolist() == [1, 1, 1]
    assert expected_centres(v, 0) == 10000


def test_negative_table_is_unigram_to_the_three_quarters():
    counts = np.array([1000, 100, 10, 1])
    v = Vocabulary(list("abcd"), counts, int(counts.sum()))
    table = v.negative_table(size=1_000_000)
    freq = np.bincount(table, minlength=4) / len(table)
    p = counts**0.75 / (counts**0.75).sum()
    np.testing.assert_allclose(freq, p, atol=2e-6)


def test_vocabulary_smaller_than_window_or_negatives_is_rejected():
    v = Vocabulary(list("abc"), np.array([5, 4, 3]), 12)
    with pytest.raises(CorpusError, match="only 3 words.*negative=5"):
        check_trainable(v, window=2, negative=5)
    with pytest.raises(CorpusError, match="window=8"):
        check_trainable(v, window=8, negative=1)
    check_trainable(v, window=2, negative=2)


def _write(tmp_path, lines):
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_encoded_corpus_drops_unknown_words_and_keeps_sentence_bounds(tmp_path):
    path = _write(tmp_path, ["a b zz a", "zz", "b a"])
    v = Vocabulary(["a", "b"], np.array([3, 2]), 7)
    enc = EncodedCorpus.build(path, v, tmp_path / "cache")
    assert enc.ids.tolist() == [0, 1, 0, 1, 0] and enc.offsets.tolist() == [0, 3, 5] and enc.raw_words == 7
    again = EncodedCorpus.load(tmp_path / "cache")
    assert again.ids.tolist() == enc.ids.tolist()


def _unique_corpus(tmp_path):
    """Sentences of 7, 1, 12, 5 and 9 words, every token unique, so a word's id is its corpus
    position: windows can be checked against plain indexing. Returns vocabulary, corpus and each
    position's sentence."""
    sentences = [[f"w{s}x{i}" for i in range(n)] for s, n in enumerate([7, 1, 12, 5, 9])]
    path = _write(tmp_path, [" ".join(s) for s in sentences])
    words = [w for s in sentences for w in s]
    v = Vocabulary(words, np.ones(len(words), np.int64), len(words))
    enc = EncodedCorpus.build(path, v, tmp_path / "cache")
    return v, enc, np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])


def test_batches_hold_exactly_the_dynamic_window_within_sentences(tmp_path):
    v, enc, sentence_of = _unique_corpus(tmp_path)
    sent_of = dict(enumerate(sentence_of.tolist()))
    window, k = 3, 4
    stream = training_batches(
        enc, v, batch_size=8, window=window, negative=k, sample=0, seed=3, table=np.arange(len(v))
    )
    seen_reach = set()
    for _ in range(30):
        x, y = next(stream)
        assert x["context"].shape == (8, 6) and x["negatives"].shape == (8, k) and y.shape == (8, 6)
        np.testing.assert_array_equal(y, x["context_mask"])
        for c, ctx, m in zip(x["center"], x["context"], x["context_mask"]):
            offsets = [o for o in range(-window, window + 1) if o]
            got = {int(i) - int(c) for i, mm in zip(ctx, m) if mm}
            assert got, "a row without context"
            assert all(sent_of[int(c) + o] == sent_of[int(c)] for o in got)
            reach = max(abs(o) for o in got)
            seen_reach.add(reach)
            # With reach r, every in-sentence position within r is a context (the window is contiguous).
            want = {
                o
                for o in offsets
                if abs(o) <= reach and (int(c) + o) in sent_of and sent_of[int(c) + o] == sent_of[int(c)]
            }
            assert got == want
    assert seen_reach == {1, 2, 3}
    # One-word sentences never appear as centres (no context).
    assert 7 not in np.concatenate([next(stream)[0]["center"] for _ in range(20)])


def test_cbow_batches_weights_and_errors(tmp_path):
    path = _write(tmp_path, ["a b c d e f"] * 20)
    v = Vocabulary.build(iter_sentences(path), min_count=1)
    enc = EncodedCorpus.build(path, v, tmp_path / "cache")
    x, y = next(training_batches(enc, v, batch_size=16, window=2, negative=3, mode="cbow"))
    assert y.shape == (16, 1) and (y == 1).all() and x["center"].dtype == np.int32
    with pytest.raises(ValueError, match="mode"):
        next(training_batches(enc, v, batch_size=16, mode="glove"))
    one = _write(tmp_path, ["a", "b", "c", "d", "e", "f", "g"])
    v1 = Vocabulary.build(iter_sentences(one), min_count=1)
    enc1 = EncodedCorpus.build(one, v1, tmp_path / "cache1")
    with pytest.raises(CorpusError, match="No centre word has a context"):
        next(training_batches(enc1, v1, batch_size=4, window=2, negative=2, sample=0))


def test_dedup_layout_structure(tmp_path):
    """dedup batches: distinct words once, order sorts the positions, counts, packed CBOW slots."""
    from zoo.text.corpus import dedup_batch

    rng = np.random.default_rng(0)
    v = 50
    x = {
        "center": rng.integers(0, v, 64).astype(np.int32),
        "context": rng.integers(0, v, (64, 6)).astype(np.int32),
        "context_mask": (rng.random((64, 6)) < 0.6).astype(np.float32),
        "negatives": rng.integers(0, v, (64, 3)).astype(np.int32),
    }
    for mode in ("skipgram", "cbow"):
        d = dedup_batch(x, v, mode, pad_multiple=16)
        out_ids = np.concatenate([x["center"][:, None], x["negatives"]], 1)
        assert len(d["out_unique"]) % 16 == 0 and len(d["out_unique"]) > len(np.unique(out_ids))
        np.testing.assert_array_equal(d["out_unique"][d["out_index"]], out_ids)
        assert (np.diff(d["out_index"].reshape(-1)[d["out_order"]]) >= 0).all()
        np.testing.assert_array_equal(
            d["out_counts"][: len(np.unique(out_ids))], np.bincount(out_ids.ravel())[np.unique(out_ids)]
        )
        assert (np.diff(d["ctx_index"].reshape(-1)[d["ctx_order"]]) >= 0).all()
        mask = x["context_mask"] > 0
        if mode == "skipgram":
            np.testing.assert_array_equal(d["ctx_unique"][d["ctx_index"]], x["context"])
            assert d["ctx_counts"].sum() == mask.sum()
        else:
            n = int(mask.sum())
            np.testing.assert_array_equal(d["ctx_unique"][d["ctx_index"][:n]], x["context"][mask])
            assert len(d["ctx_index"]) % 64 == 0 and len(d["ctx_index"]) > n
            assert (np.diff(d["ctx_rows"]) >= 0).all() and d["ctx_rows"][-1] == 63
            assert (d["ctx_counts"][d["ctx_index"][n:]] == 0).all()  # padding slots: count 0
            np.testing.assert_array_equal(d["ctx_count"], mask.sum(1))


def test_stream_batches_are_runs_of_the_subsampled_corpus(tmp_path):
    v, enc, sent_of = _unique_corpus(tmp_path)
    window, k, b, seg = 3, 4, 8, 4
    stream = stream_batches(
        enc, v, batch_size=b, window=window, negative=k, sample=0, seed=3, table=np.arange(len(v)),
        segment=seg,
    )  # fmt: skip
    centres, reach_seen, batches = [], set(), 0
    while batches < 34:  # 34 batches of 8 = 8 passes over the 34 words
        x, y = next(stream)
        m = len(y)
        assert x["tokens"].shape == x["sentence"].shape == (m, b // seg, seg + 2 * window)
        assert x["reach"].shape == (m, b) and x["negatives"].shape == (m, b, k) and y.shape == (m, b, 1)
        assert x["tokens"].dtype == x["sentence"].dtype == x["reach"].dtype == np.int32
        for tokens, sentence in zip(
            x["tokens"].reshape(-1, seg + 2 * window), x["sentence"].reshape(-1, seg + 2 * window)
        ):
            for a in range(len(tokens) - 1):
                if sentence[a] == -1:  # the padding before the corpus start
                    assert tokens[a] == 0 and batches == 0
                elif sentence[a] == sentence[a + 1]:  # same sentence: consecutive corpus words
                    assert tokens[a + 1] == tokens[a] + 1 and sent_of[tokens[a]] == sent_of[tokens[a + 1]]
                elif tokens[a + 1] == tokens[a] + 1:  # a new sentence starts (or a new pass)
                    assert sent_of[tokens[a]] != sent_of[tokens[a + 1]]
            centres += list(tokens[window : window + seg])
        reach_seen |= set(np.unique(x["reach"]))
        batches += m
    # Each pass gives every word one turn as a centre word (up to the runs still buffered).
    counts = np.bincount(centres, minlength=len(v))
    assert counts.max() - counts.min() <= 2 and counts.sum() == len(centres) >= 8 * 34
    assert reach_seen == {1, 2, 3}


def test_stream_batches_errors(tmp_path):
    one = _write(tmp_path, ["a", "b", "c", "d", "e", "f", "g"])
    v1 = Vocabulary.build(iter_sentences(one), min_count=1)
    enc1 = EncodedCorpus.build(one, v1, tmp_path / "cache1")
    with pytest.raises(CorpusError, match="No centre word has a context"):
        next(stream_batches(enc1, v1, batch_size=4, window=2, negative=2, sample=0))
    with pytest.raises(ValueError, match="batch_size"):
        next(stream_batches(enc1, v1, batch_size=0, window=2, negative=2))
    with pytest.raises(CorpusError, match="fewer than window"):
        next(stream_batches(enc1, v1, batch_size=4, window=9, negative=2))
