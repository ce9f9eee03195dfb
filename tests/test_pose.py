"""K-point regression: stick figures, the regressor, PCK against hand values, K = 0, the skeleton PNG."""

import numpy as np
import pytest

import zoo
from tests.model_helpers import tiny_conv_body as _tiny_body
from zoo.data.pose import SKELETON, stick_figure, stick_figure_arrays
from zoo.pose import draw_skeletons, mean_pixel_error, pck, pose_regressor


def test_stick_figures_are_deterministic_and_inside():
    a, b = stick_figure_arrays(5, 48, seed=1), stick_figure_arrays(5, 48, seed=1)
    np.testing.assert_array_equal(a["images"], b["images"])
    assert a["joints"].shape == (5, len(SKELETON), 2)
    assert np.all((a["joints"] > 0) & (a["joints"] < 1))
    assert stick_figure_arrays(2, 48, num_joints=3)["joints"].shape == (2, 3, 2)


def test_k_zero_is_refused():
    with pytest.raises(ValueError, match="num_joints K must be in 1"):
        stick_figure(np.random.default_rng(0), 48, num_joints=0)
    with pytest.raises(ValueError, match="positive integer"):
        pose_regressor(_tiny_body(), num_joints=0)


def test_pck_and_pixel_error_against_hand_values():
    true = np.array([[[0.0, 0.0], [0.6, 0.8], [0.3, 0.4]]])  # figure size = 1.0
    pred = true + np.array([[[0.1, 0.0], [0.0, 0.3], [0.19, 0.0]]])
    assert pck(pred, true, 0.2) == pytest.approx(2 / 3)
    assert mean_pixel_error(pred, true, 100) == pytest.approx((10 + 30 + 19) / 3)
    with pytest.raises(ValueError, match="N, K, 2"):
        pck(pred[0], true[0])


def test_regressor_fits_and_draws(tmp_path):
    model = pose_regressor(
        zoo.get("vgg11", include_top=False, input_shape=(32, 32, 3)), num_joints=7, fc_units=16
    )
    assert model.output_shape == (None, 7, 2)
    data = stick_figure_arrays(8, 32)
    model.compile(optimizer="adam", loss="mse")
    model.fit(data["images"].astype("float32"), data["joints"], epochs=1, verbose=0)
    pred = model.predict(data["images"].astype("float32"), verbose=0)
    assert np.all((pred >= 0) & (pred <= 1))
    path = draw_skeletons(tmp_path / "skel.png", data["images"][:4], pred[:4], data["joints"][:4], SKELETON)
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_pck_with_visibility_counts_only_visible_joints_and_misses_nan():
    true = np.array([[[0.0, 0.0], [3.0, 4.0], [9.0, 9.0]], [[0.0, 0.0], [6.0, 8.0], [1.0, 1.0]]])
    visible = np.array([[True, True, False], [True, True, True]])  # sizes: 5 (joint 2 hidden) and 10
    pred = true + np.array([[[0.9, 0], [0, 1.1], [0, 0]], [[1.9, 0], [np.nan, 0], [0, 2.1]]])
    # figure 0: 0.9 <= 1, 1.1 > 1; figure 1: 1.9 <= 2, NaN never correct, 2.1 > 2  ->  2 of 5
    assert pck(pred, true, 0.2, visible) == pytest.approx(2 / 5)
    assert np.isnan(pck(pred, true, 0.2, np.zeros((2, 3), bool)))
    with pytest.raises(ValueError, match="visible must be"):
        pck(pred, true, 0.2, visible[:, :2])


def test_crop_windows_and_refiner_targets_point_at_the_joint():
    """A single white pixel at each joint: the window's target coordinates land on it."""
    from zoo.pose import crop_windows, refiner_training_data

    s, crop = 40, 12
    joints = np.array([[[10.5, 20.5], [35.5, 3.5]]]) / s  # pixel centres (10, 20) and (35, 3)
    images = np.zeros((1, s, s, 3), "float32")
    for x, y in (joints[0] * s).astype(int):
        images[0, y, x] = 255
    w, o = crop_windows(images, joints, crop)
    np.testing.assert_array_equal(o[0, 0], np.round(joints[0, 0] * s - 6))
    (win, onehot), target = refiner_training_data(
        images, joints, np.full(2, 3 / s), crop, np.random.default_rng(0)
    )
    assert win.shape == (2, crop, crop, 3) and onehot.tolist() == [[1, 0], [0, 1]]
    for m in range(2):
        ty, tx = np.argwhere(win[m, ..., 0] == 255)[0]
        px, py = target[m] * crop  # the joint's continuous position inside the window
        assert int(np.floor(px)) == tx and int(np.floor(py)) == ty
    with pytest.raises(ValueError, match="crop must be between 2"):
        crop_windows(images, joints, 41)


def test_pose_experiment_writes_report_and_resumes(tmp_path):
    from zoo.pose import run_pose_experiment

    kw = dict(width=0.0625, image_size=32, train_images=16, val_images=8, epochs=1, refine_epochs=1, crop=12,
              batch_size=8, verbose=0)  # fmt: skip
    report = run_pose_experiment(tmp_path, **kw)
    assert set(report["results"]) == {"stage1", "cascade"}
    assert 0 <= report["results"]["cascade"]["pck@0.2"] <= 1
    assert (tmp_path / "skeletons.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "stage2" / "done.json").is_file()
    again = run_pose_experiment(tmp_path, **kw)  # finished stages are reloaded, not retrained
    assert again["results"] == report["results"]
