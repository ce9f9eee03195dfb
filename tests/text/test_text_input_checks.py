"""Bad input to word2vec's configuration and to WordVectors is refused with a clear message."""

import numpy as np
import pytest

from zoo.text.vectors import WordVectors
from zoo.text.word2vec import Word2VecConfig


@pytest.mark.parametrize("field, value", [("dim", 2.5), ("window", "5"), ("epochs", True), ("negative", 0)])
def test_config_integer_fields_must_be_integers(field, value):
    with pytest.raises(ValueError, match=rf"{field} must be an integer >= 1"):
        Word2VecConfig(**{field: value})


def test_word_vectors_refuse_nan_and_negative_topn(tmp_path):
    with pytest.raises(ValueError, match=r"word 1 \('b'\) has NaN or inf"):
        WordVectors(["a", "b"], np.array([[1.0, 0.0], [np.nan, 1.0]]))
    (tmp_path / "v.txt").write_text("2 2\nking inf 0\nqueen 0 1\n")
    with pytest.raises(ValueError, match=r"word 0 \('king'\) has NaN or inf"):
        WordVectors.load_word2vec_format(tmp_path / "v.txt")
    wv = WordVectors(["king", "queen", "man"], np.eye(3))
    with pytest.raises(ValueError, match="topn must be an integer >= 0"):
        wv.most_similar("king", topn=-1)
    assert wv.most_similar("king", topn=0) == []
