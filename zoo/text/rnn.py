"""Recurrent networks (course material: RNN, vanishing gradients, LSTM, GRU) from ``keras.layers``.

* ``text_rnn`` / ``text_lstm`` / ``text_gru``: word ids -> embedding (random or word2vec, as
  :func:`zoo.text.text_cnn.text_cnn`) -> one recurrent layer (optionally bidirectional) -> softmax.
* ``char_rnn``: a character-level language model (embedding -> stacked LSTM/GRU -> logits over
  the characters at every step) and :func:`sample_text`, which samples with a temperature.
* The material's claims as measurable functions: :func:`recall_task` (a token seen ``T`` steps
  earlier must be recalled: SimpleRNN's gradients vanish over long ``T``, LSTM's and GRU's gated
  state carries it) and :func:`lstm_vs_gru` (parameters, time per epoch, accuracy).

Cells (Keras defaults follow the material's equations): LSTM ``f, i, o = sigma(U x + W h + b)``,
``c = f c' + i tanh(U x + W h + b)``, ``h = o tanh(c)`` (4 gate blocks: ``4 (d h + h^2 + h)``
parameters); GRU ``z, r = sigma(...)``, ``h = (1 - z) h' + z tanh(U x + W (r h') + b)`` (3 blocks;
Keras' ``reset_after=True`` default adds a second bias, ``3 (d h + h^2 + 2 h)``).

Example:
    >>> import zoo
    >>> model = zoo.get("text_lstm", vocab_size=5000, sequence_length=40, classes=2)
    >>> lm = zoo.get("char_rnn", vocab_size=60)
    >>> sample_text(lm, vocab, "the ", length=200, temperature=0.5)
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from zoo.registry import register, resolve_num_classes
from zoo.text.text_cnn import embedding_layer
from zoo.text.word2vec import _WordsPerSecond as EpochTimer  # wall time per epoch

CELLS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
_PAPERS = {
    "rnn": "Elman 1990, Finding Structure in Time (simple recurrent network)",
    "lstm": "Hochreiter & Schmidhuber 1997, Long Short-Term Memory",
    "gru": "Cho et al. 2014 / Chung et al. 2014, Gated Recurrent Unit",
}


def recurrent_params(cell: str, input_dim: int, units: int) -> int:
    """Parameters of one recurrent layer from the cell equations (Keras' GRU has ``reset_after=True``).

    Example:
        >>> recurrent_params("lstm", 100, 128)
        117248
    """
    blocks, biases = {"rnn": (1, 1), "lstm": (4, 1), "gru": (3, 2)}[cell]
    return blocks * (input_dim * units + units * units + biases * units)


def recurrent_classifier(
    cell: str,
    vocab_size: int = 20000,
    sequence_length: int | None = 64,
    embedding_dim: int = 128,
    units: int = 128,
    bidirectional: bool = False,
    dropout: float = 0.0,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
    embeddings: np.ndarray | None = None,
    trainable_embeddings: bool = True,
    name: str | None = None,
) -> keras.Model:
    """Word ids ``[batch, sequence_length]`` (0 = padding, masked) -> class probabilities.

    Args:
        cell: ``"rnn"`` (SimpleRNN), ``"lstm"`` or ``"gru"``.
        units: hidden state size (per direction).
        bidirectional: read the text both ways and concatenate the two final states.
        classes: output classes (2); ``num_classes`` is the same count under the detectors' name.
        embeddings, trainable_embeddings: as :func:`zoo.text.text_cnn.text_cnn`
            (e.g. from :func:`zoo.text.text_cnn.embedding_matrix` over word2vec vectors).

    Example:
        >>> recurrent_classifier("gru", vocab_size=1000, sequence_length=20, units=16).output.shape
        (None, 2)
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    classes = resolve_num_classes(num_classes, classes, default=2)
    if vocab_size < 2 or units < 1 or classes < 1:
        raise ValueError(
            f"need vocab_size >= 2, units >= 1, classes >= 1; got {vocab_size}, {units}, {classes}"
        )
    inputs = keras.Input((sequence_length,), dtype="int32", name="tokens")
    # mask_zero at construction: set afterwards it reached get_config but not the layer's masking,
    # so a reloaded model masked the padding and the original did not.
    emb = embedding_layer(vocab_size, embedding_dim, embeddings, trainable_embeddings, mask_zero=True)
    x = emb(inputs)
    layer = CELLS[cell](units, name=cell)
    x = keras.layers.Bidirectional(layer, name=f"bi{cell}")(x) if bidirectional else layer(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or f"text_{cell}")


def _register_classifier(cell: str):
    def builder(**kwargs: Any) -> keras.Model:
        return recurrent_classifier(cell, **kwargs)

    # the public signature: recurrent_classifier's arguments but the cell and the name
    params = list(inspect.signature(recurrent_classifier).parameters.values())[1:-1]
    builder.__signature__ = inspect.Signature(params, return_annotation=keras.Model)  # type: ignore[attr-defined]
    builder.__name__ = f"text_{cell}"
    builder.__doc__ = f"""Text classifier with one {CELLS[cell].__name__} layer ({_PAPERS[cell]}).

    Arguments as :func:`recurrent_classifier`.

    Example:
        >>> model = zoo.get("text_{cell}", vocab_size=5000, sequence_length=40, classes=2)
    """
    emb, u = 128, 128
    register(
        f"text_{cell}",
        task="text",
        paper=_PAPERS[cell],
        references={
            "recurrent_params": recurrent_params(cell, emb, u),
            "recurrent_params_source": f"the cell equations, input {emb}, {u} units",
        },
    )(builder)
    return builder


text_rnn = _register_classifier("rnn")
text_lstm = _register_classifier("lstm")
text_gru = _register_classifier("gru")


# ----------------------------------------------------------------------------- character LM
class CharVocabulary:
    """The characters of a corpus, sorted; ids ``0..len-1``.

    Example:
        >>> vocab = CharVocabulary("hello world")
        >>> vocab.decode(vocab.encode("hello"))
        'hello'
    """

    def __init__(self, text: str):
        if not text:
            raise ValueError("the corpus is empty: give a text with at least a few characters")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        bad = sorted({c for c in text if c not in self.index})
        if bad:
            raise ValueError(f"characters {bad} are not in the corpus vocabulary")
        return np.array([self.index[c] for c in text], dtype=np.int32)

    def decode(self, ids: Any) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))


