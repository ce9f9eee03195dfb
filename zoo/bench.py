"""Speed of zoo classifiers next to their keras.applications twins, measured in one run.

For each pair: throughput (images/s at batch 16) and single-image latency (median ms),
same input, same backend, measurements interleaved (zoo, reference, then reference, zoo, ...)
so a busy machine slows both alike and neither always runs first. Prints one table with the
ratio zoo / keras.applications (>= 1.0 means the zoo model is no slower).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

# zoo name -> (keras.applications constructor name, input size)
PAIRS: dict[str, tuple[str, int]] = {
    "vgg16": ("VGG16", 224),
    "vgg19": ("VGG19", 224),
    "resnet50": ("ResNet50", 224),
    "inception_v3": ("InceptionV3", 299),
}


def _timer(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    out = fn()
    keras.ops.convert_to_numpy(out)  # wait for the result on asynchronous backends
    return time.perf_counter() - start


def measure_pair(name: str, repeats: int = 5, batch: int = 16) -> dict[str, Any]:
    """Times zoo model ``name`` and its keras.applications twin; returns the figures."""
    import zoo

    ref_name, size = PAIRS[name]
    ours = zoo.get(name, weights=None)
    ref = getattr(keras.applications, ref_name)(weights=None)
    rng = np.random.default_rng(0)
    xb = rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    x1 = xb[:1]
    models = {"zoo": ours, "ref": ref}
    for m in models.values():  # warm-up: tracing and first allocations
        m.predict_on_batch(xb)
        m.predict_on_batch(x1)
    thr: dict[str, list[float]] = {"zoo": [], "ref": []}
    lat: dict[str, list[float]] = {"zoo": [], "ref": []}
    for r in range(repeats):
        order = list(models.items()) if r % 2 == 0 else list(models.items())[::-1]  # no position bias
        for key, m in order:
            thr[key].append(batch / _timer(lambda m=m: m.predict_on_batch(xb)))
            lat[key].append(1000 * _timer(lambda m=m: m.predict_on_batch(x1)))
    row = {"model": name, "reference": f"keras.applications.{ref_name}", "input": size}
    for key in models:
        row[f"{key}_images_per_s"] = statistics.median(thr[key])
        row[f"{key}_latency_ms"] = statistics.median(lat[key])
    row["throughput_ratio"] = row["zoo_images_per_s"] / row["ref_images_per_s"]
    row["latency_ratio"] = row["ref_latency_ms"] / row["zoo_latency_ms"]
    del ours, ref
    keras.backend.clear_session()
    return row


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of ``measure_pair`` rows."""
    head = (
        "| model | input | zoo img/s | keras.applications img/s | ratio | zoo latency ms | "
        "keras.applications latency ms | ratio |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['input']} | {r['zoo_images_per_s']:.2f} | {r['ref_images_per_s']:.2f} | "
            f"{r['throughput_ratio']:.2f} | {r['zoo_latency_ms']:.1f} | {r['ref_latency_ms']:.1f} | "
            f"{r['latency_ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python tools/bench.py [--models vgg16 resnet50] [--repeats 5] [--json out.json]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    print(f"backend={keras.backend.backend()} machine={platform.machine()} cpus={_cpus()} batch={args.batch}")
    rows = []
    for name in args.models:
        rows.append(measure_pair(name, repeats=args.repeats, batch=args.batch))
        print(f"measured {name}", flush=True)
    print(format_table(rows))
    if args.json:
        from zoo.utils.io import atomic_write_json

        atomic_write_json(args.json, rows)
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
