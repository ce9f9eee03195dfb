"""Wall time and peak RSS of ``detect_batch`` on two random images, for a two-stage detector.

One model per process (peak RSS is the process's): build, first ``detect_batch`` (includes
compiling the predict step), a second one (compiled), and optionally (``--eager``) an eager
forward pass (the graph path: the mask branch on all K slots). The peak RSS is printed after
each phase, so a phase that holds memory shows where it starts. Random weights.

Example:
    python tools/bench_mask_inference.py mask_rcnn_resnet50 256
    python tools/bench_mask_inference.py faster_rcnn_resnet50 256 --eager
    python tools/bench_mask_inference.py mask_rcnn_resnet50 256 --test-proposals 6000 1000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="registered two-stage detector, e.g. mask_rcnn_resnet50")
    parser.add_argument("size", nargs="?", type=int, default=256, help="square input side (256)")
    parser.add_argument("--eager", action="store_true", help="also time an eager forward pass")
    parser.add_argument(
        "--test-proposals", type=int, nargs=2, metavar=("PRE", "POST"), help="RPN top k before / after NMS"
    )
    args = parser.parse_args(argv)

    import numpy as np

    import zoo

    phases = []
    t = time.perf_counter()
    kw = {"test_proposals": tuple(args.test_proposals)} if args.test_proposals else {}
    model = zoo.get(args.name, num_classes=4, input_shape=(args.size, args.size, 3), **kw)
    phases.append(("build", time.perf_counter() - t, _peak_gb()))
    x = np.random.default_rng(0).uniform(0, 255, (2, args.size, args.size, 3)).astype("float32")
    for label in ("first detect_batch", "second detect_batch"):
        t = time.perf_counter()
        dets = model.detect_batch(x)
        phases.append((label, time.perf_counter() - t, _peak_gb()))
    if args.eager:
        t = time.perf_counter()
        model(x, training=False)
        phases.append(("eager forward", time.perf_counter() - t, _peak_gb()))
    print(
        f"{args.name} {args.size}px, 2 images, test proposals {model.test_proposals}, "
        f"detections {dets['num_detections'].tolist()}:"
    )
    for label, seconds, peak in phases:
        print(f"  {label}: {seconds:.1f} s, peak RSS so far {peak:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
