"""Registry sweep: every registered model at a tiny size through the shared model test.

``tests/model_helpers.run_model_test`` checks finite outputs, the save/load round trip and one
``fit`` step reaching every trainable weight, on the TensorFlow backend and (multibackend) on JAX.
A new model gets all of it by being registered (and, if its defaults are large, one line in
``KWARGS``). Full-size parameter counts live in each family's tests.
"""

import pytest

import zoo
from tests.model_helpers import CHECKS, run_model_test

_TWO_STAGE = dict(
    anchor_sizes=(16.0, 32.0),
    anchor_ratios=(1.0,),
    train_proposals=(64, 16),
    test_proposals=(64, 8),
    rpn_batch=32,
    roi_batch=8,
    seed=0,
)
# Small configurations, per model (the architecture is unchanged; only input size/classes).
SMALL_INPUT = {"alexnet": 64, "alexnet_lrn": 67, "inception_v3": 75}
KWARGS = {
    "captcha_multihead": dict(config="tiny"),
    "captcha_onevector": dict(config="tiny"),
    "unet": dict(input_shape=(64, 64, 3), num_classes=3, filters=8, padding="same"),
    "unet_vgg16": dict(input_shape=(64, 64, 3), num_classes=3),
    "text_cnn": dict(vocab_size=100, sequence_length=16, embedding_dim=16, num_filters=8, classes=2),
    # tiny widths, few anchors, proposals and sampled RoIs keep the detectors' fit steps small
    "ssd_vgg16": dict(num_classes=3, input_shape=(64, 64, 3), width=0.0625),
    "ssd300_vgg16": dict(num_classes=3, input_shape=(64, 64, 3), width=0.0625),
    "ssd512_vgg16": dict(num_classes=3, input_shape=(64, 64, 3), width=0.0625),
    "faster_rcnn_vgg16": dict(num_classes=3, input_shape=(64, 64, 3), width=0.0625, **_TWO_STAGE),
    "faster_rcnn_resnet50": dict(num_classes=3, input_shape=(64, 64, 3), **_TWO_STAGE),
    "mask_rcnn_resnet50": dict(num_classes=3, input_shape=(64, 64, 3), mask_channels=8, **_TWO_STAGE),
    "rfcn_vgg16": dict(num_classes=3, input_shape=(64, 64, 3), width=0.0625, **_TWO_STAGE),
    "rfcn_resnet50": dict(num_classes=3, input_shape=(64, 64, 3), **_TWO_STAGE),
    "mask_rcnn_vgg16": dict(
        num_classes=3, input_shape=(64, 64, 3), width=0.0625, mask_channels=8, **_TWO_STAGE
    ),
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


# The fit step (one compiled train step per model) runs for these models in the default sweep; the
# others' fit steps are covered by their family tests until their tiny configurations fit the
# sweep's time budget (a compiled train step of the deeper classifiers takes minutes on a loaded
# 2-core machine). A model joins by adding its name here.
FIT_IN_SWEEP = {"alexnet", "alexnet_lrn", "captcha_multihead", "captcha_onevector"}


def _run(name, rng, tmp_path):
    checks = tuple(c for c in CHECKS if c != "fit" or name in FIT_IN_SWEEP)
    run_model_test(name, small_kwargs(name), rng, tmp_path, checks)


@pytest.mark.multibackend
@pytest.mark.parametrize("name", zoo.list_models(task="classification"))
def test_every_classifier_builds_and_runs(name, rng, tmp_path):
    _run(name, rng, tmp_path)


@pytest.mark.parametrize(
    "name", [n for n in zoo.list_models() if zoo.registry.entry(n).task != "classification"]
)
def test_every_other_model_builds_and_runs(name, rng, tmp_path):
    _run(name, rng, tmp_path)
