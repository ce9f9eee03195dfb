"""Time OverFeat's shared computation: one pass of the convolutionalized classifier vs window by window.

A VGG-11-layout classifier (``zoo.classification.vgg.vgg_features``, width ``--width``) on
``--window`` px windows, its fully connected layers made convolutions by ``zoo.overfeat.convolutionalize``.
For each image size the score map (every stride-32 window) is computed (a) in one pass of the
convolutional network and (b) by cropping every window and running the original classifier on each
(batch 1 per window, and all windows as one batch). Also reports the largest difference between the
two answers (they agree exactly only away from the zero padding, see ``zoo.overfeat``). Random
weights: the cost does not depend on them. Writes ``--json`` if given.

Example:
    python tools/overfeat_timing.py --window 64 --sizes 96 128 192 256 --json runs/overfeat_timing.json
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def build_classifier(window: int, width: float, classes: int = 4):
    """VGG-11 layout (narrowed) + Flatten + FC(256) + FC(classes), a plain chain for convolutionalize."""
    import keras

    from zoo.classification.vgg import vgg_features

    image = keras.Input((window, window, 3))
    x = vgg_features(image, "A", width=width)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(image, x, name="vgg11_narrow")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--sizes", type=int, nargs="+", default=[96, 128, 192, 256])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    import keras

    from zoo.overfeat import convolutionalize, window_boxes
    from zoo.utils.timing import time_call

    keras.utils.set_random_seed(0)
    clf = build_classifier(args.window, args.width)
    net = convolutionalize(clf)
    stride = net.overfeat_stride
    rows = []
    for size in args.sizes:
        image = np.random.default_rng(size).uniform(0, 255, (1, size, size, 3)).astype("float32")
        scores = keras.ops.convert_to_numpy(net.predict_on_batch(image))
        mh, mw = scores.shape[1:3]
        boxes = window_boxes((mh, mw), stride, (args.window, args.window)).astype(int)
        crops = np.stack([image[0, y0:y1, x0:x1] for x0, y0, x1, y1 in boxes])
        one_pass = time_call(lambda x=image: net.predict_on_batch(x), repeats=args.repeats, warmup=2)[
            "median_ms"
        ]
        batched = time_call(lambda c=crops: clf.predict_on_batch(c), repeats=args.repeats, warmup=2)[
            "median_ms"
        ]

        def one_by_one(windows=crops):
            for c in windows:
                clf.predict_on_batch(c[None])

        each = time_call(one_by_one, repeats=args.repeats, warmup=1)["median_ms"]
        crop_scores = keras.ops.convert_to_numpy(clf.predict_on_batch(crops))
        diff = float(np.max(np.abs(crop_scores - scores[0].reshape(-1, scores.shape[-1]))))
        rows.append({
            "image": size, "windows": int(mh * mw), "map": [int(mh), int(mw)],
            "one_pass_ms": round(one_pass, 2), "windows_batched_ms": round(batched, 2),
            "window_by_window_ms": round(each, 2), "speedup_vs_window_by_window": round(each / one_pass, 2),
            "speedup_vs_batched_windows": round(batched / one_pass, 2), "max_abs_score_difference": diff,
        })  # fmt: skip
        print(rows[-1], flush=True)
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "backend": keras.backend.backend(),
        "window": args.window, "width": args.width, "stride": stride, "num_params": int(clf.count_params()),
        "rows": rows,
    }  # fmt: skip
    if args.json:
        from zoo.utils.io import atomic_write_json

        atomic_write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
