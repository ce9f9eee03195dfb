"""Tests for zoo.text.text_cnn: Kim's architecture, word2vec initialisation, saving, the offline demo."""

import keras
import numpy as np
import pytest

import zoo
from zoo.text.text_cnn import (
    OOV,
    PAD,
    build_vocabulary,
    embedding_matrix,
    encode_texts,
    synthetic_sentiment,
    text_cnn,
    text_cnn_demo,
)
from zoo.text.vectors import WordVectors


def test_registered_and_kim_sized_parameter_count():
    model = zoo.get("text_cnn", vocab_size=10, embedding_dim=300, classes=2)
    non_embedding = model.count_params() - 10 * 300
    assert non_embedding == zoo.registry.entry("text_cnn").references["non_embedding_params"] == 360902
    names = [layer.name for layer in model.layers]
    for name in ("embedding", "conv_3", "conv_4", "conv_5", "pool_3", "concat", "dropout", "predictions"):
        assert name in names


@pytest.mark.multibackend
def test_shapes_variable_length_and_one_training_step_reaches_every_weight(rng):
    model = text_cnn(vocab_size=30, sequence_length=None, embedding_dim=8, num_filters=4, classes=3)
    x = rng.integers(0, 30, (6, 11)).astype("int32")
    assert model.predict(x, verbose=0).shape == (6, 3)
    assert model.predict(x[:, :7], verbose=0).shape == (6, 3)  # any length >= 5
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    model.fit(x, np.arange(6) % 3, epochs=1, batch_size=6, verbose=0)
    changed = [not np.allclose(a, b) for a, b in zip(before, model.get_weights())]
    assert all(changed), changed


def test_word2vec_initialisation_and_static_embeddings(rng):
    wv = WordVectors(["good", "bad"], rng.normal(size=(2, 6)).astype("float32"))
    words = [PAD, OOV, "good", "unknownword", "bad"]
    emb = embedding_matrix(wv, words)
    np.testing.assert_array_equal(emb[2], wv["good"])
    np.testing.assert_array_equal(emb[4], wv["bad"])
    assert (emb[0] == 0).all() and np.abs(emb[3]).max() > 0
    model = text_cnn(vocab_size=5, embedding_dim=6, num_filters=2, embeddings=emb, trainable_embeddings=False)
    np.testing.assert_allclose(model.get_layer("embedding").get_weights()[0], emb)
    assert not model.get_layer("embedding").trainable
    with pytest.raises(ValueError, match="embeddings must have shape"):
        text_cnn(vocab_size=6, embedding_dim=6, embeddings=emb)
    with pytest.raises(ValueError, match="shorter than the widest filter"):
        text_cnn(vocab_size=6, sequence_length=4)


def test_save_round_trip(tmp_path, rng):
    model = text_cnn(vocab_size=20, sequence_length=9, embedding_dim=4, num_filters=2)
    x = rng.integers(0, 20, (3, 9)).astype("int32")
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_encoding_and_synthetic_sentiment():
    texts, labels = synthetic_sentiment(200, seed=1)
    assert set(labels.tolist()) == {0, 1}
    for t, y in zip(texts, labels):
        negated = " not " in f" {t} "
        positive = any(
            w in t.split()
            for w in (
                "good",
                "great",
                "excellent",
                "wonderful",
                "superb",
                "enjoyable",
                "brilliant",
                "delightful",
            )
        )
        assert y == int(positive != negated)
    words = build_vocabulary(texts)
    assert words[:2] == [PAD, OOV]
    ids = encode_texts(["The film was NOT good zzz", ""], words, 8)
    assert ids.shape == (2, 8) and ids[0, 5] == 1 and (ids[0, 6:] == 0).all() and (ids[1] == 0).all()


def test_demo_learns_negation(tmp_path):
    result = text_cnn_demo(tmp_path, epochs=2, train_size=600, test_size=200, verbose=0)
    assert result["test_accuracy"] > 0.75  # chance is 0.5; the full demo (recipe) reaches ~1.0
    assert (tmp_path / "curves.png").exists()
