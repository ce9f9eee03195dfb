"""The R-CNN lineage runner: flags cover the config, the shared data, clear errors, a slow end-to-end run."""

from __future__ import annotations

import dataclasses
import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from zoo.detection.lineage import METHODS, LineageConfig, run_lineage, shapes_split

ROOT = Path(__file__).resolve().parents[2]


def _recipe():
    return runpy.run_path(str(ROOT / "recipes" / "rcnn_lineage.py"))


def test_every_config_field_is_a_flag_and_methods_agree():
    recipe = _recipe()
    args = recipe["build_parser"]().parse_args(["--method", "rcnn", "--levels", "1", "2"])
    assert set(vars(args)) == {f.name for f in dataclasses.fields(LineageConfig)}
    assert tuple(recipe["METHODS"]) == METHODS and args.levels == [1, 2]


def test_shapes_split_is_the_shapes_dataset():
    """Image i of the split is shapes_dataset's image i (default_rng([seed, i])), padded ground truth."""
    from zoo.data.shapes import generate_shapes_example

    cfg = LineageConfig(image_size=64, val_images=3, max_objects=4)
    val = shapes_split(cfg, train=False)
    for i in range(3):
        ex = generate_shapes_example(np.random.default_rng([cfg.seed + 1_000_003, i]), 64, 4, 1)
        n = len(ex["classes"])
        np.testing.assert_array_equal(val["images"][i], ex["image"].astype(np.float32))
        np.testing.assert_array_equal(val["boxes"][i, :n], ex["boxes"])
        assert val["valid"][i].sum() == n and np.all(val["classes"][i, n:] == -1)


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="choose from"):
        run_lineage(LineageConfig(method="yolo", workdir=str(tmp_path)))
    with pytest.raises(ValueError, match="backbone-from"):
        run_lineage(LineageConfig(method="rcnn", workdir=str(tmp_path)))
    with pytest.raises(ValueError, match="run --method fast_rcnn"):
        run_lineage(LineageConfig(method="sppnet", workdir=str(tmp_path), backbone_from=str(tmp_path)))


@pytest.mark.slow
def test_fast_rcnn_then_rcnn_and_sppnet_end_to_end(tmp_path):
    main = _recipe()["main"]
    common = ["--image-size", "64", "--train-images", "6", "--val-images", "3", "--max-proposals", "30",
              "--proposal-cache", str(tmp_path / "props")]  # fmt: skip
    fast = tmp_path / "fast"
    assert main(["--method", "fast_rcnn", "--workdir", str(fast), "--epochs", "1", "--steps-per-epoch", "2",
                 "--batch-size", "2", *common]) == 0  # fmt: skip
    for method in ("rcnn", "sppnet"):
        assert main(["--method", method, "--workdir", str(tmp_path / method), "--backbone-from", str(fast),
                     "--warp-size", "48", *common]) == 0  # fmt: skip
        report = json.loads((tmp_path / method / "report.json").read_text())
        assert {"proposals", "features", "classification", "total"} <= set(report["seconds_per_image"])
        assert 0.0 <= report["metrics"]["voc_map"] <= 1.0
        assert (tmp_path / method / "svm.npz").is_file() and (tmp_path / method / "detections.png").is_file()
    assert (fast / "last.weights.h5").is_file() and (fast / "detections.png").is_file()
    rows = runpy.run_path(str(ROOT / "tools" / "lineage_table.py"))["table"](
        [str(tmp_path / m) for m in ("rcnn", "sppnet", "fast")]
    ).splitlines()
    assert len(rows) == 5 and rows[2].startswith("| rcnn |") and rows[4].startswith("| fast_rcnn |")
    assert "not recorded" not in "".join(rows)  # the load average is in every report
