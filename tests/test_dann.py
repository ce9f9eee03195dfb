"""DANN: the paper's schedules against their formulas, the model's heads and reversal, the
MNIST-M-style target domain, and the recipe end to end (tiny, resumable)."""

import json
import math

import keras
import numpy as np
import pytest

from zoo.data.digits_m import blend_digits, load_digits_m_pair, textures
from zoo.domain import (
    DANNLearningRate,
    LambdaSchedule,
    dann_lambda,
    dann_model,
    digit_features,
    gap_closed,
    pca_2d,
)
from zoo.layers import GradientReversal


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 1.0])
def test_lambda_schedule_is_the_papers(p):
    assert dann_lambda(p) == pytest.approx(2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0)
    assert dann_lambda(0.0) == 0.0 and dann_lambda(1.0) > 0.999


@pytest.mark.parametrize("step", [0, 250, 1000, 5000])
def test_learning_rate_schedule_is_the_papers(step):
    schedule = DANNLearningRate(0.01, total_steps=1000)
    p = min(step / 1000, 1.0)
    expected = 0.01 / (1 + 10 * p) ** 0.75
    assert float(keras.ops.convert_to_numpy(schedule(step))) == pytest.approx(expected, rel=1e-6)
    assert DANNLearningRate.from_config(schedule.get_config()).get_config() == schedule.get_config()


def test_model_heads_and_lambda_callback(rng):
    model = dann_model(digit_features((28, 28, 3)), num_classes=10)
    out = model(rng.uniform(0, 1, (2, 28, 28, 3)).astype("float32"))
    assert out["labels"].shape == (2, 10) and out["domain"].shape == (2, 1)
    assert isinstance(model.get_layer("grl"), GradientReversal)
    model.compile(
        keras.optimizers.SGD(0.01),
        loss={"labels": "sparse_categorical_crossentropy", "domain": "binary_crossentropy"},
    )
    callback = LambdaSchedule(total_steps=10)
    callback.set_model(model)
    model.optimizer.iterations.assign(5)
    callback.on_train_batch_begin(0)
    assert float(keras.ops.convert_to_numpy(model.get_layer("grl").lambda_)) == pytest.approx(
        dann_lambda(0.5), rel=1e-6
    )


def test_gap_closed_and_pca():
    assert gap_closed(0.5, 0.7, 0.9) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no gap"):
        gap_closed(0.9, 0.9, 0.8)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) * np.array([10.0, 3.0, 0.1, 0.1, 0.1])
    xy = pca_2d(x)
    assert xy.shape == (200, 2) and np.var(xy[:, 0]) > np.var(xy[:, 1]) > 1.0  # the two big axes


def test_target_domain_is_mnist_m_style():
    tex = textures(3, 16, np.random.default_rng(0))
    assert tex.shape == (3, 16, 16, 3) and 0.0 <= tex.min() and tex.max() <= 1.0
    digits = np.zeros((3, 16, 16, 1), np.float32)
    digits[:, 4:12, 7:9] = 1.0
    out = blend_digits(digits, np.random.default_rng(0))
    np.testing.assert_allclose(out, np.abs(tex - digits), rtol=1e-6)  # |background - digit|
    data = load_digits_m_pair(size=28, seed=0)
    assert data["source_x"].shape[1:] == data["target_x"].shape[1:] == (28, 28, 3)
    assert set(np.unique(data["source_y"])) == set(range(10)) == set(np.unique(data["test_y"]))
    assert np.allclose(data["source_x"][..., 0], data["source_x"][..., 2])  # grey source
    assert len(data["source_x"]) + len(data["test_x"]) + len(data["target_x"]) // 2 == 1797


@pytest.mark.slow  # ~1-2 min on the shared CPU: three tiny trainings, two reruns, plots
def test_recipe_runs_resumes_and_reports(tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "dann_recipe", Path(__file__).parents[1] / "recipes" / "dann.py"
    )
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    main = recipe.main
    args = ["--workdir", str(tmp_path), "--seeds", "0", "--steps", "4", "--epochs", "2", "--batch-size", "8"]
    report = main(args)
    for mode in ("source_only", "dann", "oracle"):
        assert (tmp_path / mode / "seed0" / "last.weights.h5").exists()
        assert (tmp_path / mode / "seed0" / "curves.png").exists()
    assert (tmp_path / "features_pca.png").exists() and (tmp_path / "accuracy.png").exists()
    saved = json.loads((tmp_path / "report.json").read_text())
    assert set(saved["target_accuracy_mean"]) == {"source_only", "dann", "oracle"}
    assert 0.0 <= saved["target_accuracy_mean"]["dann"] <= 1.0
    means = saved["target_accuracy_mean"]
    assert (saved["gap_closed"] is None) == (means["oracle"] <= means["source_only"])
    # a rerun reuses the finished runs' results
    again = main(args)
    assert again["runs"] == report["runs"]
