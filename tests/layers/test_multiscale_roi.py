"""FPN level assignment (Lin et al. eq. 1) against NumPy; RoIAlign parity is in tests/torch/."""

import numpy as np

from zoo.layers import fpn_levels


def test_fpn_levels_follow_eq_1():
    boxes = np.array([[0, 0, 224, 224], [0, 0, 112, 112], [0, 0, 111, 111], [0, 0, 448, 448], [0, 0, 1, 1],
                      [5, 5, 5, 9], [0, 0, 2000, 2000]], "float32")  # fmt: skip
    expected = np.clip(np.floor(4 + np.log2(np.sqrt(np.maximum(
        (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-12)) / 224) + 1e-6), 2, 5)  # fmt: skip
    np.testing.assert_array_equal(np.asarray(fpn_levels(boxes)), expected.astype("int32"))
