"""zoo.text: word2vec (skip-gram / CBOW with negative sampling) and Kim's text CNN."""

from zoo.text import corpus, rnn, text_cnn, vectors, word2vec  # noqa: F401  (text_cnn, rnn register models)
