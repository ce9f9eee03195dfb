"""PSRoIPooling against torchvision.ops.ps_roi_pool (run with ``-m torch``).

torchvision runs in a child process: in one process torch must be imported before TensorFlow,
which the test session has already loaded.
"""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.layers.test_roi import _rois
from zoo.layers.roi import PSRoIPooling

_TORCH = """
import sys
sys.modules.setdefault("triton", None)
import numpy as np, torch, torchvision
d = np.load(sys.argv[1])
feat = torch.from_numpy(d["feat"]).permute(0, 3, 1, 2).contiguous()
out = torchvision.ops.ps_roi_pool(feat, torch.from_numpy(d["rois"]), tuple(d["pooled"]), float(d["scale"]))
np.save(sys.argv[2], out.permute(0, 2, 3, 1).numpy())
"""


@pytest.mark.torch
@pytest.mark.parametrize("pooled", [(3, 3), (2, 4), (7, 7)])
def test_ps_roi_pool_matches_torchvision(pooled, tmp_path):
    rng = np.random.default_rng(5)
    feat = rng.normal(size=(2, 13, 11, 2 * pooled[0] * pooled[1])).astype(np.float32)
    rois = _rois(rng, 30, 100, 2)
    np.savez(tmp_path / "in.npz", feat=feat, rois=rois, pooled=np.array(pooled), scale=np.float32(1 / 8))
    subprocess.run(
        [sys.executable, "-c", _TORCH, str(tmp_path / "in.npz"), str(tmp_path / "out.npy")],
        check=True,
        timeout=300,
    )
    want = np.load(tmp_path / "out.npy")
    got = keras.ops.convert_to_numpy(PSRoIPooling(pooled, 1 / 8, torchvision_clip=True)([feat, rois]))
    np.testing.assert_allclose(got, want, atol=1e-5)