def char_sequences(text: str, sequence_length: int, vocab: CharVocabulary | None = None, step: int = 1):
    """Training pairs for next-character prediction: ``(x [N, L], y [N, L])`` with ``y`` shifted by one.

    Raises:
        ValueError: the corpus has no more characters than ``sequence_length``.

    Example:
        >>> x, y, vocab = char_sequences("abcabcabc", 4)
    """
    if sequence_length < 1:
        raise ValueError(f"sequence_length must be >= 1, got {sequence_length}")
    if len(text) <= sequence_length:
        raise ValueError(
            f"the corpus has {len(text)} characters, fewer than sequence_length + 1 = {sequence_length + 1}: "
            "use a longer text or a shorter --sequence-length"
        )
    vocab = vocab or CharVocabulary(text)
    ids = vocab.encode(text)
    starts = np.arange(0, len(ids) - sequence_length, step)
    x = np.stack([ids[s : s + sequence_length] for s in starts])
    y = np.stack([ids[s + 1 : s + sequence_length + 1] for s in starts])
    return x, y, vocab


@register("char_rnn", task="text", paper="Karpathy 2015, The Unreasonable Effectiveness of RNNs (char-rnn)")
def char_rnn(
    vocab_size: int = 96,
    embedding_dim: int = 64,
    units: int = 256,
    num_layers: int = 2,
    cell: str = "lstm",
    dropout: float = 0.0,
    sequence_length: int | None = None,
    name: str = "char_rnn",
) -> keras.Model:
    """Character language model: ids ``[B, T]`` -> next-character logits ``[B, T, vocab_size]``.

    Example:
        >>> char_rnn(vocab_size=30, units=32, num_layers=1).output.shape
        (None, None, 30)
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    inputs = keras.Input((sequence_length,), dtype="int32", name="chars")
    x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(inputs)
    for i in range(1, num_layers + 1):
        x = CELLS[cell](units, return_sequences=True, dropout=dropout, name=f"{cell}{i}")(x)
    outputs = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


class RecurrentStep:
    """One character at a time through a trained ``char_rnn``, carrying the recurrent states.

    A language model of ``Embedding -> recurrent layers (SimpleRNN / LSTM / GRU) -> Dense`` reads a
    sequence left to right, so the logits after ``t`` characters depend only on the states after
    ``t - 1`` and the ``t``-th character: this applies the model's own layers (their cells for the
    recurrent ones, the same weights) to one character and the states, O(1) work a character instead of
    a pass over the whole context. The step is a small Keras model over those layers, compiled by
    ``predict_on_batch``. Keras layers and ``keras.ops`` only (TensorFlow and JAX).

    Raises:
        ValueError: the model holds a layer other than those (e.g. ``Bidirectional``, which reads the
            future), or a recurrent layer that runs backwards or does not return sequences.

    Example:
        >>> step = RecurrentStep(lm)
        >>> states = step.initial_states(1)
        >>> logits, states = step(np.array([3]), states)   # [1, vocab_size]
    """

    def __init__(self, model: keras.Model):
        self.layers = []
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.RNN):
                if layer.go_backwards or not layer.return_sequences:
                    raise ValueError(
                        f"layer {layer.name!r} runs backwards or returns only its last state: the "
                        "step sampler needs forward layers with return_sequences=True; "
                        "use sample_text(..., method='window')"
                    )
            elif not isinstance(layer, (keras.layers.Embedding, keras.layers.Dense, keras.layers.Dropout)):
                raise ValueError(
                    f"layer {layer.name!r} is a {type(layer).__name__}: the step sampler reads models of "
                    "Embedding -> SimpleRNN/LSTM/GRU -> Dense (as char_rnn builds); "
                    "use sample_text(..., method='window') for other models"
                )
            self.layers.append(layer)
        self.recurrent = [layer for layer in self.layers if isinstance(layer, keras.layers.RNN)]

        self._sizes = [len(layer.cell.get_initial_state(1)) for layer in self.recurrent]
        self._model = _StepModel(self.layers, self._sizes)

    def initial_states(self, batch_size: int) -> list:
        """Zero states, one list of arrays a recurrent layer (as the layers start a sequence)."""
        return [
            [np.asarray(keras.ops.convert_to_numpy(s)) for s in layer.cell.get_initial_state(batch_size)]
            for layer in self.recurrent
        ]

    def __call__(self, ids: Any, states: list) -> tuple[np.ndarray, list]:
        """``ids [B]`` (int) and the states -> ``(logits [B, vocab_size], new states)`` as NumPy.

        Runs through ``predict_on_batch``, so the step is compiled once (``tf.function`` / ``jax.jit``)
        and each character costs one compiled call.
        """
        flat = [s for group in states for s in group]
        outputs = self._model.predict_on_batch([np.asarray(ids, dtype=np.int32).reshape(-1), *flat])
        new, k = [], 1
        for n in self._sizes:
            new.append([np.asarray(o) for o in outputs[k : k + n]])
            k += n
        return np.asarray(outputs[0]), new


class _StepModel(keras.Model):
    """``[ids [B], *states]`` -> ``[logits, *new states]`` through the given layers (cells for the RNNs)."""

    def __init__(self, layers: list, state_sizes: list[int]):
        super().__init__(name="recurrent_step")
        self.step_layers = layers
        self.state_sizes = state_sizes

    def call(self, inputs):
        x, *flat = inputs
        new, k, r = [], 0, 0
        for layer in self.step_layers:
            if isinstance(layer, keras.layers.RNN):
                n = self.state_sizes[r]
                x, s = layer.cell(x, list(flat[k : k + n]), training=False)
                new += list(s) if isinstance(s, (list, tuple)) else [s]
                k, r = k + n, r + 1
            elif not isinstance(layer, keras.layers.Dropout):  # Dropout: identity at inference
                x = layer(x)
        return [x, *new]


def sample_text(
    model: keras.Model,
    vocab: CharVocabulary,
    prime: str,
    length: int = 200,
    temperature: float = 1.0,
    seed: int = 0,
    window: int | None = 100,
    method: str = "state",
) -> str:
    """Samples ``length`` characters after ``prime``: ``p ~ softmax(logits / temperature)``.

    Low temperature -> the likeliest characters (repetitive); high -> more varied (and more errors);
    ``temperature=0`` is greedy.

    Args:
        method: ``"state"`` (default) feeds one character a step and carries the recurrent states
            (:class:`RecurrentStep`; the context is everything generated so far); ``"window"`` runs the
            whole model over the last ``window`` characters for every new one (any model, O(window)
            a character; with ``window=None`` it reads the whole text and gives the same distribution
            as ``"state"``).

    Example:
        >>> sample_text(lm, vocab, "the ", length=100, temperature=0.5)
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not prime:
        raise ValueError("prime must hold at least one character")
    if method not in ("state", "window"):
        raise ValueError(f"method must be 'state' or 'window', got {method!r}")
    rng = np.random.default_rng(seed)
    ids = list(vocab.encode(prime))
    if method == "state":
        step = RecurrentStep(model)
        states = step.initial_states(1)
        for i in ids[:-1]:
            _, states = step([i], states)

    for _ in range(length):
        if method == "state":
            logits, states = step([ids[-1]], states)
            logits = logits[0].astype(np.float64)
        else:
            context = np.array([ids[-window:] if window else ids], dtype=np.int32)
            logits = np.asarray(keras.ops.convert_to_numpy(model(context, training=False)))[0, -1]
            logits = logits.astype(np.float64)
        if temperature == 0:
            ids.append(int(np.argmax(logits)))
            continue
        p = np.exp((logits - logits.max()) / temperature)
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return vocab.decode(ids)


