"""GradientReversal: identity forward, -lambda x gradient backward, against the analytic gradient
d/dx sum(w * f(x)) = -lambda * w (TensorFlow and JAX), and saving."""

import keras
import numpy as np
import pytest

from zoo.layers import GradientReversal


def _grad(layer, x, w):
    """d/dx sum(w * layer(x)) on the current backend, eagerly and compiled."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def g(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(w * layer(x))
            return tape.gradient(loss, x)

        xt = tf.constant(x)
        return np.asarray(g(xt)), np.asarray(tf.function(g)(xt))
    if backend == "jax":
        import jax

        def loss(x):
            return (w * layer(x)).sum()

        return np.asarray(jax.grad(loss)(x)), np.asarray(jax.jit(jax.grad(loss))(x))
    pytest.skip(f"no gradient check written for backend {backend}")


@pytest.mark.multibackend
@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_forward_is_identity_and_gradient_is_reversed(lam, rng):
    x = rng.normal(size=(4, 5)).astype("float32")
    w = rng.normal(size=(4, 5)).astype("float32")
    layer = GradientReversal(lam)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    for g in _grad(layer, x, w):
        np.testing.assert_allclose(g, -lam * w, rtol=1e-6, atol=1e-7)


@pytest.mark.multibackend
def test_lambda_change_reaches_the_compiled_gradient(rng):
    x = rng.normal(size=(2, 3)).astype("float32")
    w = np.ones((2, 3), "float32")
    layer = GradientReversal(0.5)
    _grad(layer, x, w)
    layer.set_lambda(2.0)
    for g in _grad(layer, x, w):
        np.testing.assert_allclose(g, -2.0 * w, rtol=1e-6)


def test_round_trips_through_saving(tmp_path, rng):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(GradientReversal(0.25, name="grl")(inputs)))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("grl"), GradientReversal)
    assert loaded.get_layer("grl").get_config()["lambda_"] == 0.25
    x = rng.normal(size=(2, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
