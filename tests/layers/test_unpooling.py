"""Unpooling layers: NumPy references for max pooling/unpooling and the bilinear kernel formula."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.layers.unpooling import (
    BilinearInitializer,
    BilinearUpsampling,
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    NearestUnpooling2D,
    bilinear_kernel,
)


def _np_max_pool_argmax(x: np.ndarray, pool: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain loops: 'valid' max pooling with flat (y * W + x) * C + c argmax (first max wins)."""
    b, h, w, c = x.shape
    oh, ow = (h - pool) // stride + 1, (w - pool) // stride + 1
    pooled = np.zeros((b, oh, ow, c), x.dtype)
    argmax = np.zeros((b, oh, ow, c), np.int64)
    for n in range(b):
        for i in range(oh):
            for j in range(ow):
                for k in range(c):
                    best, where = -np.inf, -1
                    for dy in range(pool):
                        for dx in range(pool):
                            y, xx = i * stride + dy, j * stride + dx
                            if x[n, y, xx, k] > best:
                                best, where = x[n, y, xx, k], (y * w + xx) * c + k
                    pooled[n, i, j, k], argmax[n, i, j, k] = best, where
    return pooled, argmax


@pytest.mark.multibackend
@pytest.mark.parametrize("pool,stride", [(2, 2), (3, 2), (3, 3)])
def test_max_pooling_with_argmax_matches_numpy(pool, stride):
    x = np.random.default_rng(0).normal(size=(2, 7, 8, 3)).astype("float32")
    pooled, argmax = MaxPoolingWithArgmax2D(pool, stride)(x)
    ref_pooled, ref_argmax = _np_max_pool_argmax(x, pool, stride)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), ref_pooled)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(argmax), ref_argmax)


@pytest.mark.multibackend
def test_same_padding_matches_keras_max_pooling():
    x = -np.abs(np.random.default_rng(1).normal(size=(1, 5, 7, 2))).astype("float32")  # all negative
    pooled, argmax = MaxPoolingWithArgmax2D(3, 2, padding="same")(x)
    ref = keras.layers.MaxPooling2D(3, 2, padding="same")(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), keras.ops.convert_to_numpy(ref))
    flat = x.reshape(1, -1)
    a = keras.ops.convert_to_numpy(argmax).reshape(1, -1)
    np.testing.assert_allclose(flat[0, a[0]], keras.ops.convert_to_numpy(pooled).reshape(-1))


def test_argmax_agrees_with_tf_max_pool_with_argmax():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow reference")
    x = np.random.default_rng(2).normal(size=(2, 8, 6, 4)).astype("float32")
    _, ref = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", include_batch_in_index=False)
    _, argmax = MaxPoolingWithArgmax2D(2)(x)
    np.testing.assert_array_equal(np.asarray(argmax), ref.numpy())


@pytest.mark.multibackend
def test_max_unpooling_round_trip_puts_maxima_back_and_zeros_elsewhere():
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 6 * 8 * 3).reshape(2, 6, 8, 3).astype("float32") + 1.0  # distinct, > 0
    pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
    restored = keras.ops.convert_to_numpy(MaxUnpooling2D(2)([pooled, argmax]))
    expected = np.zeros_like(x)
    blocks = x.reshape(2, 3, 2, 4, 2, 3)
    maxima = blocks.max(axis=(2, 4), keepdims=True)
    expected = np.where(blocks == maxima, blocks, 0.0).reshape(x.shape)
    np.testing.assert_array_equal(restored, expected)
    assert (restored != 0).sum() == pooled.shape[0] * pooled.shape[1] * pooled.shape[2] * pooled.shape[3]


@pytest.mark.multibackend
def test_max_unpooling_with_reference_handles_odd_sizes():
    x = np.random.default_rng(4).normal(size=(1, 5, 7, 2)).astype("float32")
    pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
    restored = keras.ops.convert_to_numpy(MaxUnpooling2D(2)([pooled, argmax, x]))
    assert restored.shape == x.shape
    ref_pooled, ref_argmax = _np_max_pool_argmax(x, 2, 2)
    expected = np.zeros(x.size, np.float32)
    expected[ref_argmax.reshape(-1)] = ref_pooled.reshape(-1)
    np.testing.assert_array_equal(restored, expected.reshape(x.shape))


