"""Gatys style transfer: loss terms against a NumPy implementation of the equations, optimisation, bad input."""

import keras
import numpy as np
import pytest

from zoo.generative.style import STYLE_LAYERS, StyleLoss, check_image, features, stylize, vgg19_features


@pytest.fixture(scope="module")
def net():
    keras.utils.set_random_seed(0)
    return vgg19_features(weights=None)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48]
    content = np.stack([xx * 5, yy * 5, (xx + yy) * 2.5], -1).astype("float32")  # smooth gradients
    style = rng.uniform(0, 255, (40, 56, 3)).astype("float32")  # a different size: the Gram does not care
    return content, style


def _numpy_terms(f, p, a):
    """The course material's equations, written again in NumPy on the feature maps."""
    content = 0.5 * np.sum((f["block4_conv2"] - p["block4_conv2"]) ** 2)
    style = 0.0
    for name in STYLE_LAYERS:
        F = f[name][0].reshape(-1, f[name].shape[-1]).T  # N x M
        A_feats = a[name][0].reshape(-1, a[name].shape[-1]).T
        N, M = F.shape
        G, A = F @ F.T, A_feats @ A_feats.T
        style += 0.2 * np.sum((G - A) ** 2) / (4 * N**2 * M**2)
    return content, style


def test_loss_terms_match_numpy(net, images):
    content, style = images
    loss = StyleLoss(net, content, style, alpha=2.0, beta=7.0)
    x = np.random.default_rng(1).uniform(0, 255, (1, *content.shape)).astype("float32")
    np_feats = {k: keras.ops.convert_to_numpy(v).astype(np.float64) for k, v in features(net, x).items()}
    p = {k: keras.ops.convert_to_numpy(v).astype(np.float64) for k, v in features(net, content[None]).items()}
    a = {k: keras.ops.convert_to_numpy(v).astype(np.float64) for k, v in features(net, style[None]).items()}
    want_c, want_s = _numpy_terms(np_feats, p, a)
    got = {k: float(keras.ops.convert_to_numpy(v)) for k, v in loss.terms(x).items()}
    np.testing.assert_allclose(got["content"], want_c, rtol=1e-4)
    np.testing.assert_allclose(got["style"], want_s, rtol=1e-4)
    np.testing.assert_allclose(got["total"], 2.0 * want_c + 7.0 * want_s, rtol=1e-4)


@pytest.mark.multibackend
def test_total_loss_falls_and_alpha_beta_trade_content_for_style(net, images):
    content, style = images
    runs = {}
    for name, (alpha, beta) in {"content-heavy": (1.0, 1e-2), "style-heavy": (1e-4, 1e3)}.items():
        out = stylize(content, style, net=net, alpha=alpha, beta=beta, iterations=8, progress=False)
        assert out.image.shape == content.shape and out.image.dtype == np.uint8
        assert out.history[-1]["total"] < out.history[0]["total"]
        runs[name] = out.history[-1]
    # a larger alpha/beta keeps the image closer to the content; a smaller one matches the style better
    assert runs["content-heavy"]["content"] < runs["style-heavy"]["content"]
    assert runs["style-heavy"]["style"] < runs["content-heavy"]["style"]


def test_adam_also_lowers_the_loss(net, images):
    content, style = images
    out = stylize(content, style, net=net, iterations=10, optimizer="adam", learning_rate=2.0, progress=False)
    assert out.history[-1]["total"] < out.history[0]["total"]


def test_small_or_bad_images_are_refused(net, images):
    with pytest.raises(ValueError, match="smaller than VGG19"):
        check_image(np.zeros((20, 64, 3)), "content")
    with pytest.raises(ValueError, match="RGB"):
        check_image(np.zeros((64, 64)), "style")
    with pytest.raises(ValueError, match="content image is 16x16"):
        stylize(np.zeros((16, 16, 3)), images[1], net=net, progress=False)
