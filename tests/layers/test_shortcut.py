"""ZeroPadShortcut (ResNet option A): NumPy reference, config, save/load round trip."""

import keras
import numpy as np
import pytest

from zoo.layers.shortcut import ZeroPadShortcut


def _reference(x, filters, strides):
    sub = x[:, ::strides, ::strides, :]
    out = np.zeros(sub.shape[:3] + (filters,), dtype=x.dtype)
    out[..., : x.shape[-1]] = sub
    return out


@pytest.mark.multibackend
@pytest.mark.parametrize("size, filters, strides", [(7, 8, 2), (8, 8, 2), (6, 12, 1), (5, 4, 1)])
def test_matches_numpy_reference(size, filters, strides, rng):
    x = rng.normal(size=(2, size, size, 4)).astype("float32")
    layer = ZeroPadShortcut(filters, strides)
    out = np.asarray(layer(x))
    np.testing.assert_array_equal(out, _reference(x, filters, strides))
    assert tuple(layer.compute_output_shape(x.shape)) == out.shape
    assert not layer.weights


def test_rejects_fewer_filters_than_channels():
    with pytest.raises(ValueError, match="filters"):
        ZeroPadShortcut(2, 1)(np.zeros((1, 4, 4, 3), "float32"))


def test_save_load_round_trip(tmp_path, rng):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, ZeroPadShortcut(6, 2, name="short")(inputs))
    assert model.get_layer("short").get_config()["filters"] == 6
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = rng.normal(size=(1, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
