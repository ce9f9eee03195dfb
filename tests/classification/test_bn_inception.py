"""BN-Inception: the paper's Figure 5 table counted by hand and osmr/imgclsmob's parameter count,
module output widths, a small forward pass, clear errors."""

import keras
import numpy as np
import pytest

import zoo
from zoo.classification import bn_inception  # noqa: F401  (registers the model)

OSMR_BNINCEPTION = 11_295_240  # osmr/imgclsmob bninception, trainable parameters

# Figure 5 typed in again: input channels, #1x1, #3x3 reduce, #3x3, double #3x3 reduce,
# double #3x3, pool proj (0: pass through), and the table's output width.
PAPER_TABLE = [
    ("3a", 192, 64, 64, 64, 64, 96, 32, 256),
    ("3b", 256, 64, 64, 96, 64, 96, 64, 320),
    ("3c", 320, 0, 128, 160, 64, 96, 0, 576),
    ("4a", 576, 224, 64, 96, 96, 128, 128, 576),
    ("4b", 576, 192, 96, 128, 96, 128, 128, 576),
    ("4c", 576, 160, 128, 160, 128, 160, 128, 608),
    ("4d", 608, 96, 128, 192, 160, 192, 128, 608),
    ("4e", 608, 0, 128, 192, 192, 256, 0, 1056),
    ("5a", 1056, 352, 192, 320, 160, 224, 128, 1024),
    ("5b", 1024, 352, 192, 320, 192, 224, 128, 1024),
]


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _paper_count():
    def c(k, cin, cout):  # conv with bias + affine BN (gamma, beta)
        return k * k * cin * cout + cout + 2 * cout

    total = c(7, 3, 64) + c(1, 64, 64) + c(3, 64, 192)
    for _, cin, n1, r3, n3, rd, nd, proj, out in PAPER_TABLE:
        assert n1 + n3 + nd + (proj or cin) == out
        total += (c(1, cin, n1) if n1 else 0) + c(1, cin, r3) + c(3, r3, n3)
        total += c(1, cin, rd) + c(3, rd, nd) + c(3, nd, nd) + (c(1, cin, proj) if proj else 0)
    return total + 1024 * 1000 + 1000


def test_count_matches_paper_table_and_osmr():
    model = zoo.get("bn_inception")
    assert _trainable(model) == _paper_count() == OSMR_BNINCEPTION
    assert zoo.registry.entry("bn_inception").references["num_params"] == OSMR_BNINCEPTION
    for key, *_, out in PAPER_TABLE:
        assert model.get_layer(f"inception_{key}_output").output.shape[-1] == out
    assert model.get_layer("inception_5b_output").output.shape == (None, 7, 7, 1024)
    assert isinstance(model.get_layer("inception_5b_pool"), keras.layers.MaxPooling2D)
    assert isinstance(model.get_layer("inception_5a_pool"), keras.layers.AveragePooling2D)
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    assert max(la.kernel_size[0] for la in convs[1:]) == 3  # no 5x5 left (only conv1 is 7x7)
    assert not any(isinstance(la, keras.layers.Dropout) for la in model.layers)


def test_small_forward_pass(rng):
    model = zoo.get("bn_inception", classes=10, input_shape=(64, 64, 3))
    out = np.asarray(model.predict(rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32"), verbose=0))
    assert out.shape == (2, 10) and np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_shape=(16, 16, 3)), "too small"),
        (dict(weights="imagenet"), "no official ImageNet weights"),
        (dict(classes=3, num_classes=4), "disagree"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.get("bn_inception", **kwargs)
