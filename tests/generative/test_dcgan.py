"""DCGAN: architecture guidelines, the tutorial's parameter counts, the losses against NumPy, train_step."""

import keras
import numpy as np
import pytest

import zoo
from zoo.generative.dcgan import GAN, dcgan_discriminator, dcgan_generator, discriminator_loss, generator_loss


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_parameter_counts_match_the_pytorch_dcgan_tutorial():
    # PyTorch DCGAN tutorial (nz=100, ngf=ndf=64, nc=3): Generator 3,576,704, Discriminator 2,765,568
    assert _trainable(zoo.get("dcgan_generator")) == 3_576_704
    assert _trainable(zoo.get("dcgan_discriminator")) == 2_765_568


@pytest.mark.parametrize("size", [28, 32, 64])
def test_sizes_and_guidelines(size):
    gen = dcgan_generator(image_size=size, channels=1, filters=8)
    disc = dcgan_discriminator(image_size=size, channels=1, filters=8)
    img = gen(keras.random.normal((2, 100)))
    assert tuple(img.shape) == (2, size, size, 1)
    arr = keras.ops.convert_to_numpy(img)
    assert arr.min() >= -1 and arr.max() <= 1  # tanh output
    assert tuple(disc(img).shape) == (2, 1)
    kinds = {type(layer).__name__ for layer in gen.layers + disc.layers}
    assert not kinds & {"MaxPooling2D", "AveragePooling2D"}  # strided convolutions only
    assert isinstance(gen.layers[-2], keras.layers.Conv2DTranspose)  # no BN on the generator's output
    assert disc.get_layer("down2_bn") and "down1_bn" not in [la.name for la in disc.layers]
    assert disc.get_layer("down1_lrelu").negative_slope == pytest.approx(0.2)


def test_losses_match_numpy():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(8, 1)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    d_real, d_fake = 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake))
    j_d = -np.mean(np.log(d_real)) - np.mean(np.log(1 - d_fake))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(discriminator_loss(real, fake)), j_d, rtol=1e-5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(generator_loss(fake)), -np.mean(np.log(d_fake)), rtol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(generator_loss(fake, "minimax")), np.mean(np.log(1 - d_fake)), rtol=1e-5
    )


def test_non_saturating_loss_keeps_the_gradient_when_d_is_sure():
    # early in training D(G(z)) ~ 0: log(1 - D) saturates, -log D does not (course material)
    logit = -6.0
    d = 1 / (1 + np.exp(-logit))
    grad_minimax = -d  # d/dlogit log(1 - sigmoid(l))
    grad_non_saturating = -(1 - d)  # d/dlogit -log(sigmoid(l))
    assert abs(grad_non_saturating) > 100 * abs(grad_minimax)


def _snapshot(model):
    return [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]


@pytest.mark.parametrize("d_steps,g_steps", [pytest.param(1, 1, marks=pytest.mark.multibackend), (2, 0)])
def test_train_step_alternates_and_updates(d_steps, g_steps):
    gen = dcgan_generator(image_size=28, channels=1, latent_dim=8, filters=4)
    disc = dcgan_discriminator(image_size=28, channels=1, filters=4)
    gan = GAN(gen, disc, d_steps=d_steps, g_steps=g_steps, seed=1)
    gan.compile()
    g0, d0 = _snapshot(gen), _snapshot(disc)
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    history = gan.fit(images, batch_size=8, epochs=2, verbose=0).history
    assert set(history) >= {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v).all() for v in history.values())
    d_moved = [not np.allclose(a, b) for a, b in zip(d0, _snapshot(disc))]
    g_moved = [not np.allclose(a, b) for a, b in zip(g0, _snapshot(gen))]
    assert all(d_moved)  # every discriminator weight gets a gradient
    assert all(g_moved) if g_steps else not any(g_moved)  # g_steps=0 leaves the generator alone
    assert gan.optimizer.iterations.numpy() == 2 * 2 * (d_steps + g_steps)
    assert gan.sample(3).shape == (3, 28, 28, 1)


def test_gan_rejects_mismatched_networks():
    with pytest.raises(ValueError, match="does not fit"):
        GAN(dcgan_generator(28, 1, filters=4), dcgan_discriminator(32, 1, filters=4))
    with pytest.raises(ValueError, match="image_size"):
        dcgan_generator(image_size=48)


def test_shapes_data_are_labelled_by_the_one_object_they_hold():
    from zoo.data.shapes import generate_shapes_example
    from zoo.generative.dcgan import load_gan_images

    x, y = load_gan_images("shapes", 32, n=12, seed=3)
    assert x.shape == (12, 32, 32, 3) and x.min() >= -1 and x.max() <= 1
    rng = np.random.default_rng(3)  # the same scenes, drawn again: label = shape class - 1 (no background)
    want = [int(generate_shapes_example(rng, 32, max_objects=1)["classes"][0]) - 1 for _ in range(12)]
    assert y.tolist() == want and set(y) <= {0, 1, 2}
