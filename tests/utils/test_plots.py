"""History plots: the figure title does not overlap the panel titles."""

from unittest import mock

from zoo.utils import plots


def test_suptitle_clears_panel_titles(tmp_path):
    figures = []
    real_save = plots.save_figure

    def keep(fig, path, dpi=110):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        sup = fig._suptitle.get_window_extent(renderer)
        panels = [ax.title.get_window_extent(renderer) for ax in fig.axes]
        figures.append((sup, panels))
        return real_save(fig, path, dpi)

    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "acc": [0.1, 0.5], "val_acc": [0.2, 0.4]}
    with mock.patch.object(plots, "save_figure", keep):
        plots.plot_history(history, tmp_path / "c.png", title="a long figure title for the run")
    sup, panels = figures[0]
    assert all(sup.y0 >= p.y1 for p in panels), (sup, panels)  # the title sits above every panel title
