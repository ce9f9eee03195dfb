"""Registry sweep: every registered model at a tiny size through the shared model test.

``tests/model_helpers.run_model_test`` checks finite outputs, the save/load round trip and one
``fit`` step reaching every trainable weight, on the TensorFlow backend and (multibackend) on JAX.
A new model gets all of it by being registered (and, if its defaults are large, one line in
``KWARGS``). Full-size parameter counts live in each family's tests.
"""

import keras
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
# Inception-v4 / Inception-ResNet: the smallest input their valid-padded stem and reductions take
SMALL_INPUT.update(inception_v4=75, inception_resnet_v1=75, inception_resnet_v2=75)
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
    "crnn_captcha": dict(config="tiny", units=8),
    "text_rnn": dict(vocab_size=100, sequence_length=16, embedding_dim=8, units=8),
    "text_lstm": dict(vocab_size=100, sequence_length=16, embedding_dim=8, units=8),
    "text_gru": dict(vocab_size=100, sequence_length=16, embedding_dim=8, units=8),
    "char_rnn": dict(vocab_size=20, embedding_dim=8, units=8, num_layers=1, sequence_length=16),
    "dcgan_generator": dict(image_size=28, channels=1, latent_dim=16, filters=8),
    "dcgan_discriminator": dict(image_size=28, channels=1, filters=8),
    "fast_style_transfer": dict(input_shape=(32, 32, 3), filters=4, num_residual=1),
    # YOLO v1: the input must be a multiple of the 7x7 grid
    "yolo_v1": dict(num_classes=3, input_shape=(112, 112, 3), width=0.0625, fc_units=16),
    "fast_yolo_v1": dict(num_classes=3, input_shape=(112, 112, 3), width=0.0625, fc_units=16),
}
# the FPN detectors: ResNet-50 cannot shrink, the proposal counts can
for _name in (
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "maskrcnn_resnet50_fpn",
    "keypointrcnn_resnet50_fpn",
):
    KWARGS[_name] = dict(
        num_classes=3,
        input_shape=(64, 64, 3),
        rpn_pre_nms_top_n=(64, 64),
        rpn_post_nms_top_n=(32, 32),
        roi_batch=16,
    )
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


# Every model's fit step runs in the sweep, eagerly (tests/model_helpers.py: tracing a compiled
# train step costs 5-7x the step); these cheap models run the compiled step instead, so the sweep
# also covers Keras' compiled path.
COMPILED_FIT = {"alexnet", "alexnet_lrn", "captcha_multihead", "captcha_onevector"}


# The deepest classifiers skip the save/load round trip here (30-50 s each on a loaded machine);
# ResNet-50 and the other families' round trips cover the same layers.
NO_SAVE_IN_SWEEP = {"resnet101", "resnet152", "inception_v3"}


# Models whose tiny configuration still costs 60 s or more of CPU per backend, because their
# families have no width argument and their depth is the architecture: the ResNet-101/152 bodies,
# the Inception-v4 family and BN-Inception (75 px minimum of the valid-padded stem), the four FPN
# detectors and the two FCN-ResNets (torchvision's ResNet-50/101 body, zoo.detection.fpn.resnet_body).
# The default sweep leaves them to `make test-slow`, where test_every_model_passes_every_check runs
# every check. Default coverage elsewhere: ResNet-101/152 share every block with resnet50 (swept
# here) and have published-count tests; the Inception-v4 family and BN-Inception have family
# tests in tests/classification; the FPN detectors and FCN-ResNets are compared with torchvision
# in tests/torch (`make test-torch`), and tests/detection/test_fpn_rcnn.py's default tests cover
# their anchors and keypoint targets only.
HEAVY = {
    "resnet101", "resnet152", "bn_inception", "inception_v4", "inception_resnet_v1", "inception_resnet_v2",
    "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn",
    "fcn_resnet50", "fcn_resnet101",
}  # fmt: skip


# On JAX, depth variants run the same layers as one representative (variants as data), so the JAX
# sweep runs the representative: vgg16 (plain), vgg16_bn, vgg11_lrn and vgg16_c stay, as do resnet18
# (basic blocks) and resnet50 (bottlenecks). On TensorFlow every variant runs.
JAX_SAME_LAYERS_AS = {
    "vgg11": "vgg16", "vgg13": "vgg16", "vgg19": "vgg16",
    "vgg11_bn": "vgg16_bn", "vgg13_bn": "vgg16_bn", "vgg19_bn": "vgg16_bn",
    "resnet34": "resnet18",
}  # fmt: skip


def _names(task_is_classification: bool) -> list:
    jax = keras.backend.backend() == "jax"
    names = [
        n
        for n in zoo.list_models()
        if (zoo.registry.entry(n).task == "classification") == task_is_classification
        and not (jax and n in JAX_SAME_LAYERS_AS)
    ]
    return [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in names]


