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


@pytest.mark.multibackend
@pytest.mark.parametrize("jit_compile", [False, True])
def test_lambda_schedule_reaches_every_step_of_a_compiled_fit(jit_compile):
    """x -> Dense (the 'features') -> GradientReversal -> loss = mean(output): the features'
    gradient is -lambda_t * x, so with SGD(lr=1) and x = 1 the kernel grows by exactly lambda_t
    per step. A lambda frozen when the train step is traced (a Python float captured as a
    constant) would give the same increment at every step; a lost sign would shrink the kernel."""
    inputs = keras.Input((1,))
    feats = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", name="feat")(inputs)
    model = keras.Model(inputs, GradientReversal(0.0, name="grl")(feats))
    model.compile(keras.optimizers.SGD(1.0), loss=lambda y, p: keras.ops.mean(p), jit_compile=jit_compile)
    x = np.ones((8, 1), "float32")
    kernels = []
    for _ in range(2):  # two fits of 4 steps: the step counter carries over
        model.fit(x, x, batch_size=2, epochs=1, callbacks=[LambdaSchedule(total_steps=8)], verbose=0)
        kernels.append(float(keras.ops.convert_to_numpy(model.get_layer("feat").kernel)[0, 0]))
    expected = np.cumsum([dann_lambda(step / 8) for step in range(8)])
    np.testing.assert_allclose(kernels, expected[[3, 7]], rtol=1e-5)


