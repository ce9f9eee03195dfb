"""zoo.data.digits: the transfer split of scikit-learn's digits, clean and jittered."""

import numpy as np
import pytest

from zoo.data import digits as T


def test_load_digits_variants():
    clean = T.load_digits_split()
    jit = T.load_digits_split(variant="jittered")
    # the determinism checks on two copies per digit (rendering is most of this test's time)
    two = T.load_digits_split(variant="jittered", source_copies=2)
    again = T.load_digits_split(variant="jittered", source_copies=2)
    other = T.load_digits_split(variant="jittered", source_copies=2, seed=1)
    assert clean["source_x"].shape == (901, 32, 32, 1)
    assert jit["source_x"].shape == (8 * 901, 32, 32, 1) and len(jit["source_x"]) > len(clean["source_x"])
    for part in ("target", "test"):  # same split of the original digits, each rendered once
        assert jit[f"{part}_x"].shape == clean[f"{part}_x"].shape
        np.testing.assert_array_equal(jit[f"{part}_y"], clean[f"{part}_y"])
    for key, value in two.items():
        np.testing.assert_array_equal(value, again[key])  # a seed fixes the renderings
        if key.endswith("_x"):
            assert value.dtype == np.float32 and value.min() >= 0.0 and value.max() <= 1.0
            assert not np.array_equal(value, other[key])
    assert set(jit["source_y"].tolist()) == set(range(5)) and set(jit["target_y"].tolist()) == set(range(5))
    np.testing.assert_array_equal(np.bincount(jit["source_y"]), 8 * np.bincount(clean["source_y"]))
    # the eight renderings of a source digit differ (position, size, clutter, noise)
    assert not np.allclose(jit["source_x"][0], jit["source_x"][901])
    assert two["source_x"].shape[0] == 2 * 901
    with pytest.raises(ValueError, match="variant"):
        T.load_digits_split(variant="noisy")


def test_warp_identity_is_an_upscaling_and_rotation_turns_it():
    """The affine renderer against two references: with the identity pose it equals a bilinear
    half-pixel upscaling (keras.ops.image.resize) of a glyph with a black border, and a 90 degree
    rotation gives np.rot90 of that upscaling."""
    import keras

    rng = np.random.default_rng(0)
    glyphs = np.zeros((2, 8, 8), np.float32)
    glyphs[:, 1:7, 1:7] = rng.uniform(0, 1, (2, 6, 6))
    one, zero = np.ones(2), np.zeros(2)
    warped = T._warp_glyphs(glyphs, 24, one, one, zero, zero, zero, zero)
    resized = keras.ops.convert_to_numpy(keras.ops.image.resize(glyphs[..., None], (24, 24)))[..., 0]
    np.testing.assert_allclose(warped, resized, atol=1e-5)
    turned = T._warp_glyphs(glyphs, 24, one, one, np.full(2, np.pi / 2), zero, zero, zero)
    np.testing.assert_allclose(turned, np.rot90(resized, 1, axes=(1, 2)), atol=1e-5)


def test_pose_digits_varies_strokes_keeps_digits_and_is_seeded():
    from sklearn.datasets import load_digits

    digits = load_digits()
    glyphs, labels = digits.images[:300].astype(np.float32) / 16.0, digits.target[:300]
    posed = T.pose_digits(glyphs, 16, np.random.default_rng(0))
    assert posed.shape == (300, 16, 16, 1) and posed.dtype == np.float32
    assert posed.min() >= 0.0 and posed.max() <= 1.0
    np.testing.assert_array_equal(posed, T.pose_digits(glyphs, 16, np.random.default_rng(0)))
    assert not np.allclose(posed, T.pose_digits(glyphs, 16, np.random.default_rng(1)))
    import keras

    clean = keras.ops.convert_to_numpy(keras.ops.image.resize(glyphs[..., None], (16, 16)))
    change = np.abs(posed - clean).mean(axis=(1, 2, 3))
    assert np.median(change) > 0.03  # the pixels move (pose, stroke, ink) ...
    # ... yet each stays its digit: nearest class mean of the clean images (cosine) on the posed ones
    flat = lambda a: a.reshape(len(a), -1) / np.linalg.norm(a.reshape(len(a), -1), axis=1, keepdims=True)  # noqa: E731
    means = flat(np.stack([clean[labels == c].mean(axis=0) for c in range(10)]))
    accuracy = np.mean(np.argmax(flat(posed) @ means.T, axis=1) == labels)
    assert accuracy > 0.7, accuracy
    assert np.mean(posed[:, 0, 0]) < 0.02  # the background stays black (a digit may reach a corner)
