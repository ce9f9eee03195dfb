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
