"""U-Net: the paper's shapes and parameter count, same-padding options, clear errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from zoo.segmentation.unet import unet


def _paper_param_count() -> int:
    """The paper's Fig. 1 layer list counted by hand: 3x3 convs, 2x2 up-convs, a 1x1 conv to 2 classes."""
    conv = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731
    widths = [64, 128, 256, 512, 1024]
    total, cin = 0, 1
    for w in widths:  # contracting path
        total += conv(3, cin, w) + conv(3, w, w)
        cin = w
    for w in reversed(widths[:-1]):  # expanding path
        total += conv(2, cin, w) + conv(3, 2 * w, w) + conv(3, w, w)
        cin = w
    return total + conv(1, 64, 2)


def test_paper_configuration_shapes_and_parameters():
    model = zoo.get("unet")  # valid padding, 572x572x1, 2 classes
    assert model.input_shape == (None, 572, 572, 1)
    assert model.output_shape == (None, 388, 388, 2)
    assert model.count_params() == _paper_param_count() == 31_030_658
    assert zoo.info("unet", measure=False)["references"]["num_params"] == 31_030_658
    # Skip crops of the paper's Fig. 1: 64x64 -> 56x56 at the bottom skip, 568 -> 392 at the top.
    assert model.get_layer("dec4_crop").output.shape[1:3] == (56, 56)
    assert model.get_layer("dec1_crop").output.shape[1:3] == (392, 392)


def test_same_padding_count_equals_valid_padding_count():
    assert unet(padding="same", input_shape=(None, None, 1)).count_params() == 31_030_658


@pytest.mark.multibackend
def test_tiny_same_padding_unet_forward():
    model = unet(
        num_classes=3, input_shape=(None, None, 3), padding="same", depth=2, filters=2, batch_norm=True
    )
    out = keras.ops.convert_to_numpy(model(np.zeros((1, 16, 24, 3), "float32")))
    assert out.shape == (1, 16, 24, 3)


def test_tiny_same_padding_unet_trains_and_keeps_resolution():
    model = unet(num_classes=3, input_shape=(32, 32, 3), padding="same", depth=3, filters=4, batch_norm=True)
    assert model.output_shape == (None, 32, 32, 3)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, (2, 32, 32))
    before = [w.numpy().copy() if hasattr(w, "numpy") else np.asarray(w) for w in model.trainable_weights]
    model.train_on_batch(x, y)
    after = [np.asarray(w) for w in model.trainable_weights]
    assert all(not np.allclose(a, b) for a, b in zip(before, after))


def test_valid_padding_small_tile():
    model = unet(num_classes=2, input_shape=(92, 92, 1), depth=3, filters=4)
    # 92 -> 88 -> 44 -> 40 -> 20 -> 16 (bottom) -> 32 -> 28 -> 56 -> 52
    assert model.output_shape == (None, 52, 52, 2)


def test_clear_errors():
    with pytest.raises(ValueError, match="Valid input sides near 570: .*572"):
        unet(input_shape=(570, 570, 1))
    with pytest.raises(ValueError, match="divisible by 16"):
        unet(padding="same", input_shape=(100, 100, 3))
    with pytest.raises(ValueError, match="fixed input size"):
        unet(input_shape=(None, None, 1))
    with pytest.raises(ValueError, match="padding"):
        unet(padding="reflect")
    with pytest.raises(TypeError, match="unknown keyword"):
        zoo.get("unet", base_filters=8)


def test_unet_vgg16_shapes_and_backbone_names():
    model = zoo.get("unet_vgg16", num_classes=3, input_shape=(32, 32, 3))
    assert model.output_shape == (None, 32, 32, 3)
    assert model.get_layer("block5_conv3").output.shape[1:3] == (2, 2)
    with pytest.raises(ValueError, match="divisible by 16"):
        zoo.get("unet_vgg16", input_shape=(40, 40, 3))