@pytest.mark.multibackend
def test_max_unpooling_gradient_reaches_values():
    inp = keras.Input((4, 4, 2))
    pooled, argmax = MaxPoolingWithArgmax2D(2)(inp)
    out = MaxUnpooling2D(2)([keras.layers.Conv2D(2, 1, name="mix")(pooled), argmax])
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.default_rng(5).normal(size=(2, 4, 4, 2)).astype("float32")
    before = model.get_layer("mix").get_weights()[0].copy()
    model.train_on_batch(x, np.ones_like(x))
    assert not np.allclose(before, model.get_layer("mix").get_weights()[0])


@pytest.mark.multibackend
def test_nearest_unpooling_repeats_each_cell():
    x = np.arange(2 * 2 * 3 * 1, dtype="float32").reshape(2, 2, 3, 1)
    y = keras.ops.convert_to_numpy(NearestUnpooling2D((2, 3))(x))
    np.testing.assert_array_equal(y, np.kron(x, np.ones((1, 2, 3, 1), np.float32)))


def test_bilinear_kernel_formula():
    # Known values: size 4 (factor 2) is the outer product of [1, 3, 3, 1] / 4.
    line = np.array([1, 3, 3, 1]) / 4
    np.testing.assert_allclose(bilinear_kernel(4), np.outer(line, line))
    line3 = np.array([0.5, 1.0, 0.5])
    np.testing.assert_allclose(bilinear_kernel(3), np.outer(line3, line3))
    # size 16 (factor 8): 1 - |i - 7.5| / 8.
    line16 = 1 - np.abs(np.arange(16) - 7.5) / 8
    np.testing.assert_allclose(bilinear_kernel(16), np.outer(line16, line16), rtol=1e-6)
    full = bilinear_kernel(4, channels=3)
    assert full.shape == (4, 4, 3, 3)
    assert full[:, :, 0, 1].sum() == 0 and np.allclose(full[:, :, 2, 2], bilinear_kernel(4))


@pytest.mark.multibackend
def test_bilinear_upsampling_interpolates_linear_ramp():
    # Bilinear interpolation reproduces a linear ramp away from the borders.
    ramp = np.arange(6, dtype="float32")
    x = np.tile(ramp[None, :, None, None], (1, 1, 6, 1))  # rows vary
    layer = BilinearUpsampling(filters=1, factor=2)
    y = keras.ops.convert_to_numpy(layer(x))[0, :, :, 0]
    assert y.shape == (12, 12)
    expected_rows = (np.arange(12) - 0.5) / 2  # output pixel centres in input coordinates
    np.testing.assert_allclose(y[2:-2, 5], expected_rows[2:-2], atol=1e-6)
    assert not layer.trainable and layer.trainable_weights == []


def test_bilinear_initializer_rejects_channel_mismatch():
    with pytest.raises(ValueError, match="channels must be equal"):
        BilinearInitializer()((4, 4, 2, 3))
    with pytest.raises(ValueError, match="must be equal"):
        BilinearUpsampling(filters=2, factor=2)(np.zeros((1, 4, 4, 3), "float32"))


def test_configs_and_save_load_round_trip(tmp_path):
    inp = keras.Input((8, 8, 2))
    pooled, argmax = MaxPoolingWithArgmax2D(2, name="pool")(inp)
    unpooled = MaxUnpooling2D(2, name="unpool")([pooled, argmax, inp])
    near = NearestUnpooling2D(2, name="near")(pooled)
    up = BilinearUpsampling(filters=2, factor=2, trainable=True, name="bilinear")(pooled)
    out = keras.layers.Concatenate()([unpooled, near, up])
    model = keras.Model(inp, out)
    for name in ("pool", "unpool", "near", "bilinear"):
        layer = model.get_layer(name)
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    x = np.random.default_rng(6).normal(size=(2, 8, 8, 2)).astype("float32")
    path = tmp_path / "unpool.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert loaded.get_layer("bilinear").trainable
    assert isinstance(
        keras.initializers.deserialize(keras.initializers.serialize(BilinearInitializer())),
        BilinearInitializer,
    )