# Checks a family test already makes on the same model with more specific assertions (named losses,
# equal configs, default boxes): the default sweep leaves them to that test rather than running the
# same step twice; the slow full sweep still runs every check. test_covering_tests_exist keeps the
# names true.
COVERED_BY = {
    "faster_rcnn_vgg16": {
        "fit": "detection/test_faster_rcnn.py::test_one_fit_step_updates_every_trainable_weight",
        "save": "detection/test_faster_rcnn.py::test_save_load_round_trip",
    },
    "rfcn_vgg16": {
        "fit": "detection/test_rfcn.py::test_one_fit_step_updates_every_trainable_weight",
        "save": "detection/test_rfcn.py::test_save_load_round_trip_and_resnet_variant",
    },
    "ssd_vgg16": {
        "fit": "detection/test_losses.py::test_one_fit_step_updates_every_trainable_weight",
        "save": "detection/test_ssd.py::test_save_load_round_trip",
    },
    "fast_yolo_v1": {
        "fit": "detection/test_yolo.py::test_fit_step_reaches_every_weight_including_empty_images"
    },
    "fcn8s_vgg16": {"save": "segmentation/test_fcn.py::test_save_and_load_round_trip"},
    "text_cnn": {"save": "text/test_text_cnn.py::test_save_round_trip"},
}
# The ResNet-50 two-stage detectors: their body is classification.resnet.resnet_stages, whose fit
# step and round trip the resnet50 classifier runs here, and their heads and classes are the VGG
# variants' (checked above). The default sweep checks their outputs; the slow sweep adds the round
# trip and the eager fit step (15-20 s with the round trip idle, 65 s under load, 2026-12-02).
OUTPUTS_ONLY = {"faster_rcnn_resnet50", "mask_rcnn_resnet50", "rfcn_resnet50"}


def _run(name, rng, tmp_path):
    # The .keras round trip is checked on TensorFlow (the file format is the same on every backend);
    # the JAX run checks the outputs, where the backends differ.
    # On JAX the fit step runs for the COMPILED_FIT models only: eager JAX dispatches op by op, so an
    # eager step of GoogLeNet took 224 s there (2026-12-02), and a compiled one costs its tracing.
    tf_backend = keras.backend.backend() == "tensorflow"
    covered = COVERED_BY.get(name, {})
    skip_save = name in NO_SAVE_IN_SWEEP or name in OUTPUTS_ONLY or not tf_backend or "save" in covered
    skip_fit = (not tf_backend and name not in COMPILED_FIT) or name in OUTPUTS_ONLY or "fit" in covered
    checks = tuple(c for c in CHECKS if not (c == "save" and skip_save) and not (c == "fit" and skip_fit))
    run_model_test(
        name,
        small_kwargs(name),
        rng,
        tmp_path,
        checks,
        compiled_fit=name in COMPILED_FIT,
        fit_steps=_steps(name),
        may_miss=MAY_MISS.get(name),
    )


# SSD: one step's loss reaches only the levels whose default boxes match a target or are picked as
# hard negatives (3 per positive, by loss under random weights), so some levels' heads (and the extra
# layers feeding only them) may get no gradient in one step; the VGG body and fc6/fc7 must.
_SSD_MAY_MISS = r"(_mbox_(loc|conf)/|^conv(8|9|1[0-2])_\d/)"
MAY_MISS = {n: _SSD_MAY_MISS for n in ("ssd_vgg16", "ssd300_vgg16", "ssd512_vgg16")}


def _steps(name):
    # FCN-VGG's score layers start at zero (the paper's initialisation): the first step moves only
    # them, the second reaches the body
    return 2 if name.startswith("fcn") and name.endswith("_vgg16") else 1


@pytest.mark.multibackend
@pytest.mark.parametrize("name", _names(True))
def test_every_classifier_builds_and_runs(name, rng, tmp_path):
    _run(name, rng, tmp_path)


@pytest.mark.multibackend
@pytest.mark.parametrize("name", _names(False))
def test_every_other_model_builds_and_runs(name, rng, tmp_path):
    _run(name, rng, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.list_models())
def test_every_model_passes_every_check(name, rng, tmp_path):
    """Every check (outputs, save/load round trip, one fit step reaching every weight) for every model."""
    run_model_test(
        name, small_kwargs(name), rng, tmp_path, CHECKS, fit_steps=_steps(name), may_miss=MAY_MISS.get(name)
    )


def test_covering_tests_exist():
    """Every test named in COVERED_BY exists and runs by default (not slow), so no check is lost."""
    import importlib

    assert set(COVERED_BY) <= set(zoo.list_models()) and OUTPUTS_ONLY <= set(zoo.list_models())
    for variant, representative in JAX_SAME_LAYERS_AS.items():
        assert variant.split("_")[0][:3] == representative[:3] and representative not in JAX_SAME_LAYERS_AS
        assert representative not in HEAVY
    for checks in COVERED_BY.values():
        assert set(checks) <= set(CHECKS)
        for node in checks.values():
            path, func = node.split("::")
            module = importlib.import_module("tests." + path[: -len(".py")].replace("/", "."))
            test = getattr(module, func)
            assert not any(m.name == "slow" for m in getattr(test, "pytestmark", [])), node
