"""Speed of zoo classifiers next to their keras.applications twins, measured in one run.

For each pair: throughput (images/s at batch 16) and single-image latency (median ms),
same input, same backend, measurements interleaved (zoo, reference, then reference, zoo, ...)
so a busy machine slows both alike and neither always runs first. Prints one table with the
ratio zoo / keras.applications (>= 1.0 means the zoo model is no slower).

The command line is ``python -m zoo bench`` (``tools/bench.py``); its options are parsed in
:mod:`zoo.cli`.

Example:
    >>> rows = run_bench(["vgg16"], repeats=3)
    >>> print(format_table(rows))
"""

from __future__ import annotations

import platform
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.utils.timing import time_once

# zoo name -> (keras.applications constructor name, input size)
PAIRS: dict[str, tuple[str, int]] = {
    "vgg16": ("VGG16", 224),
    "vgg19": ("VGG19", 224),
    "resnet50": ("ResNet50", 224),
    "inception_v3": ("InceptionV3", 299),
}


def measure_pair(name: str, repeats: int = 5, batch: int = 16) -> dict[str, Any]:
    """Times zoo model ``name`` and its keras.applications twin; returns the figures."""
    import keras

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
            thr[key].append(batch / time_once(lambda m=m: m.predict_on_batch(xb)))
            lat[key].append(1000 * time_once(lambda m=m: m.predict_on_batch(x1)))
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


def run_bench(
    models: Sequence[str] = tuple(PAIRS),
    *,
    repeats: int = 5,
    batch: int = 16,
    json_path: str | None = None,
) -> list[dict[str, Any]]:
    """Measures every pair in ``models`` and prints the machine line, progress and the table.

    Args:
        models: zoo names from :data:`PAIRS`.
        repeats: timed runs per model (medians are reported).
        batch: batch size for the throughput figure.
        json_path: also write the rows to this JSON file.

    Returns:
        The :func:`measure_pair` rows.
    """
    unknown = [m for m in models if m not in PAIRS]
    if unknown:
        raise ValueError(
            f"no keras.applications twin for {', '.join(unknown)}; choose from {', '.join(PAIRS)}"
        )
    if repeats < 1 or batch < 1:
        raise ValueError(f"--repeats and --batch must be >= 1, got {repeats} and {batch}")
    import keras

    print(f"backend={keras.backend.backend()} machine={platform.machine()} cpus={_cpus()} batch={batch}")
    rows = []
    for name in models:
        rows.append(measure_pair(name, repeats=repeats, batch=batch))
        print(f"measured {name}", flush=True)
    print(format_table(rows))
    if json_path:
        from zoo.utils.io import atomic_write_json

        atomic_write_json(json_path, rows)
    return rows


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
