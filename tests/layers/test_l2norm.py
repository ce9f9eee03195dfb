import keras
import numpy as np
import pytest

from zoo.layers import L2Normalization


def _reference(x: np.ndarray, gamma: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    return x / np.sqrt((x**2).sum(-1, keepdims=True) + eps) * gamma


@pytest.mark.multibackend
def test_matches_numpy_reference_and_initial_scale():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4, 8)).astype("float32")
    layer = L2Normalization(scale=20.0)
    y = keras.ops.convert_to_numpy(layer(x))
    gamma = keras.ops.convert_to_numpy(layer.gamma)
    np.testing.assert_allclose(gamma, np.full(8, 20.0))
    np.testing.assert_allclose(y, _reference(x, gamma), rtol=1e-5, atol=1e-5)
    # every position has norm 20 over the channels
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), 20.0, rtol=1e-5)


@pytest.mark.multibackend
def test_zero_input_stays_finite():
    y = keras.ops.convert_to_numpy(L2Normalization()(np.zeros((1, 2, 2, 3), "float32")))
    assert np.all(y == 0)


def test_scale_is_trainable_per_channel():
    layer = L2Normalization(scale=10.0)
    layer.build((None, 3, 3, 6))
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(6,)]
    frozen = L2Normalization(trainable_scale=False)
    frozen.build((None, 3, 3, 6))
    assert not frozen.trainable_weights


def test_bad_arguments():
    with pytest.raises(ValueError, match="scale must be positive"):
        L2Normalization(scale=0)
    with pytest.raises(ValueError, match="channel count"):
        L2Normalization().build((None, 3, 3, None))


@pytest.mark.multibackend
def test_save_load_round_trip(tmp_path):
    inputs = keras.Input((4, 4, 3))
    outputs = L2Normalization(scale=5.0, name="norm")(inputs)
    model = keras.Model(inputs, outputs)
    model.get_layer("norm").gamma.assign(np.array([1.0, 2.0, 3.0], "float32"))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    cfg = loaded.get_layer("norm").get_config()
    assert cfg["scale"] == 5.0 and cfg["trainable_scale"] is True
