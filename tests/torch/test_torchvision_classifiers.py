"""zoo classifiers with torchvision checkpoints equal torchvision's models (shared random weights).

torchvision is the reference: its models are built with seeded random weights (BatchNorm
statistics and affine parameters randomised too, the classifier scaled so logits are not tiny),
saved as ``.pth`` under the published file name in a temporary ``TORCH_HOME``, and loaded with
``zoo.get(name, weights="torchvision")``; logits must agree to relative error 1e-4 with the
same top-1. Inputs are small (64-96 px) where the layout is still exercised.
"""

import sys

import pytest

# Importing torchvision after TensorFlow crashes in triton's C extension (pulled in by
# torch._dynamo); CPU checks need no triton.
sys.modules.setdefault("triton", None)
torch = pytest.importorskip("torch", reason="torchvision not installed: pip install -e '.[torch]'")
torchvision = pytest.importorskip(
    "torchvision", reason="torchvision not installed: pip install -e '.[torch]'"
)

import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo import weights_torch as wt  # noqa: E402

pytestmark = pytest.mark.torch
RTOL = 1e-4


def randomize(model, head=None, seed=0, target_std=3.0, sample=None):
    """Seeded random weights; BN statistics/affine randomised; ``head`` scaled for logit std ~3."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.num_features, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
                module.weight.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(module.num_features, generator=gen) * 0.1)
    model.eval()
    if head is not None and sample is not None:
        with torch.no_grad():
            std = float(model(sample).std())
            head.weight.mul_(target_std / max(std, 1e-6))
    return model


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def save_published(model, torch_home, tv_name, weights="torchvision"):
    """Saves ``model``'s state dict under the published file name in the temporary torch hub cache."""
    w = wt.torchvision_weights(tv_name, weights)
    path = torch_home / "hub" / "checkpoints" / w.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def compare(ours, ref, rtol=RTOL, top1=True):
    ours, ref = np.asarray(ours, "float64"), np.asarray(ref, "float64")
    assert ours.shape == ref.shape
    abs_err = float(np.abs(ours - ref).max())
    rel = abs_err / float(np.abs(ref).max())
    print(f"max abs {abs_err:.3g} rel {rel:.3g}")
    assert rel <= rtol, f"relative error {rel:.3g} > {rtol}"
    if top1:
        np.testing.assert_array_equal(ours.argmax(-1), ref.argmax(-1))
    return abs_err, rel


def _inputs(size, batch=2, seed=1):
    return np.random.default_rng(seed).normal(0, 1, (batch, size, size, 3)).astype("float32")


# (zoo name, torchvision builder, torchvision kwargs, input size, zoo kwargs, head attribute)
CLASSIFIERS = [
    ("alexnet", "alexnet", {}, 64, {}, "classifier.6"),
    ("vgg11", "vgg11", {}, 64, {}, "classifier.6"),
    ("resnet18", "resnet18", {}, 64, {}, "fc"),
    ("resnet34", "resnet34", {}, 64, {}, "fc"),
    ("resnet50", "resnet50", {}, 64, {}, "fc"),
    (
        "googlenet_bn",
        "googlenet",
        dict(aux_logits=True, init_weights=True, transform_input=True),
        64,
        {},
        "fc",
    ),
    (
        "inception_v3",
        "inception_v3",
        dict(aux_logits=True, init_weights=True, transform_input=True),
        96,
        {},
        "fc",
    ),
]


@pytest.mark.parametrize(
    "name, tv_name, tv_kwargs, size, kwargs, head", CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS]
)
def test_logits_equal_torchvision(name, tv_name, tv_kwargs, size, kwargs, head, torch_home):
    assert_logits_equal(name, tv_name, tv_kwargs, size, kwargs, head, torch_home)


def assert_logits_equal(name, tv_name, tv_kwargs, size, kwargs, head, torch_home):
    """torchvision ``tv_name`` with seeded random weights, saved under its published name, against
    ``zoo.get(name, weights="torchvision")``: logits to ``RTOL`` with the same top-1."""
    torch.manual_seed(0)
    ref = getattr(torchvision.models, tv_name)(weights=None, **tv_kwargs)
    x = _inputs(size)
    randomize(ref.eval(), ref.get_submodule(head), sample=nchw(x))
    save_published(ref, torch_home, tv_name)
    ours = zoo.get(
        name, weights="torchvision", input_shape=(size, size, 3), classifier_activation=None, **kwargs
    )
    with torch.no_grad():
        expected = ref(nchw(x)).numpy()
    compare(ours.predict(x, verbose=0), expected)


