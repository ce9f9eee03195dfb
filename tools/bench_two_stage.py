"""Per-image CPU inference time of Faster R-CNN (VGG16) split as the paper's Table 5, next to SSD300.

Stages (Ren et al. 2015, Table 5: conv / proposal / region-wise):
  backbone  VGG16 conv1_1 .. conv5_3
  rpn       RPN head + proposal layer (decode, clip, top 6000, NMS 0.7, top 300)
  head      RoI pooling, fc6/fc7, cls_score/bbox_pred, softmax, per-class NMS (region-wise)
SSD300 (``zoo.get("ssd_vgg16")``) is timed end to end (network + post-processing) in the same run.

Random weights (timings do not depend on the values); each stage is a compiled ``tf.function``;
the median of ``--repeats`` runs after a warm-up is reported.

Example:
    python tools/bench_two_stage.py --height 600 --width 800 --repeats 5 --out runs/bench_two_stage.json
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

from zoo.utils.timing import time_call  # noqa: E402

# The paper's Table 5 (K40 GPU, ms per image, VGG16, RPN + Fast R-CNN).
PAPER_MS = {"backbone": 141.0, "rpn": 10.0, "head": 47.0, "total": 198.0}


def _median_ms(fn, repeats: int) -> float:
    return time_call(fn, repeats=repeats, warmup=1)["median_ms"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--height", type=int, default=600, help="input height (the paper's short side: 600)")
    p.add_argument("--width", type=int, default=800, help="input width")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-ssd", action="store_true", help="skip the SSD300 comparison")
    p.add_argument("--out", default=None, help="write the numbers as JSON here")
    args = p.parse_args(argv)

    import tensorflow as tf

    import zoo
    from zoo.utils.io import atomic_write_json

    model = zoo.get("faster_rcnn_vgg16", num_classes=21, input_shape=(args.height, args.width, 3))
    image = tf.constant(
        np.random.default_rng(0).uniform(0, 255, (1, args.height, args.width, 3)).astype("float32")
    )

    backbone = tf.function(lambda x: model.features(x), autograph=False)
    feats = backbone(image)

    @tf.function(autograph=False)
    def rpn(f):
        logits, deltas = model.rpn_outputs(f)
        return model.proposals(logits, deltas)[0]

    boxes = rpn(feats)

    @tf.function(autograph=False)
    def head(f, b):
        from zoo.detection.postprocess import postprocess_detections

        cls, deltas = model.roi_head(f, b)
        return postprocess_detections(
            cls, deltas, b, model.image_size, weights=model.box_weights, **model.postprocess.as_dict()
        )

    ms = {
        "backbone": _median_ms(lambda: backbone(image).numpy(), args.repeats),
        "rpn": _median_ms(lambda: rpn(feats).numpy(), args.repeats),
        "head": _median_ms(lambda: head(feats, boxes)["boxes"].numpy(), args.repeats),
    }
    ms["total"] = sum(ms.values())
    full = tf.function(lambda x: model.detections(x), autograph=False)
    ms["end_to_end"] = _median_ms(lambda: full(image)["boxes"].numpy(), args.repeats)

    rows = [(k, ms[k], PAPER_MS[k]) for k in ("backbone", "rpn", "head", "total")]
    print(f"\nFaster R-CNN VGG16, {args.height}x{args.width}, CPU, batch 1, median of {args.repeats} runs")
    print(f"{'stage':<22}{'ms (this CPU)':>15}{'paper K40 ms':>15}{'ratio':>9}")
    for name, value, ref in rows:
        print(f"{name:<22}{value:>15.1f}{ref:>15.1f}{value / ref:>9.1f}")
    print(f"{'end-to-end detect':<22}{ms['end_to_end']:>15.1f}{'':>15}{'':>9}")
    if not args.no_ssd and "ssd_vgg16" in zoo.list_models(task="detection"):
        ssd = zoo.get("ssd_vgg16", num_classes=21)
        ssd_image = np.random.default_rng(0).uniform(0, 255, (1, 300, 300, 3)).astype("float32")
        # SSD.detect_batch runs its own compiled predict function.
        ms["ssd300"] = _median_ms(lambda: np.asarray(ssd.detect_batch(ssd_image)["boxes"]), args.repeats)
        print(f"{'SSD300 (300x300)':<22}{ms['ssd300']:>15.1f}{'':>15}{'':>9}")
        print(f"Faster R-CNN / SSD300 time: {ms['end_to_end'] / ms['ssd300']:.1f}x")
    if args.out:
        atomic_write_json(args.out, {"input": [args.height, args.width], "repeats": args.repeats, "ms": ms,
                                     "paper_k40_ms": PAPER_MS})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
