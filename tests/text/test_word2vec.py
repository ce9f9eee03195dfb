"""Tests for zoo.text.word2vec: loss and logits against NumPy, saving, a tiny training run, resuming."""

import json
import math

import keras
import numpy as np
import pytest

from zoo.text.corpus import CorpusError
from zoo.text.word2vec import (
    NegativeSamplingLoss,
    Word2VecConfig,
    Word2VecModel,
    negative_sampling_loss,
    train_word2vec,
)


def _log_sigmoid(x):
    return -np.log1p(np.exp(-x))


def test_loss_matches_numpy_reference(rng):
    logits = rng.normal(0, 3, (4, 6, 1 + 5)).astype("float32")
    weights = (rng.random((4, 6)) < 0.7).astype("float32")
    want = -(weights * (_log_sigmoid(logits[..., 0]) + _log_sigmoid(-logits[..., 1:]).sum(-1))).sum(-1)
    got = keras.ops.convert_to_numpy(negative_sampling_loss(weights, logits))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    total = keras.ops.convert_to_numpy(NegativeSamplingLoss()(weights, logits))
    assert total == pytest.approx(want.sum(), rel=1e-5)  # summed over the batch, not averaged


def _batch(rng, b=5, s=4, k=3, v=20):
    x = {
        "center": rng.integers(0, v, b).astype("int32"),
        "context": rng.integers(0, v, (b, s)).astype("int32"),
        "context_mask": (rng.random((b, s)) < 0.7).astype("float32"),
        "negatives": rng.integers(0, v, (b, k)).astype("int32"),
    }
    x["context_mask"][:, 0] = 1
    x["negatives"][0, 1] = x["center"][0]  # a noise word equal to the centre word is masked
    return x


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_logits_match_numpy_reference(mode, rng):
    model = Word2VecModel(20, 8, mode, seed=1)
    model.build()
    w_in = rng.normal(size=(20, 8)).astype("float32")
    w_out = rng.normal(size=(20, 8)).astype("float32")
    model.word_embedding.embeddings.assign(w_in)
    model.context_embedding.embeddings.assign(w_out)
    x = _batch(rng)
    got = keras.ops.convert_to_numpy(model(x))
    outs = w_out[np.concatenate([x["center"][:, None], x["negatives"]], 1)]  # [B, 1+K, d]
    if mode == "skipgram":
        want = np.einsum("bsd,bkd->bsk", w_in[x["context"]], outs)
    else:
        m = x["context_mask"]
        hidden = (w_in[x["context"]] * m[..., None]).sum(1) / m.sum(1, keepdims=True)
        want = np.einsum("bd,bkd->bk", hidden, outs)[:, None, :]
    want[0, :, 2] = -30.0  # negatives[0, 1] == centre[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_model_config_and_save_round_trip(tmp_path, rng):
    model = Word2VecModel(20, 8, "cbow", seed=3)
    model.build()
    x = _batch(rng)
    model.save(tmp_path / "w2v.keras")
    again = keras.models.load_model(tmp_path / "w2v.keras")
    assert again.get_config()["mode"] == "cbow" and again.get_config()["vocab_size"] == 20
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6
    )


def _topic_corpus(path, n_lines=200, seed=0):
    """Two topics whose words never share a sentence: training must separate them."""
    rng = np.random.default_rng(seed)
    topics = [[f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)]]
    lines = [" ".join(rng.choice(topics[i % 2], 8)) for i in range(n_lines)]
    path.write_text("\n".join(lines) + "\n")
    return topics


@pytest.mark.multibackend
@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_tiny_training_separates_topics_and_writes_outputs(mode, tmp_path):
    _topic_corpus(tmp_path / "c.txt")
    config = Word2VecConfig(
        mode=mode, dim=16, window=3, negative=4, min_count=1, epochs=3, batch_size=32, sample=0
    )
    wv, report = train_word2vec(tmp_path / "c.txt", tmp_path / "run", config, verbose=0)
    # Each word's nine nearest neighbours are (nearly all) its own topic's other words.
    same = [w2[0] == w[0] for w in wv.words for w2, _ in wv.most_similar(w, topn=9)]
    assert np.mean(same) > 0.9, np.mean(same)
    # 50 batches of 32 centre words, rounded up to whole executions of 8 steps
    assert report["vocab_size"] == 20 and report["raw_words"] == 1600 and report["steps_per_epoch"] == 50
    assert len(report["epoch_seconds"]) == 3 and report["words_per_second"] > 0
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert saved["config"]["mode"] == mode
    for name in (
        "vectors.txt",
        "vectors.bin",
        "projector/vectors.tsv",
        "projector/metadata.tsv",
        "last.weights.h5",
    ):
        assert (tmp_path / "run" / name).exists(), name


