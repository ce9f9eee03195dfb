"""Running a .tflite file with the LiteRT interpreter: output order, (de)quantization, latency.

Example:
    >>> runner = TFLiteRunner("m.tflite", num_threads=1)
    >>> outs = runner.run(x)                       # list of float arrays, batch axis kept
    >>> runner.latency(x[:1], runs=10)["median"]   # ms
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from zoo.utils.timing import time_call


def describe(d: dict[str, Any]) -> str:
    """One line for a tensor detail: name, shape, dtype and quantization."""
    q = d.get("quantization", (0.0, 0))
    qs = f" q(scale={q[0]:.4g}, zp={q[1]})" if q and q[0] else ""
    return f"{d['name']} {list(int(v) for v in d['shape'])} {np.dtype(d['dtype']).name}{qs}"


def canonical_output_order(interpreter: Any) -> list[int]:
    """Positions in ``get_output_details()`` of the serving function's outputs 0, 1, 2, ...

    Files converted from a SavedModel signature list their outputs in an arbitrary order; the
    signature names them ``output_0`` ... in the order the function returned them. Files from a
    concrete function have no signature and keep the order.
    """
    details = interpreter.get_output_details()
    sigs = interpreter._get_full_signature_list()
    if not sigs:
        return list(range(len(details)))
    outs = next(iter(sigs.values()))["outputs"]
    names = sorted(outs, key=lambda n: (len(n), n))
    position = {d["index"]: i for i, d in enumerate(details)}
    return [position[outs[n]] for n in names]


class TFLiteRunner:
    """Runs a .tflite file with the ai-edge-litert interpreter (XNNPACK), one image at a time.

    Example:
        >>> outs = TFLiteRunner("m.tflite").run(x)   # list of float arrays, batch axis kept
    """

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        kw = {"model_content": model} if isinstance(model, (bytes, bytearray)) else {"model_path": str(model)}
        self.interpreter = Interpreter(num_threads=num_threads, **kw)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        details = self.interpreter.get_output_details()
        self.outputs = [details[i] for i in canonical_output_order(self.interpreter)]

    def _quantize_input(self, x: np.ndarray) -> np.ndarray:
        dtype = np.dtype(self.input["dtype"])
        scale, zp = self.input.get("quantization", (0.0, 0))
        if dtype in (np.uint8, np.int8) and x.dtype != dtype:
            if scale:
                x = np.round(x / scale + zp)
            info = np.iinfo(dtype)
            return np.clip(x, info.min, info.max).astype(dtype)
        return x.astype(dtype)

    def invoke(self, x: np.ndarray) -> list[np.ndarray]:
        """Runs one input ``[1, H, W, C]``; returns dequantized float outputs."""
        self.interpreter.set_tensor(self.input["index"], self._quantize_input(x))
        self.interpreter.invoke()
        outs = []
        for d in self.outputs:
            y = self.interpreter.get_tensor(d["index"])
            scale, zp = d.get("quantization", (0.0, 0))
            if np.dtype(d["dtype"]) in (np.uint8, np.int8) and scale:
                y = (y.astype(np.float32) - zp) * scale
            outs.append(np.asarray(y, np.float32))
        return outs

    def run(self, xs: np.ndarray) -> list[np.ndarray]:
        """Runs each of ``xs`` ``[N, H, W, C]``; outputs concatenated over N."""
        per = [self.invoke(x[None]) for x in xs]
        return [np.concatenate([p[i] for p in per]) for i in range(len(per[0]))]

    def latency(self, x: np.ndarray, runs: int = 10, warmup: int = 2) -> dict[str, float]:
        """Median and p90 (ms) of ``runs`` invocations after ``warmup`` untimed ones."""
        q = self._quantize_input(x)
        t = time_call(
            self.interpreter.invoke,
            repeats=max(1, runs),
            warmup=warmup,
            setup=lambda: self.interpreter.set_tensor(self.input["index"], q),
        )
        return {"median": t["median_ms"], "p90": t["p90_ms"], "runs": t["repeats"]}


def latency(
    model: str | os.PathLike | bytes, x: np.ndarray, threads: int, runs: int = 10
) -> dict[str, float]:
    """LiteRT latency of one input ``x`` ``[1, H, W, C]`` with ``threads`` threads (ms)."""
    return TFLiteRunner(model, num_threads=threads).latency(x, runs=runs)