# ----------------------------------------------------------------------------- the material's claims
def recall_task(
    n: int, T: int, num_symbols: int = 4, num_noise: int = 4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A long-range dependency: the label is the first token, followed by ``T - 1`` noise tokens.

    Tokens ``1..num_symbols`` are the symbols to recall, ``num_symbols+1..+num_noise`` the noise
    (0 is unused, so padding stays distinct). Chance accuracy is ``1 / num_symbols``. To answer at
    the last step the network must carry one token across ``T`` steps: the course material's
    "I grew up in Italy ... I speak fluent Italian".

    Returns:
        ``x [n, T]`` int32 token ids and ``y [n]`` int32 labels in ``0..num_symbols-1``.

    Example:
        >>> x, y = recall_task(8, T=50)
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    rng = np.random.default_rng([seed, T])
    y = rng.integers(0, num_symbols, n).astype(np.int32)
    x = rng.integers(num_symbols + 1, num_symbols + num_noise + 1, (n, T)).astype(np.int32)
    x[:, 0] = y + 1
    return x, y


def set_keep_gate_bias(layer: keras.layers.Layer, value: float) -> None:
    """Sets the bias of the gate that keeps the previous state: LSTM's ``f``, GRU's ``z`` (Keras' GRU
    keeps ``z h' + (1 - z) h~``). SimpleRNN has no such gate (ValueError).

    Example:
        >>> set_keep_gate_bias(model.get_layer("lstm"), 3.0)
    """
    cell = getattr(layer, "cell", layer)
    bias = keras.ops.convert_to_numpy(cell.bias).copy()
    u = cell.units
    if isinstance(layer, keras.layers.LSTM):
        bias[u : 2 * u] = value  # Keras order: i, f, c, o
    elif isinstance(layer, keras.layers.GRU):
        bias[..., :u] = 0.0
        bias.reshape(-1, 3 * u)[0, :u] = value  # Keras order: z, r, h (input bias row with reset_after)
    else:
        raise ValueError(f"{type(layer).__name__} has no gate that keeps the state")
    cell.bias.assign(bias)


def recall_accuracy(
    cell: str,
    T: int,
    units: int = 32,
    train_size: int = 2000,
    test_size: int = 500,
    epochs: int = 8,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    gate_bias: float | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Trains one recurrent layer on :func:`recall_task` and returns its test accuracy and time.

    ``gate_bias`` sets the initial bias of the gate that keeps the old state (LSTM's forget gate,
    Keras default 1; GRU's update gate ``z``, default 0), i.e. how open the "conveyor belt" starts.

    Example:
        >>> recall_accuracy("lstm", T=50, epochs=2)["accuracy"]
    """
    keras.utils.set_random_seed(seed)
    x, y = recall_task(train_size + test_size, T, seed=seed)
    model = keras.Sequential(
        [
            keras.Input((T,), dtype="int32"),
            # unit-variance inputs (as one-hot or trained embeddings are): the distractors push the
            # state around, so what survives T steps is what the cell protects
            keras.layers.Embedding(9, 8, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)),
            CELLS[cell](units),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    if gate_bias is not None:
        set_keep_gate_bias(model.layers[1], gate_bias)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x[:train_size], y[:train_size], batch_size=batch_size, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    _, acc = model.evaluate(x[train_size:], y[train_size:], verbose=0)
    return {"accuracy": float(acc), "seconds": seconds, "params": int(model.count_params())}


def lstm_vs_gru(
    train_size: int = 2000,
    test_size: int = 500,
    epochs: int = 15,
    units: int = 32,
    sequence_length: int = 16,
    cells: Sequence[str] = ("lstm", "gru"),
    seeds: Sequence[int] = (0, 1, 2),
) -> list[dict[str, Any]]:
    """Trains ``text_<cell>`` on :func:`zoo.text.text_cnn.synthetic_sentiment`: params, s/epoch, accuracy.

    Every cell is trained once per seed (same data); the row holds the median seconds per epoch
    (first epochs, with tracing, left out) and the test accuracy of every seed, with their mean.

    Example:
        >>> rows = lstm_vs_gru(epochs=2, seeds=(0,))
    """
    from zoo.text.text_cnn import build_vocabulary, encode_texts, synthetic_sentiment

    train_texts, train_y = synthetic_sentiment(train_size, 0)
    test_texts, test_y = synthetic_sentiment(test_size, 1)
    words = build_vocabulary(train_texts)
    x_train = encode_texts(train_texts, words, sequence_length)
    x_test = encode_texts(test_texts, words, sequence_length)
    rows = []
    for cell in cells:
        accs, times, model = [], [], None
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            model = recurrent_classifier(cell, len(words), sequence_length, embedding_dim=32, units=units)
            model.compile(
                optimizer=keras.optimizers.Adam(1e-2),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            timer = EpochTimer()
            model.fit(x_train, train_y, batch_size=50, epochs=epochs, verbose=0, callbacks=[timer])
            accs.append(float(model.evaluate(x_test, test_y, verbose=0)[1]))
            times += timer.epoch_seconds[1:] if len(timer.epoch_seconds) > 1 else timer.epoch_seconds
        rows.append(
            {
                "cell": cell,
                "recurrent_params": int(model.get_layer(cell).count_params()),
                "total_params": int(model.count_params()),
                "seconds_per_epoch": float(np.median(times)),
                "test_accuracy": float(np.mean(accs)),
                "test_accuracy_per_seed": accs,
                "epochs": epochs,
            }
        )
    return rows
