"""CPU latency, interleaved in one process: zoo (this process's Keras backend) vs torchvision eager.

ResNet-50 (torchvision layout) at batch 16 x 224, and SSD300 end to end on one 640x480 image
(resize to 300, forward, post-processing with torchvision's settings). Random weights shared
through a .pth file, so both compute the same network. Run once per backend:

    python tools/bench_torchvision.py --repeats 5
    KERAS_BACKEND=jax python tools/bench_torchvision.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.modules.setdefault("triton", None)  # torchvision after TensorFlow crashes in triton's C extension
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

import zoo  # noqa: E402
from zoo.utils.timing import time_call  # noqa: E402


def _time(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up (compilation)."""
    return time_call(fn, repeats=repeats, warmup=1)["median_ms"] / 1000.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds (zoo, torchvision, zoo, ...)")
    args = p.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    import keras

    backend = keras.backend.backend()
    tmp = tempfile.mkdtemp()
    torch.manual_seed(0)
    rows = []

    ref = torchvision.models.resnet50(weights=None).eval()
    torch.save(ref.state_dict(), f"{tmp}/r50.pth")
    ours = zoo.get("resnet50", weights=f"{tmp}/r50.pth")
    x = np.random.default_rng(0).normal(size=(16, 224, 224, 3)).astype("float32")
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())

    def tv_r50():
        with torch.no_grad():
            ref(xt)

    det = torchvision.models.detection.ssd300_vgg16(weights=None, weights_backbone=None).eval()
    torch.save(det.state_dict(), f"{tmp}/ssd.pth")
    ssd = zoo.get("ssd300_vgg16", weights=f"{tmp}/ssd.pth")
    image = np.random.default_rng(1).uniform(0, 255, (480, 640, 3)).astype("float32")
    image_t = torch.from_numpy(image.transpose(2, 0, 1).copy() / 255.0)

    def zoo_ssd():  # resize to 300x300 (as torchvision's transform), forward + post-processing
        small = keras.ops.image.resize(image[None], (300, 300), interpolation="bilinear")
        ssd.predict_on_batch(keras.ops.convert_to_numpy(small))

    def tv_ssd():
        with torch.no_grad():
            det([image_t])

    for r in range(args.rounds):
        rows.append(("resnet50 b16", "zoo", _time(lambda: ours.predict_on_batch(x), args.repeats), r))
        rows.append(("resnet50 b16", "torchvision", _time(tv_r50, args.repeats), r))
        rows.append(("ssd300 640x480 e2e", "zoo", _time(zoo_ssd, args.repeats), r))
        rows.append(("ssd300 640x480 e2e", "torchvision", _time(tv_ssd, args.repeats), r))
    print(f"backend={backend} torch threads={torch.get_num_threads()} repeats={args.repeats}")
    print(f"{'model':22s} {'round':>5s} {'zoo s':>8s} {'torchvision s':>14s} {'zoo/tv':>7s}")
    for i in range(0, len(rows), 2):
        (m, _, t_zoo, r), (_, _, t_tv, _) = rows[i], rows[i + 1]
        print(f"{m:22s} {r:5d} {t_zoo:8.3f} {t_tv:14.3f} {t_zoo / t_tv:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
