"""One timer for the benchmarks: median, p90 and min wall time of a call after warm-up calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def time_once(fn: Callable[[], Any]) -> float:
    """Seconds of one ``fn()`` call, waiting for its result on asynchronous backends.

    Example:
        >>> time_once(lambda: model.predict_on_batch(x))
    """
    start = time.perf_counter()
    out = fn()
    if out is not None:
        import keras

        keras.tree.map_structure(keras.ops.convert_to_numpy, out)
    return time.perf_counter() - start


def time_call(
    fn: Callable[[], Any],
    repeats: int = 10,
    warmup: int = 1,
    setup: Callable[[], Any] | None = None,
) -> dict[str, float]:
    """Times ``fn()``: ``warmup`` untimed calls (tracing, allocation), then ``repeats`` timed ones.

    A returned value is waited for (:func:`time_once`); ``setup()``, if given, runs untimed before
    every call (e.g. setting an interpreter's input tensor).

    Returns:
        dict(median_ms, p90_ms, min_ms, repeats).

    Example:
        >>> time_call(lambda: model.predict_on_batch(x), repeats=5)["median_ms"]
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    setup = setup or (lambda: None)
    for _ in range(max(0, int(warmup))):
        setup()
        fn()
    times = []
    for _ in range(int(repeats)):
        setup()
        times.append(time_once(fn) * 1000.0)
    return {
        "median_ms": statistics.median(times),
        "p90_ms": float(np.percentile(times, 90)),
        "min_ms": min(times),
        "repeats": int(repeats),
    }