def test_outputs_load_in_gensim(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    _topic_corpus(tmp_path / "c.txt", n_lines=40)
    config = Word2VecConfig(dim=8, window=2, negative=2, min_count=1, epochs=1, batch_size=64, sample=0)
    wv, _ = train_word2vec(tmp_path / "c.txt", tmp_path / "run", config, verbose=0)
    for name, binary in (("vectors.txt", False), ("vectors.bin", True)):
        kv = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "run" / name), binary=binary)
        assert list(kv.index_to_key) == wv.words
        np.testing.assert_allclose(kv.vectors, wv.vectors, atol=1e-6)


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_from_the_last_epoch(tmp_path):
    _topic_corpus(tmp_path / "c.txt", n_lines=40)
    config = Word2VecConfig(dim=8, window=2, negative=2, min_count=1, epochs=2, batch_size=64, sample=0)
    with pytest.raises(KeyboardInterrupt):
        train_word2vec(tmp_path / "c.txt", tmp_path / "run", config, verbose=0, callbacks=[_Interrupt()])
    assert (tmp_path / "run" / "backup").exists() and (tmp_path / "run" / "vocab.json").exists()
    _, report = train_word2vec(tmp_path / "c.txt", tmp_path / "run", config, verbose=0)
    assert len(report["epoch_seconds"]) == 1  # only the second epoch ran
    assert len(report["loss_per_centre_word"]) == 2  # the history holds both


def test_bad_input_is_a_clear_error(tmp_path):
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(CorpusError, match="empty"):
        train_word2vec(tmp_path / "empty.txt", tmp_path / "run", Word2VecConfig(), verbose=0)
    (tmp_path / "tiny.txt").write_text("a b c a b c\n")
    with pytest.raises(CorpusError, match="only 3 words"):
        train_word2vec(tmp_path / "tiny.txt", tmp_path / "run2", Word2VecConfig(min_count=1), verbose=0)
    (tmp_path / "one.txt").write_text("a a a a\n")
    with pytest.raises(CorpusError, match="only 1 word, "):  # not "1 words"
        train_word2vec(tmp_path / "one.txt", tmp_path / "run3", Word2VecConfig(min_count=1), verbose=0)
    with pytest.raises(ValueError, match="mode"):
        Word2VecConfig(mode="glove")
    with pytest.raises(ValueError, match="window"):
        Word2VecConfig(window=0)


def test_duplicate_cap_defaults_and_gradient_scaling():
    assert (
        Word2VecConfig(mode="skipgram").duplicate_cap == 64
        and Word2VecConfig(mode="cbow").duplicate_cap == 128
    )
    assert (
        Word2VecConfig(mode="skipgram").batch_size == 1024 and Word2VecConfig(mode="cbow").batch_size == 1024
    )
    assert Word2VecConfig(mode="cbow", batch_size=64).batch_size == 64
    with pytest.raises(ValueError, match="duplicate_cap"):
        Word2VecConfig(duplicate_cap=0.5)
    if keras.backend.backend() != "tensorflow":
        pytest.skip("gradient check written with tf.GradientTape")
    import tensorflow as tf

    from zoo.text.word2vec import _cap_duplicate_gradients

    ids = tf.constant([[0, 0, 0, 0], [0, 1, 2, 2]])  # word 0 five times, 2 twice, 1 once
    vectors = tf.ones((2, 4, 3))
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        out = _cap_duplicate_gradients(vectors, ids, None, 3, cap=2.0)
        total = tf.reduce_sum(out)
    np.testing.assert_allclose(out.numpy(), vectors.numpy())  # identity forward
    scale = tape.gradient(total, vectors).numpy()[..., 0]
    np.testing.assert_allclose(scale, [[0.4] * 4, [0.4, 1, 1, 1]])  # 0 seen 5 > 2 times: 2/5


