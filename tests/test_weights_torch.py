"""torchvision weight sets as data, the torch hub cache and download, and errors, without torch.

(The parity checks against torchvision itself are in tests/torch/, marker ``torch``.)
"""

import hashlib
import io
import sys
import urllib.request

import numpy as np
import pytest

import zoo
from zoo import weights_torch as wt


def test_published_names_and_default_sets():
    assert wt.torchvision_weights("resnet18", "torchvision").file_name == "resnet18-f37072fd.pth"
    assert wt.torchvision_weights("resnet18", "IMAGENET1K_V1").hash_prefix == "f37072fd"
    assert wt.torchvision_weights("resnet50", "torchvision").name == "IMAGENET1K_V2"  # torchvision's DEFAULT
    ssd = wt.torchvision_weights("ssd300_vgg16", "COCO_V1")
    assert ssd.file_name == "ssd300_vgg16_coco-b556d3b4.pth" and ssd.num_classes == 91
    assert ssd.metrics["COCO-val2017"]["box_map"] == 25.1
    with pytest.raises(wt.TorchWeightsError, match="choose from 'torchvision'.*'IMAGENET1K_V1'"):
        wt.torchvision_weights("resnet18", "IMAGENET1K_V2")


def test_registry_and_info_list_torchvision_sets():
    assert zoo.registry.entry("alexnet").weights == ("torchvision", "IMAGENET1K_V1")
    sets = {w["name"]: w for w in zoo.info("resnet50", measure=False)["torchvision_weights"]}
    assert sets["IMAGENET1K_V2"]["metrics"]["ImageNet-1K"] == {"acc@1": 80.858, "acc@5": 95.434}
    assert sets["IMAGENET1K_V2"]["default"] and sets["IMAGENET1K_V1"]["file"] == "resnet50-0676ba61.pth"


def test_preprocess_returns_torchvision_transform():
    t = zoo.preprocess("resnet50", weights="IMAGENET1K_V2")
    assert (t.resize_size, t.crop_size) == (232, 224)
    out = np.asarray(t(np.full((480, 640, 3), 255, "uint8")))
    assert out.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(
        out[0, 100, 100], (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]), rtol=1e-5
    )
    assert zoo.preprocess("inception_v3", weights="torchvision").crop_size == 299


def test_classes_must_fit_the_checkpoint_and_googlenet_points_to_bn():
    with pytest.raises(ValueError, match="needs classes=1000"):
        zoo.get("resnet18", weights="torchvision", classes=10)
    with pytest.raises(ValueError, match="googlenet_bn"):
        zoo.get("googlenet", weights="torchvision")


def test_offline_with_empty_cache_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(wt.TorchWeightsError, match=r"Copy resnet18-f37072fd\.pth into .*hub/checkpoints"):
        zoo.get("resnet18", weights="torchvision", input_shape=(32, 32, 3))


class _Response(io.BytesIO):
    headers = {"Content-Length": "10"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_checks_hash_prefix_and_writes_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    data = b"0123456789"
    prefix = hashlib.sha256(data).hexdigest()[:8]
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _Response(data))
    good = wt.TorchvisionWeights("m", "V1", f"https://x/m-{prefix}.pth", 1, {}, {})
    path = wt.checkpoint_path(good, progress=False)
    assert path == tmp_path / "hub" / "checkpoints" / f"m-{prefix}.pth" and path.read_bytes() == data
    bad = wt.TorchvisionWeights("m", "V1", "https://x/m-deadbeef.pth", 1, {}, {})
    with pytest.raises(wt.TorchWeightsError, match="does not start with 'deadbeef'"):
        wt.checkpoint_path(bad, progress=False)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no partial file left


def test_missing_torch_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "model.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(wt.TorchNotInstalledError, match=r'pip install -e "\.\[torch\]"'):
        zoo.get("resnet18", weights=str(path), input_shape=(32, 32, 3))


def test_mapping_rules_are_checked():
    with pytest.raises(ValueError, match="kind must be one of"):
        wt.Rule("fc", "predictions", "linear")
    with pytest.raises(ValueError, match="needs source"):
        wt.Rule("classifier.0", "fc1", "dense_nchw")
