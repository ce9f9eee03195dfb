"""CRNN: sequence shapes, CTC loss against a NumPy forward algorithm, decoding, variable-length data."""

import keras
import numpy as np
import pytest

from zoo.classification.crnn import (
    CTCLoss,
    captcha_accuracy_by_length,
    check_labels,
    crnn_captcha,
    decode,
    label_texts,
    reestimate_batchnorm,
)
from zoo.data.captcha import CaptchaGenerator


def _ctc_numpy(labels, logits):
    """-log p(labels | logits) by the CTC forward algorithm (Graves et al. 2006), blank = 0."""
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ext = [0]
    for c in labels:
        ext += [c + 1, 0]
    T, S = len(logp), len(ext)
    alpha = np.full((T, S), -np.inf)
    alpha[0, 0], alpha[0, 1] = logp[0, 0], logp[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            terms = [alpha[t - 1, s]]
            if s > 0:
                terms.append(alpha[t - 1, s - 1])
            if s > 1 and ext[s] != 0 and ext[s] != ext[s - 2]:
                terms.append(alpha[t - 1, s - 2])
            alpha[t, s] = np.logaddexp.reduce(terms) + logp[t, ext[s]]
    return -np.logaddexp(alpha[-1, -1], alpha[-1, -2])


def test_ctc_loss_matches_the_forward_algorithm(rng):
    logits = rng.normal(size=(2, 9, 4)).astype("float32")
    labels = np.array([[0, 2, 2, -1], [1, 0, 2, 1]], dtype="int32")  # a repeat; a padded row
    got = keras.ops.convert_to_numpy(CTCLoss(reduction=None)(labels, logits))
    want = [_ctc_numpy([0, 2, 2], logits[0]), _ctc_numpy([1, 0, 2, 1], logits[1])]
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_greedy_and_beam_decoding_remove_blanks_and_repeats():
    path = [0, 1, 1, 0, 1, 3, 3, 0, 0, 2]  # blank, a a, blank, a, c c, blank blank, b
    logits = np.full((1, len(path), 4), -5.0, dtype="float32")
    logits[0, np.arange(len(path)), path] = 5.0
    assert decode(logits) == [[0, 0, 2, 1]]
    assert decode(logits, strategy="beam_search", beam_width=4) == [[0, 0, 2, 1]]


@pytest.mark.multibackend
def test_crnn_shapes_and_one_fit_step():
    net = crnn_captcha((32, 80, 1), num_chars=10, config="tiny", units=8)
    assert net.output.shape == (None, 20, 11)  # 80 / 4 columns, blank + 10 digits
    net.compile(optimizer="adam", loss=CTCLoss())
    x = np.random.default_rng(0).uniform(0, 1, (4, 32, 80, 1)).astype("float32")
    y = np.array([[1, 2, 3, 4, -1, -1], [5, 6, 7, 8, 9, -1], [0, 1, 2, 3, 4, 5], [9, 9, 9, 9, -1, -1]])
    before = [keras.ops.convert_to_numpy(w).copy() for w in net.trainable_weights]
    loss = net.fit(x, y, batch_size=4, epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(loss)
    moved = [not np.allclose(a, keras.ops.convert_to_numpy(b)) for a, b in zip(before, net.trainable_weights)]
    assert all(moved)


def test_accuracy_by_length_counts_each_length_on_its_own():
    truth = ["1234", "5678", "12345", "123456", "654321"]
    pred = ["1234", "567", "12345", "123456", "65432"]
    assert captcha_accuracy_by_length(truth, pred) == {"4": 0.5, "5": 1.0, "6": 0.5}
    assert captcha_accuracy_by_length([], []) == {}


def test_variable_length_captchas_pad_with_minus_one():
    gen = CaptchaGenerator("digits", (4, 6), seed=0)
    images, labels = gen.batch(20)
    lengths = (labels >= 0).sum(1)
    assert images.shape == (20, 32, 80, 1) and labels.shape == (20, 6)
    assert lengths.min() >= 4 and lengths.max() <= 6 and len(set(lengths)) > 1
    assert all(len(t) == n for t, n in zip(label_texts(labels, "digits"), lengths))
    fixed = CaptchaGenerator("digits", 4, seed=0).rng.integers(0, 10, 4)  # a fixed length draws as before
    assert (CaptchaGenerator("digits", 4, seed=0).sample()[1] == fixed).all()


def test_labels_outside_the_alphabet_are_refused():
    with pytest.raises(ValueError, match="outside the alphabet"):
        check_labels(np.array([[1, 2, 10]]), num_chars=10)
    with pytest.raises(ValueError, match="outside the alphabet"):
        check_labels(np.array([[1, -3, 2]]), num_chars=10)
    with pytest.raises(ValueError, match="padding"):
        check_labels(np.array([[1, -1, 2]]), num_chars=10)
    with pytest.raises(ValueError, match="too small"):
        crnn_captcha((8, 8, 1), config="small")


def test_batchnorm_reestimation_gives_the_mean_of_batch_statistics(rng):
    inp = keras.Input((4, 4, 2))
    net = keras.Model(inp, keras.layers.BatchNormalization(name="bn")(inp))
    x = rng.normal(3.0, 2.0, (96, 4, 4, 2)).astype("float32")
    reestimate_batchnorm(net, x, batch_size=32)
    batches = x.reshape(3, 32, 4, 4, 2)
    want_mean = batches.mean(axis=(1, 2, 3)).mean(0)
    want_var = batches.var(axis=(1, 2, 3)).mean(0)
    bn = net.get_layer("bn")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), want_mean, rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_variance), want_var, rtol=1e-3)
    assert bn.momentum == 0.99
