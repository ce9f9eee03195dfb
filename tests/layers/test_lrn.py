import keras
import numpy as np
import pytest

from zoo.layers import LocalResponseNormalization


def lrn_reference(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    """The paper's formula, channel by channel, in plain NumPy loops."""
    out = np.empty_like(a)
    channels = a.shape[-1]
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        s = (a[..., lo : hi + 1] ** 2).sum(-1)
        out[..., i] = a[..., i] / (k + alpha * s) ** beta
    return out


@pytest.mark.multibackend
def test_lrn_matches_paper_formula(rng):
    x = rng.normal(0, 30, (2, 4, 5, 7)).astype("float32")
    layer = LocalResponseNormalization(depth=5, k=2.0, alpha=1e-4, beta=0.75)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), lrn_reference(x), rtol=1e-5, atol=1e-6)


def test_lrn_large_alpha_and_small_channel_count(rng):
    x = rng.normal(0, 1, (1, 3, 3, 2)).astype("float32")
    layer = LocalResponseNormalization(depth=3, k=1.0, alpha=0.5, beta=0.5)
    ref = lrn_reference(x, n=3, k=1.0, alpha=0.5, beta=0.5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), ref, rtol=1e-5)


def test_lrn_rejects_even_depth():
    with pytest.raises(ValueError, match="odd"):
        LocalResponseNormalization(depth=4)


def test_lrn_saves_and_loads(tmp_path, rng):
    inp = keras.Input((4, 4, 6))
    model = keras.Model(inp, LocalResponseNormalization(depth=3, alpha=1e-3, name="lrn")(inp))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = rng.normal(size=(1, 4, 4, 6)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert loaded.get_layer("lrn").get_config()["alpha"] == pytest.approx(1e-3)
