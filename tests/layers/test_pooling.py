import keras
import numpy as np
import pytest

from zoo.layers import AdaptiveAvgPool2D


def adaptive_reference(x, out):
    """torch.nn.AdaptiveAvgPool2d's definition, written as loops."""
    b, h, w, c = x.shape
    y = np.zeros((b, out, out, c), "float32")
    for i in range(out):
        r0, r1 = (i * h) // out, -((-(i + 1) * h) // out)
        for j in range(out):
            c0, c1 = (j * w) // out, -((-(j + 1) * w) // out)
            y[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return y


@pytest.mark.multibackend
@pytest.mark.parametrize("size", [1, 3, 6, 7, 13])
def test_adaptive_pool_matches_definition(size, rng):
    x = rng.normal(size=(2, size, size, 3)).astype("float32")
    got = keras.ops.convert_to_numpy(AdaptiveAvgPool2D(6)(x))
    np.testing.assert_allclose(got, adaptive_reference(x, 6), rtol=1e-5, atol=1e-6)


def test_adaptive_pool_in_a_compiled_model_with_small_input(rng):
    inp = keras.Input((1, 1, 4))
    model = keras.Model(inp, AdaptiveAvgPool2D((6, 6))(inp))
    x = rng.normal(size=(2, 1, 1, 4)).astype("float32")
    out = model.predict(x, verbose=0)
    np.testing.assert_allclose(out, np.broadcast_to(x, (2, 6, 6, 4)), rtol=1e-6)
