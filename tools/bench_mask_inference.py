"""Wall time and peak RSS of ``detect_batch`` on two random images, for a two-stage detector.

One model per process (peak RSS is the process's): build, first ``detect_batch`` (includes
compiling the predict step), a second one (compiled), and an eager forward pass. Random weights.

Example:
    python tools/bench_mask_inference.py mask_rcnn_resnet50 256
    python tools/bench_mask_inference.py faster_rcnn_resnet50 256
"""

from __future__ import annotations

import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    import zoo

    argv = sys.argv[1:] if argv is None else argv
    name, size = argv[0], int(argv[1]) if len(argv) > 1 else 256
    model = zoo.get(name, num_classes=4, input_shape=(size, size, 3))
    x = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")
    times = []
    for _ in range(2):
        t = time.perf_counter()
        dets = model.detect_batch(x)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    model(x, training=False)
    eager = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(
        f"{name} {size}px, 2 images: first detect_batch {times[0]:.1f} s, second {times[1]:.1f} s, "
        f"eager forward {eager:.1f} s, peak RSS {rss:.2f} GB, detections {dets['num_detections'].tolist()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
