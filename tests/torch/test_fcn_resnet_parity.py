"""fcn_resnet50 / fcn_resnet101 against torchvision with shared seeded random weights (out and aux logits)."""

import sys

import numpy as np
import pytest

sys.modules.setdefault("triton", None)
torch = pytest.importorskip("torch", reason="torchvision not installed: pip install -e '.[torch]'")
torchvision = pytest.importorskip(
    "torchvision", reason="torchvision not installed: pip install -e '.[torch]'"
)

import zoo  # noqa: E402
from tests.torch.test_fpn_parity import torch_home  # noqa: E402,F401
from zoo.weights_torch import TorchWeightsError, torchvision_weights  # noqa: E402
from zoo.weights_torch import randomize_torch_model as _randomise  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("depth", [50, 101])
def test_fcn_resnet_matches_torchvision(depth, torch_home):  # noqa: F811
    name = f"fcn_resnet{depth}"
    ref = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None, aux_loss=True)
    _randomise(ref, seed=depth)
    path = torch_home / "hub" / "checkpoints" / torchvision_weights(name, "torchvision").file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ref.state_dict(), path)
    model = zoo.get(name, weights="torchvision", input_shape=(72, 88, 3))  # sides that are not multiples of 8
    image = np.random.default_rng(2).uniform(0, 255, (1, 72, 88, 3)).astype("float32")
    mean = np.array([0.485, 0.456, 0.406], "float32")
    std = np.array([0.229, 0.224, 0.225], "float32")
    x = torch.from_numpy(((image / 255.0 - mean) / std).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        theirs = {k: v.numpy().transpose(0, 2, 3, 1) for k, v in ref(x).items()}
    ours = model(image)
    for key in ("out", "aux"):
        err = np.max(np.abs(np.asarray(ours[key]) - theirs[key])) / np.max(np.abs(theirs[key]))
        assert err < 1e-4, (key, err)
    assert np.mean(np.argmax(np.asarray(ours["out"]), -1) == np.argmax(theirs["out"], -1)) > 0.999
    # without the auxiliary head the checkpoint's aux tensors are ignored, not reported
    plain = zoo.get(name, weights="torchvision", input_shape=(72, 88, 3), aux=False)
    np.testing.assert_allclose(np.asarray(plain(image)), np.asarray(ours["out"]), rtol=1e-5, atol=1e-4)


def test_fcn_resnet_rejects_a_detection_checkpoint(torch_home, tmp_path):  # noqa: F811
    ref = torchvision.models.resnet50(weights=None)
    path = tmp_path / "resnet50.pth"
    torch.save(ref.state_dict(), path)
    with pytest.raises(TorchWeightsError, match="missing tensor"):
        zoo.get("fcn_resnet50", weights=str(path), input_shape=(64, 64, 3))