def test_recipe_end_to_end_and_errors(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "w2v_recipe", Path(__file__).parents[2] / "recipes" / "word2vec.py"
    )
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    _topic_corpus(tmp_path / "c.txt", n_lines=40)
    args = [
        "--corpus",
        str(tmp_path / "c.txt"),
        "--workdir",
        str(tmp_path / "run"),
        "--dim",
        "8",
        "--window",
        "2",
        "--negative",
        "2",
        "--min-count",
        "1",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--verbose",
        "0",
        "--query",
        "a1",
        "nosuchword",
        "--analogy",
        "a1",
        "a2",
        "b1",
        "--plot",
        "a1",
        "a2",
        "b1",
        "b2",
    ]
    assert recipe.main(args) == 0
    out = capsys.readouterr().out
    assert "'nosuchword' is not in the vocabulary" in out and "a1 : a2 :: b1" in out
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert "a1" in report["queries"] and (tmp_path / "run" / "pca.png").exists()
    (tmp_path / "empty.txt").write_text("")
    assert recipe.main(["--corpus", str(tmp_path / "empty.txt"), "--workdir", str(tmp_path / "e")]) == 2
    assert "empty" in capsys.readouterr().err


@pytest.mark.multibackend
@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
@pytest.mark.parametrize("cap", [2.0, math.inf])
def test_dedup_layout_matches_padded_loss_and_gradients(mode, cap, rng):
    """The deduplicated / packed batch gives the padded batch's logits, loss and table gradients."""
    from zoo.text.corpus import dedup_batch

    v = 20
    model = Word2VecModel(v, 8, mode, seed=1, duplicate_cap=cap)
    model.build()
    model.word_embedding.embeddings.assign(rng.normal(size=(v, 8)).astype("float32"))
    model.context_embedding.embeddings.assign(rng.normal(size=(v, 8)).astype("float32"))
    x = _batch(rng, b=16, s=6, k=3, v=v)
    x["context_mask"][3, :] = 0  # a row without context (packed CBOW: no slot, count 0)
    x["context_mask"][3, 0] = 1
    packed = dedup_batch(x, v, mode, pad_multiple=4)
    if mode == "cbow":
        assert len(packed["ctx_index"]) > x["context_mask"].sum()  # padding slots exist
        assert (packed["ctx_rows"][int(x["context_mask"].sum()) :] == 15).all()
    y = x["context_mask"] if mode == "skipgram" else np.ones((16, 1), "float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(packed)), keras.ops.convert_to_numpy(model(x)), atol=1e-5
    )
    loss_fn = NegativeSamplingLoss()
    grads = [_table_gradients(model, loss_fn, batch, y) for batch in (x, packed)]
    for padded, dedup in zip(*grads):
        np.testing.assert_allclose(dedup, padded, rtol=1e-5, atol=1e-5)
    assert np.abs(grads[0][0]).sum() > 0 and np.abs(grads[0][1]).sum() > 0


def _table_gradients(model, loss_fn, x, y):
    tables = [model.word_embedding.embeddings, model.context_embedding.embeddings]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        return [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, [t.value for t in tables])]
    if backend == "jax":
        import jax

        def f(values):
            return loss_fn(y, model.stateless_call(values, [], x)[0])

        values = [t.value for t in model.trainable_variables]
        grads = jax.grad(f)(values)
        by_path = {v.path: np.asarray(g) for v, g in zip(model.trainable_variables, grads)}
        return [by_path[t.path] for t in tables]
    pytest.skip(f"gradient check not written for {backend}")


def test_shared_negatives_options_are_validated():
    assert Word2VecConfig(mode="skipgram").negatives == "shared"
    assert Word2VecConfig(mode="cbow").negatives == "per_row"
    assert Word2VecConfig(mode="skipgram", layout="dedup").negatives == "per_row"
    config = Word2VecConfig(mode="cbow", negatives="shared")
    assert (config.shared_rows, config.shared_negatives, config.steps_per_execution) == (32, 32, 32)
    with pytest.raises(ValueError, match="negatives must be one of"):
        Word2VecConfig(negatives="global")
    with pytest.raises(ValueError, match="padded"):
        Word2VecConfig(negatives="shared", layout="dedup")
    with pytest.raises(ValueError, match="shared_rows"):
        Word2VecConfig(negatives="shared", batch_size=100, shared_rows=32)
    with pytest.raises(ValueError, match="shared_negatives"):
        Word2VecConfig(negatives="shared", shared_rows=4, shared_negatives=21)  # > 4 rows * 5
    with pytest.raises(ValueError, match="steps_per_execution"):
        Word2VecConfig(steps_per_execution=0)
    with pytest.raises(ValueError, match="negatives"):
        Word2VecModel(20, 8, negatives="global")


