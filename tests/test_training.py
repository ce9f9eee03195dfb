"""fit_resumable: resume after an interruption, and a history log whose columns stay aligned."""

import math

import keras
import numpy as np
import pytest

from zoo.training import fit_resumable, get_strategy, read_history


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _data():
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((np.ones((8, 3), "float32"), np.ones((8, 1), "float32"))).batch(
        4
    )


class _SometimesMetric(keras.callbacks.Callback):
    """Adds ``val_extra`` only on odd epochs: a key the first epoch's header does not have."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch % 2 == 1:
            logs["val_extra"] = 10.0 + epoch


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_and_history_stays_aligned(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit_resumable(_model(), _data(), epochs=4, workdir=tmp_path, verbose=0,
                      callbacks=[_SometimesMetric(), _Interrupt(at=1)])  # fmt: skip
    history = fit_resumable(
        _model(), _data(), epochs=4, workdir=tmp_path, verbose=0, callbacks=[_SometimesMetric()]
    )
    assert len(history["loss"]) == 4 and len(history["val_extra"]) == 4
    assert math.isnan(history["val_extra"][0]) and math.isnan(history["val_extra"][2])
    assert history["val_extra"][1] == 11.0 and history["val_extra"][3] == 13.0
    assert read_history(tmp_path / "history.csv")["loss"] == history["loss"]
    assert (tmp_path / "curves.png").stat().st_size > 0
    header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "epoch" and "val_extra" in header
    assert not (tmp_path / "backup").exists() and (tmp_path / "last.weights.h5").exists()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="epochs"):
        fit_resumable(_model(), _data(), epochs=0, workdir="unused")
    with pytest.raises(ValueError, match="Unknown strategy"):
        get_strategy("tpu-pod")


def test_curves_written_every_epoch_and_finished_run_is_done(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        fit_resumable(_model(), _data(), epochs=4, workdir=tmp_path, verbose=0, callbacks=[_Interrupt(at=2)])
    # interrupted after two finished epochs: the plot of those epochs is already there
    assert (tmp_path / "curves.png").stat().st_size > 0 and len(
        read_history(tmp_path / "history.csv")["loss"]
    ) == 2
    fit_resumable(_model(), _data(), epochs=4, workdir=tmp_path, verbose=0)
    trained = _model()
    trained.load_weights(tmp_path / "last.weights.h5")
    capsys.readouterr()

    class _Count(keras.callbacks.Callback):
        epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            _Count.epochs += 1

    again = _model()
    history = fit_resumable(again, _data(), epochs=4, workdir=tmp_path, verbose=0, callbacks=[_Count()])
    assert _Count.epochs == 0 and len(history["loss"]) == 4  # not retrained, results kept
    assert "already finished 4 epoch(s)" in capsys.readouterr().out
    np.testing.assert_array_equal(
        again.get_weights()[0], trained.get_weights()[0]
    )  # the run's weights loaded
    history = fit_resumable(_model(), _data(), epochs=6, workdir=tmp_path, verbose=0, callbacks=[_Count()])
    assert _Count.epochs == 2 and len(history["loss"]) == 6  # continued with two more epochs
