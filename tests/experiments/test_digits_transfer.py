"""zoo.experiments.digits_transfer: the offline crocodile experiment, quick form."""

import pytest

from zoo.experiments.digits_transfer import run_digits_demo


@pytest.mark.slow
def test_digits_demo_quick(tmp_path):
    report = run_digits_demo(tmp_path, quick=True, progress=False)
    assert report["goal"] is not None and (tmp_path / "fine_tuned.keras").is_file()
    from zoo.saving import read_model_info

    info = read_model_info(tmp_path / "fine_tuned.keras")  # what `zoo convert` needs, inside the file
    assert info["preprocess"] == "unit" and info["labels"] == ["5", "6", "7", "8", "9"]
    assert (tmp_path / "learning_curve.png").is_file() and (tmp_path / "report.json").is_file()
    assert report["variant"] == "jittered" and "jittered" in report["demo"]
    assert report["n_source"] == 8 * 901
    assert report["accuracy_mean"]["head_swap"]["10"] > 0.3  # chance: 0.2 (5 classes)
