import keras
import pytest

import zoo
from zoo.registry import UnknownModelError


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownModelError, match="Did you mean: .*vgg16"):
        zoo.get("vgg_16")


def test_unknown_name_without_close_match_still_says_how_to_list():
    with pytest.raises(UnknownModelError, match="zoo list"):
        zoo.get("qqqqqqqq")


def test_unknown_kwargs_are_rejected_with_accepted_list():
    with pytest.raises(TypeError, match="unknown keyword argument.*colour.*Accepted: include_top"):
        zoo.get("vgg11", colour="red")


def test_list_models_filters():
    assert "vgg16" in zoo.list_models(task="classification")
    assert zoo.list_models(pattern="vgg16*") == ["vgg16", "vgg16_bn", "vgg16_c"]
    assert zoo.list_models(task="classification", pattern="nothing*") == []
    with pytest.raises(ValueError, match="Unknown task"):
        zoo.list_models(task="poetry")


def test_torchvision_names_are_registered():
    names = set(zoo.list_models())
    for name in ["alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg16_bn", "vgg19_bn"]:
        assert name in names


def test_register_decorator_and_duplicate_name():
    @zoo.register("test_tiny_net", task="classification", input_shape=(8, 8, 3))
    def test_tiny_net(num_classes: int = 2):
        inp = keras.Input((8, 8, 3))
        return keras.Model(inp, keras.layers.Dense(num_classes)(keras.layers.Flatten()(inp)))

    try:
        assert zoo.get("test_tiny_net", num_classes=3).output_shape == (None, 3)
        with pytest.raises(ValueError, match="already registered"):
            zoo.register("test_tiny_net", task="classification")(lambda: None)
        with pytest.raises(ValueError, match="task must be"):
            zoo.register("x", task="poetry")
    finally:
        zoo.registry._REGISTRY.pop("test_tiny_net", None)


def test_info_without_building():
    info = zoo.info("vgg16", measure=False)
    assert info["task"] == "classification"
    assert info["input_shape"] == (224, 224, 3)
    assert "imagenet" in info["weights"]
    assert info["references"]["num_params"] == 138_357_544
    assert "Simonyan" in info["paper"]


def test_info_measures_alexnet_against_torchvision():
    info = zoo.info("alexnet")
    assert info["num_params"] == 61_100_840
    assert info["matches_reference"] == "num_params"
    # torchvision lists AlexNet at 0.71 GFLOPS (multiply-accumulates); we report both.
    assert info["macs"] == pytest.approx(0.714e9, rel=0.01)
    assert info["flops"] == 2 * info["macs"]


def test_every_registered_preprocessing_mode_exists():
    from zoo.preprocessing import MODES

    for name in zoo.list_models():
        mode = zoo.registry.entry(name).preprocess
        assert mode is None or mode in MODES, f"{name}: unknown preprocessing mode {mode!r}"
        assert callable(zoo.preprocess(name))


@pytest.mark.parametrize("name", ["resnet18", "ssd_vgg16", "fasterrcnn_resnet50_fpn", "fcn_resnet50"])
def test_class_count_spellings_share_one_check(name):
    """classes / num_classes: one helper (zoo.registry.resolve_num_classes) for every task."""
    assert zoo.registry.resolve_num_classes(None, 5, default=21) == 5
    assert zoo.registry.resolve_num_classes(None, None, default=21) == 21
    with pytest.raises(ValueError, match="num_classes=3 and classes=4 disagree"):
        zoo.get(name, num_classes=3, classes=4)


def test_every_builder_with_a_class_count_takes_both_spellings():
    """Classifiers say ``classes``, detectors and segmenters ``num_classes``: every builder takes both."""
    import inspect

    one_only = []
    for name in zoo.list_models():
        params = inspect.signature(zoo.registry.entry(name).builder).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            continue  # forwards to a class that resolves both (checked by the builds below)
        if ("classes" in params) != ("num_classes" in params):
            one_only.append(name)
    assert one_only == []


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("unet", {"padding": "same", "depth": 2, "filters": 4, "input_shape": (16, 16, 3)}),
        ("fcn32s_vgg16", {"fc_units": 8, "input_shape": (32, 32, 3)}),
        ("text_cnn", {"vocab_size": 20, "sequence_length": 8, "embedding_dim": 4, "num_filters": 2}),
        ("text_gru", {"vocab_size": 20, "sequence_length": 8, "embedding_dim": 4, "units": 2}),
    ],
)
def test_segmenters_and_text_models_take_either_class_count(name, kwargs):
    for spelling in ("classes", "num_classes"):
        assert zoo.get(name, **{spelling: 5}, **kwargs).output_shape[-1] == 5
    with pytest.raises(ValueError, match="num_classes=3 and classes=4 disagree"):
        zoo.get(name, num_classes=3, classes=4, **kwargs)