def test_weighted_noise_loss_matches_numpy_reference(rng):
    logits = rng.normal(0, 3, (4, 6, 1 + 8)).astype("float32")
    weights = (rng.random((4, 6)) < 0.7).astype("float32")
    noise = 0.25 * _log_sigmoid(-logits[..., 1:]).sum(-1)
    want = -(weights * (_log_sigmoid(logits[..., 0]) + noise)).sum(-1)
    got = keras.ops.convert_to_numpy(negative_sampling_loss(weights, logits, negative_weight=0.25))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    restored = NegativeSamplingLoss.from_config(NegativeSamplingLoss(negative_weight=0.25).get_config())
    assert restored.negative_weight == 0.25


@pytest.mark.multibackend
@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_shared_negatives_logits_match_numpy_reference(mode, rng):
    v, d, b, k, g, s = 20, 8, 6, 3, 2, 4
    model = Word2VecModel(v, d, mode, seed=1, negatives="shared", shared_negatives=s, shared_rows=g)
    model.build()
    w_in = rng.normal(size=(v, d)).astype("float32")
    w_out = rng.normal(size=(v, d)).astype("float32")
    model.word_embedding.embeddings.assign(w_in)
    model.context_embedding.embeddings.assign(w_out)
    x = _batch(rng, b=b, s=4, k=k, v=v)
    x["negatives"][1, 0] = x["context"][1, 0] = x["center"][0]  # masked: skip-gram row 1, CBOW row 0
    got = keras.ops.convert_to_numpy(model(x))
    shared = np.repeat(x["negatives"].reshape(b // g, g * k)[:, :s], g, axis=0)  # [B, S]
    if mode == "skipgram":  # the centre word's input vector scores its context words and the noise
        hidden = w_in[x["center"]]
        pos = np.einsum("bd,bwd->bw", hidden, w_out[x["context"]])[..., None]
        neg = np.einsum("bd,bsd->bs", hidden, w_out[shared])[:, None, :].repeat(4, 1)
        neg[x["context"][:, :, None] == shared[:, None, :]] = -30.0
        assert (neg == -30.0).any()
    else:
        m = x["context_mask"]
        hidden = (w_in[x["context"]] * m[..., None]).sum(1) / m.sum(1, keepdims=True)
        pos = np.einsum("bd,bd->b", hidden, w_out[x["center"]])[:, None, None]
        neg = np.einsum("bd,bsd->bs", hidden, w_out[shared])[:, None, :]
        neg[(shared == x["center"][:, None])[:, None, :]] = -30.0
        assert (neg == -30.0).any()
    want = np.concatenate([pos, neg], axis=-1)
    assert got.shape == want.shape == ((b, 4, 1 + s) if mode == "skipgram" else (b, 1, 1 + s))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    restored = Word2VecModel.from_config(model.get_config())
    assert (restored.negatives, restored.shared_negatives, restored.shared_rows) == ("shared", s, g)


@pytest.mark.multibackend
@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_shared_negatives_tiny_training_loss_decreases(mode, tmp_path):
    _topic_corpus(tmp_path / "c.txt")
    config = Word2VecConfig(
        mode=mode, dim=16, window=3, negative=4, min_count=1, epochs=3, batch_size=32, sample=0,
        negatives="shared", shared_rows=8, shared_negatives=16, steps_per_execution=4,
    )  # fmt: skip
    wv, report = train_word2vec(tmp_path / "c.txt", tmp_path / "run", config, verbose=0, save=False)
    losses = report["loss_per_centre_word"]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses) and losses[-1] < losses[0], losses
    assert report["steps_per_epoch"] == 52  # 50 rounded up to whole executions of 4 steps
    same = [w2[0] == w[0] for w in wv.words for w2, _ in wv.most_similar(w, topn=9)]
    assert np.mean(same) > 0.9, np.mean(same)


def _stream_as_padded(x):
    """NumPy reference: a stream batch's padded rows (centre, context, mask) by plain indexing."""
    tokens, sentence, reach = x["tokens"], x["sentence"], x["reach"]
    parts, span = tokens.shape
    b = len(reach)
    seg = b // parts
    w = (span - seg) // 2
    offsets = [o for o in range(-w, w + 1) if o]
    center, context, mask = [], [], []
    for q in range(b):
        p, i = divmod(q, seg)
        c = w + i
        center.append(tokens[p, c])
        context.append([tokens[p, c + o] for o in offsets])
        mask.append([abs(o) <= reach[q] and sentence[p, c + o] == sentence[p, c] for o in offsets])
    return {
        "center": np.array(center, "int32"),
        "context": np.array(context, "int32"),
        "context_mask": np.array(mask, "float32"),
        "negatives": x["negatives"],
    }


@pytest.mark.multibackend
@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
@pytest.mark.parametrize("negatives", ["per_row", "shared"])
@pytest.mark.parametrize("cap", [2.0, math.inf])
def test_stream_layout_matches_padded_loss_and_gradients(mode, negatives, cap, tmp_path, rng):
    """A stream batch (runs of text; the model builds the grid) gives the padded batch's loss and
    table gradients; pairs outside the window or sentence add nothing."""
    from zoo.text.corpus import EncodedCorpus, Vocabulary, iter_sentences, stream_batches

    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(rng.choice(list("abcdefghij"), n)) for n in [6, 1, 9, 3, 12, 2, 7]))
    v = Vocabulary.build(iter_sentences(path), min_count=1)
    enc = EncodedCorpus.build(path, v, tmp_path / "cache")
    stream = stream_batches(enc, v, batch_size=16, window=3, negative=3, sample=0, seed=1, segment=4)
    batches = ({k: value[i] for k, value in xs.items()} for xs, y in stream for i in range(len(y)))
    # a batch with masked slots and a row without context (the one-word sentence as centre)
    x = next(x for x in batches if (_stream_as_padded(x)["context_mask"].sum(1) == 0).any())
    padded = _stream_as_padded(x)
    m = padded["context_mask"]
    assert 0 < m.sum() < m.size
    model = Word2VecModel(v_size := len(v), 8, mode, seed=1, duplicate_cap=cap, negatives=negatives,
                          shared_rows=4, shared_negatives=6)  # fmt: skip
    model.build()
    model.word_embedding.embeddings.assign(rng.normal(size=(v_size, 8)).astype("float32"))
    model.context_embedding.embeddings.assign(rng.normal(size=(v_size, 8)).astype("float32"))
    loss_fn = NegativeSamplingLoss(negative_weight=3 / 6 if negatives == "shared" else 1.0)
    y_padded = m if mode == "skipgram" else (m.sum(1, keepdims=True) > 0).astype("float32")
    losses = [
        float(keras.ops.convert_to_numpy(loss_fn(y, model(batch))))
        for batch, y in ((padded, y_padded), (x, np.ones((16, 1), "float32")))
    ]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    grads = [
        _table_gradients(model, loss_fn, batch, y)
        for batch, y in ((padded, y_padded), (x, np.ones((16, 1), "float32")))
    ]
    for want, got in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.abs(grads[0][0]).sum() > 0 and np.abs(grads[0][1]).sum() > 0


