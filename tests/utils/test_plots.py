"""Figures with a super-title: it does not overlap the panel titles (every zoo PNG writer)."""

from unittest import mock

import numpy as np
import pytest

from zoo.utils import plots

# two lines, as a long title with its settings is written: the case a plain suptitle overlaps
TITLE = "model on data (96 px)\nscore > 0.3; dashed: ground truth"


def _title_boxes(call):
    """Super-title and panel-title boxes of the figure ``call`` saves, as drawn when saved."""
    from matplotlib.figure import Figure

    figures = []
    real_savefig = Figure.savefig

    def keep(fig, *args, **kwargs):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        sup = fig._suptitle.get_window_extent(renderer)
        panels = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
        figures.append((sup, panels))
        return real_savefig(fig, *args, **kwargs)

    plots.pyplot()
    with mock.patch.object(Figure, "savefig", keep):
        call()
    return figures[0]


def _history(path):
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "acc": [0.1, 0.5], "val_acc": [0.2, 0.4]}
    plots.plot_history(history, path, title=TITLE)


def _segmentation(path):
    from zoo.segmentation import train

    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (2, 16, 16, 3))
    masks = rng.integers(0, 3, (2, 16, 16))
    train.save_prediction_grid(img, masks, masks, 3, path, title=TITLE)


def _detections(path):
    from zoo.detection import visualize

    dets = {
        "boxes": np.array([[[0.1, 0.1, 0.5, 0.5]]] * 2, "float32"),
        "scores": np.array([[0.9]] * 2, "float32"),
        "classes": np.array([[1]] * 2),
        "num_detections": np.array([1, 1]),
    }
    visualize.save_detections_png(np.zeros((2, 32, 32, 3), "uint8"), dets, path, title=TITLE)


def _style(path):
    from zoo.generative import style

    img = np.zeros((8, 8, 3))
    style.save_side_by_side(img, img, img, path, title=TITLE)


@pytest.mark.parametrize(
    "write", [_history, _segmentation, _detections, _style], ids=lambda f: f.__name__[1:]
)
def test_suptitle_clears_panel_titles(tmp_path, write):
    sup, panels = _title_boxes(lambda: write(tmp_path / "f.png"))
    assert panels and all(sup.y0 >= p.y1 for p in panels), (sup, panels)  # above every panel title
    assert (tmp_path / "f.png").stat().st_size > 0
