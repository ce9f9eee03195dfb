"""Recurrent models: parameter counts from the cell equations, a NumPy LSTM/GRU step, char LM, bad input."""

import keras
import numpy as np
import pytest

import zoo
from zoo.text.rnn import (
    CharVocabulary,
    RecurrentStep,
    char_rnn,
    char_sequences,
    recall_task,
    recurrent_classifier,
    recurrent_params,
    sample_text,
)
from zoo.text.text_cnn import embedding_matrix
from zoo.text.vectors import WordVectors


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recurrent_parameter_counts_follow_the_cell_equations(cell):
    model = zoo.get(f"text_{cell}", vocab_size=100, sequence_length=12, embedding_dim=20, units=16, classes=3)
    layer = model.get_layer(cell)
    assert layer.count_params() == recurrent_params(cell, 20, 16)
    # by hand: LSTM 4 blocks, GRU 3 (with Keras' reset_after second bias), SimpleRNN 1
    assert recurrent_params("lstm", 20, 16) == 4 * (20 * 16 + 16 * 16 + 16)
    assert recurrent_params("gru", 20, 16) == 3 * (20 * 16 + 16 * 16 + 2 * 16)
    assert model.output.shape == (None, 3)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_lstm_and_gru_match_the_course_equations_in_numpy(rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    lstm = keras.layers.LSTM(4)
    gru = keras.layers.GRU(4, reset_after=False)
    out_lstm, out_gru = (keras.ops.convert_to_numpy(layer(x)) for layer in (lstm, gru))
    U, W, b = (keras.ops.convert_to_numpy(w) for w in lstm.weights)
    h = c = np.zeros((2, 4))
    for t in range(5):
        gates = x[:, t] @ U + h @ W + b  # Keras order: i, f, c~, o
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)  # c = f c' + i c~
        h = _sigmoid(o) * np.tanh(c)  # h = o tanh(c)
    np.testing.assert_allclose(out_lstm, h, atol=1e-5)
    U, W, b = (keras.ops.convert_to_numpy(w) for w in gru.weights)
    Uz, Ur, Uh = np.split(U, 3, axis=-1)
    Wz, Wr, Wh = np.split(W, 3, axis=-1)
    bz, br, bh = np.split(b, 3, axis=-1)
    h = np.zeros((2, 4))
    for t in range(5):
        z = _sigmoid(x[:, t] @ Uz + h @ Wz + bz)
        r = _sigmoid(x[:, t] @ Ur + h @ Wr + br)
        h_tilde = np.tanh(x[:, t] @ Uh + (r * h) @ Wh + bh)
        h = z * h + (1 - z) * h_tilde  # Keras' z gates the old state: the material's z is Keras' 1 - z
    np.testing.assert_allclose(out_gru, h, atol=1e-5)


def test_embedding_starts_from_word_vectors():
    words = ["<pad>", "<unk>", "good", "bad"]
    wv = WordVectors(["good", "bad"], np.array([[1.0, 2.0], [3.0, 4.0]], dtype="float32"))
    emb = embedding_matrix(wv, words)
    model = recurrent_classifier(
        "gru", 4, 6, embedding_dim=2, units=3, embeddings=emb, trainable_embeddings=False
    )
    table = keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings)
    np.testing.assert_allclose(table[2:], [[1, 2], [3, 4]])
    assert not model.get_layer("embedding").trainable


def test_char_rnn_learns_and_samples_with_temperature():
    text = "abcd" * 60
    x, y, vocab = char_sequences(text, 8)
    assert x.shape[1] == 8 and (x[:, 1:] == y[:, :-1]).all()
    model = char_rnn(vocab_size=len(vocab), embedding_dim=8, units=16, num_layers=1)
    model.compile(
        optimizer=keras.optimizers.Adam(0.03), loss=keras.losses.SparseCategoricalCrossentropy(True)
    )
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    greedy = sample_text(model, vocab, "ab", length=10, temperature=0)
    assert greedy == "ab" + "cdab" * 2 + "cd"
    hot = [sample_text(model, vocab, "ab", length=30, temperature=5.0, seed=s) for s in range(3)]
    assert any(h != ("ab" + "cdab" * 8)[:32] for h in hot)  # high temperature departs from the argmax