def test_stream_batch_shapes_are_checked():
    model = Word2VecModel(20, 8, "cbow")
    model.build()
    x = {
        "tokens": np.zeros((2, 9), "int32"),  # 2 runs of 4 centres need 4 + 2*window columns: odd margin
        "sentence": np.zeros((2, 9), "int32"),
        "reach": np.ones(8, "int32"),
        "negatives": np.zeros((8, 3), "int32"),
    }
    with pytest.raises(ValueError, match="stream batch needs static shapes"):
        model(x)


def test_trains_on_jax_without_tensorflow(tmp_path):
    """With JAX, batches come from a plain generator: training needs no TensorFlow (as on a GPU
    machine with JAX only)."""
    pytest.importorskip("jax")
    import os
    import subprocess
    import sys
    from pathlib import Path

    _topic_corpus(tmp_path / "c.txt", n_lines=60)
    code = (
        "import sys; sys.modules['tensorflow'] = None\n"  # any import of TensorFlow now fails
        "from zoo.text.word2vec import Word2VecConfig, train_word2vec\n"
        f"wv, r = train_word2vec({str(tmp_path / 'c.txt')!r}, {str(tmp_path / 'run')!r}, Word2VecConfig("
        "mode='cbow', dim=8, window=2, negative=2, min_count=1, epochs=2, batch_size=32, sample=0), verbose=0)\n"
        "print('steps', r['steps_per_epoch'], r['backend'])\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "steps 15 jax" in done.stdout
