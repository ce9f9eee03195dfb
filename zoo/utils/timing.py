"""One timer for the benchmarks: median (and min) wall time of a call after warm-up calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


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


def time_call(fn: Callable[[], Any], repeats: int = 10, warmup: int = 1) -> dict[str, float]:
    """Times ``fn()``: ``warmup`` untimed calls (tracing, allocation), then ``repeats`` timed ones.

    ``fn`` must block until its result is ready (e.g. end with ``.numpy()`` or
    ``keras.ops.convert_to_numpy``), or the time of asynchronous work is missed.

    Returns:
        dict(median_ms, min_ms, repeats).

    Example:
        >>> time_call(lambda: model.predict_on_batch(x), repeats=5)["median_ms"]
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(max(0, int(warmup))):
        fn()
    times = [time_once(fn) * 1000.0 for _ in range(int(repeats))]
    return {"median_ms": statistics.median(times), "min_ms": min(times), "repeats": int(repeats)}
