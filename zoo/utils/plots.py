"""PNG plots people look at: training curves and simple line charts. Headless (Agg)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from zoo.utils.io import atomic_path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (plots are saved, never shown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Saves a matplotlib figure to ``path`` atomically as PNG and closes it.

    A figure with a super-title and no layout engine gets matplotlib's constrained layout, which
    keeps the super-title above the panel titles (a plain ``suptitle`` overlaps them).
    """
    plt = pyplot()
    if fig._suptitle is not None and fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def plot_history(history: Mapping[str, Sequence[float]], path: str | os.PathLike, title: str = "") -> Path:
    """Plots Keras-style history curves (``loss``/``val_loss`` pairs share an axis) to a PNG.

    Args:
        history: metric name -> per-epoch values (``keras.callbacks.History.history`` or a CSV log).
        path: PNG file to write.
        title: figure title.
    """
    plt = pyplot()
    bases = []
    for key in history:
        base = key[4:] if key.startswith("val_") else key
        if base not in bases and base not in ("epoch", "learning_rate", "lr"):
            bases.append(base)
    n = max(1, len(bases))
    # constrained layout keeps the figure title above the panel titles (no overlap)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False, layout="constrained")
    for ax, base in zip(axes[0], bases):
        for key, style in ((base, "-"), (f"val_{base}", "--")):
            if key in history and len(history[key]):
                # epochs without a value (NaN: metric not computed that epoch) are left out
                points = [(e, v) for e, v in enumerate(history[key], start=1) if v == v]
                if points:
                    ax.plot(*zip(*points), style, marker="o", ms=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_title(base)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_lines(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    logx: bool = False,
) -> Path:
    """Plots several named series over a shared x axis (e.g. a learning curve) to a PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, ys in series.items():
        ax.plot(list(x)[: len(ys)], list(ys), marker="o", label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
