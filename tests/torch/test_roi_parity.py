"""MultiScaleRoIAlign against torchvision.ops.MultiScaleRoIAlign (the reference)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torchvision not installed: pip install -e '.[torch]'")
torchvision = pytest.importorskip(
    "torchvision", reason="torchvision not installed: pip install -e '.[torch]'"
)

from zoo.layers import MultiScaleRoIAlign  # noqa: E402


def _random_rois(rng, n, batch, size):
    xy = rng.uniform(-8, size, (n, 2))
    wh = np.exp(rng.uniform(np.log(2), np.log(size * 1.2), (n, 2)))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    return boxes.astype("float32"), rng.integers(0, batch, n)


@pytest.mark.torch
@pytest.mark.parametrize("pooled", [7, 14])
def test_multiscale_roi_align_matches_torchvision(rng, pooled):
    size, batch, channels = 128, 2, 5
    feats = [
        rng.normal(size=(batch, channels, size // s, size // s)).astype("float32") for s in (4, 8, 16, 32)
    ]
    boxes, idx = _random_rois(rng, 60, batch, size)
    ref_pool = torchvision.ops.MultiScaleRoIAlign(["0", "1", "2", "3"], pooled, sampling_ratio=2)
    ref = ref_pool(
        {str(i): torch.from_numpy(f) for i, f in enumerate(feats)},
        [torch.from_numpy(boxes[idx == b]) for b in range(batch)],
        [(size, size)] * batch,
    ).numpy()
    order = np.concatenate([np.flatnonzero(idx == b) for b in range(batch)])  # torchvision's RoI order
    rois = np.concatenate([idx[order, None].astype("float32"), boxes[order]], axis=1)
    ours = MultiScaleRoIAlign(pooled)([*(f.transpose(0, 2, 3, 1) for f in feats), rois])
    np.testing.assert_allclose(np.asarray(ours), ref.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