def test_domain_gradient_reaches_the_features_reversed(rng):
    """Through the DANN model, d(domain loss)/d(conv1 kernel) with lambda = 1 is minus the one
    with lambda = -1 (no reversal) and zero with lambda = 0; the label loss is untouched."""
    model = dann_model(digit_features((16, 16, 3)), num_classes=10)
    x = rng.uniform(0, 1, (4, 16, 16, 3)).astype("float32")
    domain = np.array([[0.0], [0.0], [1.0], [1.0]], "float32")
    kernel = model.get_layer("features").get_layer("conv1").kernel

    def grads(lam):
        model.get_layer("grl").set_lambda(lam)
        return _grad_wrt(model, x, domain, kernel)

    reversed_, plain, zero = grads(1.0), grads(-1.0), grads(0.0)
    assert np.abs(plain).max() > 0
    np.testing.assert_allclose(reversed_, -plain, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(zero, 0.0)


def _grad_wrt(model, x, domain, variable):
    """d mean(BCE(domain, model(x)['domain'])) / d variable on the current backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.losses.binary_crossentropy(domain, model(x)["domain"]))
        return np.asarray(tape.gradient(loss, variable.value))
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        index = [id(v) for v in model.trainable_variables].index(id(variable))
        non_trainable = [v.value for v in model.non_trainable_variables]

        def loss(tv):
            out, _ = model.stateless_call(tv, non_trainable, x)
            return keras.ops.mean(keras.losses.binary_crossentropy(domain, out["domain"]))

        return np.asarray(jax.grad(loss)(trainable)[index])
    pytest.skip(f"no gradient check written for backend {backend}")


def test_feature_extractor_is_the_papers(rng):
    """Per-channel mean subtraction, then valid 5x5 convolutions: 28 -> 24 -> 12 -> 8 -> 4 (768 features)."""
    mean = np.array([0.1, 0.2, 0.3])
    features = digit_features((28, 28, 3), pixel_mean=mean)
    assert features.output_shape == (None, 4 * 4 * 48)
    x = rng.uniform(0, 1, (2, 28, 28, 3)).astype("float32")
    subtract = keras.Model(features.input, features.get_layer("mean_subtract").output)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(subtract(x)), x - mean, atol=1e-6)
    with pytest.raises(ValueError, match="one value per channel"):
        digit_features((28, 28, 3), pixel_mean=[0.5])


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
    low = textures(50, 16, np.random.default_rng(1), max_level=0.4)
    assert low.min(axis=(1, 2, 3)).max() <= 0.4 + 1e-6  # the darkest texel sits at a base level <= max_level
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
    args = [
        "--workdir",
        str(tmp_path),
        "--seeds",
        "0",
        "--steps",
        "4",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--target-copies",
        "2",
        "--source-poses",
        "2",
        "--domain-hidden",
        "16",
    ]
    report = main(args)
    for mode in ("source_only", "dann", "oracle"):
        assert (tmp_path / mode / "seed0" / "last.weights.h5").exists()
        assert (tmp_path / mode / "seed0" / "curves.png").exists()
    assert (tmp_path / "features_pca.png").exists() and (tmp_path / "accuracy.png").exists()
    assert (tmp_path / "domain_accuracy.png").exists()
    saved = json.loads((tmp_path / "report.json").read_text())
    assert set(saved["target_accuracy_mean"]) == {"source_only", "dann", "oracle"}
    assert saved["source_poses"] == 2 and saved["domain_hidden"] == [16]
    assert len(saved["domain_accuracy_per_epoch"]["dann"]["0"]) == 2  # one value per epoch
    assert 0.0 <= saved["target_accuracy_mean"]["dann"] <= 1.0
    means = saved["target_accuracy_mean"]
    assert (saved["gap_closed"] is None) == (means["oracle"] <= means["source_only"])
    # a rerun reuses the finished runs' results
    again = main(args)
    assert again["runs"] == report["runs"]


def test_source_poses_augment_the_source_only():
    """``source_poses=k``: k varied renderings per source digit with its label; target and test untouched."""
    plain = load_digits_m_pair(size=16, seed=0, target_copies=1)
    posed = load_digits_m_pair(size=16, seed=0, target_copies=1, source_poses=2)
    n = len(plain["source_y"])
    assert posed["source_x"].shape == (2 * n, 16, 16, 3)
    np.testing.assert_array_equal(posed["source_y"], np.tile(plain["source_y"], 2))
    for key in ("target_x", "target_y", "test_x", "test_y"):
        np.testing.assert_array_equal(posed[key], plain[key])
    assert np.allclose(posed["source_x"][..., 0], posed["source_x"][..., 2])  # still grey
    # both renderings of a digit differ from each other and from the plain one ...
    a, b, c = posed["source_x"][:n, ..., 0], posed["source_x"][n:, ..., 0], plain["source_x"][..., 0]
    assert np.abs(a - b).mean() > 0.02 and np.abs(a - c).mean() > 0.02
    # ... and keep their labels: the plain source's class means (cosine) classify the posed images
    flat = lambda x: x.reshape(len(x), -1) / np.linalg.norm(x.reshape(len(x), -1), axis=1, keepdims=True)  # noqa: E731
    means = flat(np.stack([c[plain["source_y"] == k].mean(axis=0) for k in range(10)]))
    predicted = np.argmax(flat(posed["source_x"][..., 0]) @ means.T, axis=1)
    assert np.mean(predicted == posed["source_y"]) > 0.5  # chance: 0.1 (69 % measured)
    with pytest.raises(ValueError, match="source_poses"):
        load_digits_m_pair(size=16, seed=0, target_copies=1, source_poses=-1)


def test_domain_head_capacity_and_schedules_span_the_run(tmp_path):
    """``domain_hidden`` sets the domain classifier's layers; the learning rate reaches the
    paper's end value mu_0 / 11 ** 0.75 at the last step of the run actually used."""
    from zoo.domain import train_domain_adaptation

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 16, 16, 3)).astype("float32")
    y = np.arange(8, dtype=np.int32) % 2
    data = {"source_x": x, "source_y": y, "target_x": x[::-1], "target_y": y}
    model, _ = train_domain_adaptation(
        data, "dann", workdir=tmp_path, steps=6, epochs=2, batch_size=4, domain_hidden=(8, 5)
    )
    assert [model.get_layer(f"domain_fc{i}").units for i in (1, 2)] == [8, 5]
    schedule = model.optimizer._learning_rate  # the DANNLearningRate object
    assert schedule.total_steps == 6 and int(model.optimizer.iterations) == 6
    assert float(keras.ops.convert_to_numpy(schedule(6))) == pytest.approx(0.01 / 11**0.75, rel=1e-6)
    assert float(keras.ops.convert_to_numpy(model.get_layer("grl").lambda_)) == pytest.approx(
        dann_lambda(5 / 6), rel=1e-6
    )  # the last batch's lambda
