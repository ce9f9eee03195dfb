"""Registry sweep: every registered model builds at a small size and gives finite outputs.

Full-size parameter counts live in each family's tests; here the point is that nothing
registered is broken, on the TensorFlow backend and (multibackend) on JAX.
"""

import keras
import numpy as np
import pytest

import zoo

# Small configurations, per model (the architecture is unchanged; only input size/classes).
SMALL_INPUT = {"alexnet": 64, "alexnet_lrn": 67, "inception_v3": 75}
KWARGS = {
    "captcha_multihead": dict(config="tiny"),
    "captcha_onevector": dict(config="tiny"),
    "unet": dict(input_shape=(64, 64, 3), num_classes=3, filters=8, padding="same"),
    "unet_vgg16": dict(input_shape=(64, 64, 3), num_classes=3),
    "text_cnn": dict(vocab_size=100, sequence_length=16, embedding_dim=16, num_filters=8, classes=2),
    # few proposals keep the two-stage detectors' RoI heads small
    "faster_rcnn_vgg16": dict(num_classes=3, input_shape=(128, 128, 3), test_proposals=(100, 16)),
    "faster_rcnn_resnet50": dict(num_classes=3, input_shape=(128, 128, 3), test_proposals=(100, 16)),
    "mask_rcnn_resnet50": dict(
        num_classes=3, input_shape=(128, 128, 3), test_proposals=(100, 16), mask_channels=16
    ),
    "mask_rcnn_vgg16": dict(
        num_classes=3, input_shape=(128, 128, 3), test_proposals=(100, 16), width=0.25, mask_channels=16
    ),
    # YOLO v1: the input must be a multiple of the 7x7 grid
    "yolo_v1": dict(num_classes=3, input_shape=(112, 112, 3), width=0.0625, fc_units=16),
    "fast_yolo_v1": dict(num_classes=3, input_shape=(112, 112, 3), width=0.0625, fc_units=16),
}
for _name in ("fcn8s_vgg16", "fcn16s_vgg16", "fcn32s_vgg16"):
    KWARGS[_name] = dict(num_classes=3, input_shape=(64, 64, 3), fc_units=64)
TASK_KWARGS = {
    "detection": dict(num_classes=3, input_shape=(128, 128, 3)),
    "segmentation": dict(num_classes=3, input_shape=(64, 64, 3)),
}


def small_kwargs(name):
    if name in KWARGS:
        return KWARGS[name]
    task = zoo.registry.entry(name).task
    if task == "classification":
        size = SMALL_INPUT.get(name, 32)
        return dict(classes=5, input_shape=(size, size, 3))
    return TASK_KWARGS.get(task, {})


def _random_inputs(model, kwargs, rng):
    specs = getattr(model, "inputs", None)
    if not specs:  # a subclassed model: one image input of the configured size
        return rng.uniform(0, 1, (2, *kwargs["input_shape"])).astype("float32")
    inputs = []
    for spec in specs:
        shape = [2 if d is None else d for d in spec.shape]
        if "int" in str(spec.dtype):
            inputs.append(rng.integers(0, 10, shape).astype(str(spec.dtype)))
        else:
            inputs.append(rng.uniform(0, 1, shape).astype("float32"))
    return inputs[0] if len(inputs) == 1 else inputs


def _build_and_run(name, rng):
    kwargs = small_kwargs(name)
    model = zoo.get(name, **kwargs)
    assert isinstance(model, keras.Model)
    outputs = model(_random_inputs(model, kwargs, rng), training=False)
    flat = keras.tree.flatten(outputs)
    assert flat, f"{name} returned no outputs"
    for out in flat:
        arr = keras.ops.convert_to_numpy(out)
        assert arr.shape[0] == 2
        if np.issubdtype(arr.dtype, np.floating):
            assert np.all(np.isfinite(arr)), f"{name}: non-finite outputs"


@pytest.mark.multibackend
@pytest.mark.parametrize("name", zoo.list_models(task="classification"))
def test_every_classifier_builds_and_runs(name, rng):
    _build_and_run(name, rng)


@pytest.mark.parametrize(
    "name", [n for n in zoo.list_models() if zoo.registry.entry(n).task != "classification"]
)
def test_every_other_model_builds_and_runs(name, rng):
    _build_and_run(name, rng)