@pytest.mark.multibackend
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_sampler_logits_equal_the_full_sequence_model(cell):
    # reference: the Keras recurrent layers over the whole sequence, against the step through their cells
    keras.utils.set_random_seed(1)
    model = char_rnn(vocab_size=7, embedding_dim=5, units=6, num_layers=2, cell=cell, dropout=0.2)
    ids = np.random.default_rng(0).integers(0, 7, (2, 12)).astype("int32")
    full = keras.ops.convert_to_numpy(model(ids, training=False))
    step = RecurrentStep(model)
    states = step.initial_states(2)
    for t in range(ids.shape[1]):
        logits, states = step(ids[:, t], states)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), full[:, t], rtol=1e-4, atol=1e-5)


def test_fast_greedy_sampling_is_the_full_models_argmax_step_by_step():
    keras.utils.set_random_seed(2)
    vocab = CharVocabulary("abcdefgh")
    model = char_rnn(vocab_size=len(vocab), embedding_dim=4, units=8, num_layers=2, cell="lstm")
    # random weights give small logits; scale the output layer so the argmax is well separated
    dense = model.get_layer("logits")
    dense.kernel.assign(dense.kernel * 20.0)
    text = sample_text(model, vocab, "abc", length=12, temperature=0)
    ids = vocab.encode(text)
    full = keras.ops.convert_to_numpy(model(ids[None, :-1], training=False))[0]
    assert (full.argmax(-1)[2:] == ids[3:]).all()
    # at temperature 1, the same draws as the old sampler (the whole model over the whole text each character)
    fast = sample_text(model, vocab, "abc", length=5, temperature=1.0, seed=3)
    slow = sample_text(model, vocab, "abc", length=5, temperature=1.0, seed=3, method="window", window=None)
    assert fast == slow


def test_step_sampler_refuses_a_model_that_reads_the_future():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(5, 3)(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(x)
    model = keras.Model(inputs, keras.layers.Dense(5)(x))
    with pytest.raises(ValueError, match="Bidirectional.*method='window'"):
        RecurrentStep(model)
    with pytest.raises(ValueError, match="method must be"):
        sample_text(model, CharVocabulary("abcde"), "a", method="beam")


def test_recall_task_layout():
    x, y = recall_task(50, T=20, num_symbols=4, num_noise=4)
    assert x.shape == (50, 20) and (x[:, 0] == y + 1).all()
    assert x[:, 1:].min() >= 5 and x[:, 1:].max() <= 8


def test_bad_input_errors():
    with pytest.raises(ValueError, match="fewer than sequence_length"):
        char_sequences("short text", 40)
    with pytest.raises(ValueError, match="empty"):
        CharVocabulary("")
    with pytest.raises(ValueError, match="not in the corpus"):
        CharVocabulary("abc").encode("abz")
    with pytest.raises(ValueError, match="cell must be"):
        recurrent_classifier("transformer")


def _rnn_recipe():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "recipes" / "rnn.py"
    spec = importlib.util.spec_from_file_location("rnn_recipe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_charlm_refuses_a_prime_outside_the_corpus_before_training(tmp_path, capsys):
    # the default --prime "The " on a lower-case corpus: refused at once, not after the training,
    # and no work directory is left behind
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 20)
    work = tmp_path / "charlm"
    argv = ["charlm", "--workdir", str(work), "--text", str(corpus), "--units", "4", "--epochs", "1"]
    assert _rnn_recipe().main(argv) == 2
    err = capsys.readouterr().err
    assert "error: --prime 'The ' has characters ['T']" in err
    assert not work.exists()
    assert _rnn_recipe().main(["charlm", "--workdir", str(work), "--text", str(tmp_path / "no.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err and not work.exists()


def test_recipes_report_an_interrupt_in_one_line(tmp_path, capsys, monkeypatch):
    # Ctrl-C in rnn.py / dcgan.py: status 130 and one "interrupted ..." line, not a KeyboardInterrupt traceback
    import importlib.util
    from pathlib import Path

    import zoo.generative.dcgan

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    rnn = _rnn_recipe()
    monkeypatch.setattr(rnn, "recall", interrupted)
    assert rnn.main(["recall", "--workdir", str(tmp_path / "r")]) == 130
    assert (
        f"interrupted; the last finished epoch's checkpoint is in {tmp_path / 'r'}" in capsys.readouterr().err
    )

    monkeypatch.setattr(zoo.generative.dcgan, "train_dcgan", interrupted)
    path = Path(__file__).resolve().parents[2] / "recipes" / "dcgan.py"
    spec = importlib.util.spec_from_file_location("dcgan_recipe", path)
    dcgan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dcgan)
    assert dcgan.main(["--workdir", str(tmp_path / "g")]) == 130
    assert "interrupted; the last finished epoch's checkpoint is in" in capsys.readouterr().err