LARGE_VGGS = ["vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]


@pytest.mark.slow
@pytest.mark.parametrize("name", LARGE_VGGS)
def test_large_vgg_logits_equal_torchvision(name, torch_home):
    """Full logits, top included (a ~500 MB checkpoint each, so slow: ``pytest -m "torch and slow"``).

    At 64 px torchvision's AdaptiveAvgPool2d(7) (``adaptive_pool``, on for torchvision weights) maps the
    2x2 maps to 7x7, so the first dense layer's NCHW->NHWC reorder is exercised as at 224 px.
    """
    assert_logits_equal(name, name, {}, 64, {}, "classifier.6", torch_home)


@pytest.mark.parametrize("name", LARGE_VGGS)
def test_vgg_features_equal_torchvision(name, tmp_path):
    """Every VGG configuration's convolutions, cheaply (the full logits: the slow test above)."""
    torch.manual_seed(0)
    ref = randomize(getattr(torchvision.models, name)(weights=None))
    path = tmp_path / "features.pth"
    torch.save({k: v for k, v in ref.state_dict().items() if k.startswith("features.")}, path)
    ours = zoo.get(name, weights=str(path), include_top=False, input_shape=(32, 32, 3))
    x = _inputs(32)
    with torch.no_grad():
        expected = ref.features(nchw(x)).numpy().transpose(0, 2, 3, 1)
    compare(ours.predict(x, verbose=0), expected, top1=False)


def test_googlenet_aux_heads_equal_torchvision(torch_home):
    """torchvision's auxiliary heads (adaptive 4x4 pooling, NCHW flatten) on a 96 px input (6x6 maps)."""
    torch.manual_seed(0)
    ref = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True, transform_input=True)
    x = _inputs(96)
    randomize(ref.eval(), ref.fc, sample=nchw(x))
    save_published(ref, torch_home, "googlenet")
    taps = {}
    ref.inception4a.register_forward_hook(lambda m, i, o: taps.__setitem__("4a", o))
    ref.inception4d.register_forward_hook(lambda m, i, o: taps.__setitem__("4d", o))
    with torch.no_grad():
        main = ref(nchw(x)).numpy()
        aux1, aux2 = ref.aux1(taps["4a"]).numpy(), ref.aux2(taps["4d"]).numpy()
    ours = zoo.get(
        "googlenet_bn",
        weights="torchvision",
        input_shape=(96, 96, 3),
        classifier_activation=None,
        aux_logits=True,
    )
    out = ours.predict(x, verbose=0)
    compare(out[0], main)
    compare(out[1], aux1, top1=False)
    compare(out[2], aux2, top1=False)


# --- errors: a checkpoint that does not fit is refused, naming the tensor ----------------------


@pytest.fixture
def resnet18_state():
    torch.manual_seed(0)
    return randomize(torchvision.models.resnet18(weights=None)).state_dict()


def _save(state, path):
    torch.save(state, path)
    return str(path)


def test_renamed_tensor_is_named(resnet18_state, tmp_path):
    state = dict(resnet18_state)
    state["layer1.0.conv_one.weight"] = state.pop("layer1.0.conv1.weight")
    with pytest.raises(
        wt.TorchWeightsError,
        match=r"missing tensor\(s\): layer1\.0\.conv1\.weight.*unexpected tensor\(s\): layer1\.0\.conv_one\.weight",
    ):
        zoo.get("resnet18", weights=_save(state, tmp_path / "renamed.pth"), input_shape=(64, 64, 3))


def test_missing_tensor_is_named(resnet18_state, tmp_path):
    state = dict(resnet18_state)
    del state["layer4.1.bn2.running_var"]
    with pytest.raises(wt.TorchWeightsError, match=r"missing tensor\(s\): layer4\.1\.bn2\.running_var"):
        zoo.get("resnet18", weights=_save(state, tmp_path / "missing.pth"), input_shape=(64, 64, 3))


def test_wrongly_shaped_tensor_is_named(resnet18_state, tmp_path):
    state = dict(resnet18_state)
    state["layer2.0.conv2.weight"] = state["layer2.0.conv2.weight"][:, :64]
    with pytest.raises(wt.TorchWeightsError, match=r"wrongly shaped tensor\(s\): layer2\.0\.conv2\.weight"):
        zoo.get("resnet18", weights=_save(state, tmp_path / "shape.pth"), input_shape=(64, 64, 3))


def test_extra_tensor_is_named(resnet18_state, tmp_path):
    state = dict(resnet18_state)
    state["layer5.0.conv1.weight"] = torch.zeros(1)
    with pytest.raises(wt.TorchWeightsError, match=r"unexpected tensor\(s\): layer5\.0\.conv1\.weight"):
        zoo.get("resnet18", weights=_save(state, tmp_path / "extra.pth"), input_shape=(64, 64, 3))


def test_resnet50_layout_mismatch_is_an_error(tmp_path):
    """torchvision's v1.5 tensors have the keras layout's shapes (bar the biases): never a silent load."""
    torch.manual_seed(0)
    path = _save(randomize(torchvision.models.resnet50(weights=None)).state_dict(), tmp_path / "r50.pth")
    with pytest.raises(ValueError, match="layout='torchvision'"):
        zoo.get("resnet50", weights=path, layout="keras", input_shape=(64, 64, 3))


def test_converted_weights_h5_loads_without_torch_path(resnet18_state, tmp_path):
    """convert-weights writes a .weights.h5 that rebuilds the same network."""
    from zoo.convert_weights import convert_weights

    pth = _save(resnet18_state, tmp_path / "r18.pth")
    out = convert_weights("resnet18", pth, tmp_path / "r18.weights.h5")
    x = _inputs(64)
    a = zoo.get("resnet18", weights=pth, input_shape=(64, 64, 3)).predict(x, verbose=0)
    reloaded = zoo.get("resnet18", weights=str(out), input_shape=(64, 64, 3))
    np.testing.assert_array_equal(a, reloaded.predict(x, verbose=0))
    assert reloaded.zoo_preprocess == "torch"  # torchvision's mean/std travels in the file
