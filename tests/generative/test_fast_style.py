"""Fast style transfer: the transformation net, one perceptual-loss step, LiteRT export, bad input."""

import keras
import numpy as np
import pytest

from zoo.generative.fast_style import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    FastStyleTrainer,
    export_litert,
    fast_style_transfer,
    litert_stylize,
    load_image_folder,
    total_variation,
)
from zoo.generative.style import vgg19_features


def test_transform_net_shape_range_and_instance_norm():
    net = fast_style_transfer(filters=4, num_residual=1)
    out = keras.ops.convert_to_numpy(net(np.random.default_rng(0).uniform(0, 255, (2, 32, 48, 3))))
    assert out.shape == (2, 32, 48, 3) and out.min() >= 0 and out.max() <= 255
    # instance normalisation: every image and channel has zero mean and unit variance over its positions
    inner = keras.Model(net.input, net.get_layer("down1_in").output)
    y = keras.ops.convert_to_numpy(inner(np.random.default_rng(1).uniform(0, 255, (2, 16, 16, 3))))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1, atol=1e-2)
    gn = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 4)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(net.get_layer("down1_in").__class__()(x)),
        keras.ops.convert_to_numpy(gn(x)),
        atol=1e-4,
    )
    # Johnson et al.'s full size: 32-64-128 channels, 5 residual blocks
    assert fast_style_transfer().get_layer("res5b_conv").filters == 128


def test_total_variation_matches_numpy(rng):
    x = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    want = np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=2)).mean()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(total_variation(x)), want, rtol=1e-5)


def test_perceptual_loss_trains_the_transform_only():
    rng = np.random.default_rng(0)
    net = fast_style_transfer(filters=4, num_residual=1)
    vgg = vgg19_features(None, (CONTENT_LAYER, *STYLE_LAYERS))
    trainer = FastStyleTrainer(net, rng.uniform(0, 255, (32, 32, 3)), vgg)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2))
    vgg_before = [keras.ops.convert_to_numpy(w).copy() for w in vgg.weights]
    net_before = [keras.ops.convert_to_numpy(w).copy() for w in net.trainable_weights]
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    losses = trainer.fit(images, batch_size=2, epochs=3, verbose=0).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert all(np.array_equal(a, keras.ops.convert_to_numpy(b)) for a, b in zip(vgg_before, vgg.weights))
    assert all(
        not np.allclose(a, keras.ops.convert_to_numpy(b)) for a, b in zip(net_before, net.trainable_weights)
    )


@pytest.mark.parametrize("quantization", ["float16", pytest.param("dynamic", marks=pytest.mark.slow)])
def test_litert_export_runs_in_the_interpreter(tmp_path, quantization):
    net = fast_style_transfer(filters=4, num_residual=1)
    image = np.random.default_rng(0).uniform(0, 255, (64, 64, 3)).astype("float32")
    path = export_litert(net, tmp_path / "style.tflite", size=64, quantization=quantization)
    out, seconds = litert_stylize(path, image)
    ref = keras.ops.convert_to_numpy(net(image[None]))[0]
    assert out.shape == (64, 64, 3) and seconds > 0
    assert np.abs(out.astype(np.float32) - ref).mean() < 3.0  # quantised weights: close, not equal
    with pytest.raises(ValueError, match="exported for 64x64"):
        litert_stylize(path, image[:32, :32])


def test_empty_or_missing_image_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="holds no images"):
        load_image_folder(tmp_path, 32)
    with pytest.raises(ValueError, match="does not exist"):
        load_image_folder(tmp_path / "nope", 32)
