"""Export's files: outputs keep the usual (umask) permissions; the conversion's scratch folder
(a SavedModel, hundreds of MB for a real model) is removed on Ctrl-C / SIGTERM and swept after a
SIGKILL."""

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import pytest

from zoo.export import conversion
from zoo.export.litert import export_model
from zoo.utils.io import sweep_stale_scratch

ROOT = Path(__file__).resolve().parents[2]


def _tiny(size=16):
    inp = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x), name="tiny")


def _modes(*paths):
    return [stat.S_IMODE(Path(p).stat().st_mode) for p in paths]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_export_outputs_get_the_usual_permissions(tmp_path, umask, mode):
    from zoo.export.cli import main

    model = tmp_path / "m.keras"
    from zoo.saving import save_model

    old = os.umask(umask)
    try:
        save_model(_tiny(), model, preprocess="unit", labels=["a", "b", "c"])
        out, report = tmp_path / "m.tflite", tmp_path / "m.json"
        argv = [
            str(model),
            "-o",
            str(out),
            "--report",
            str(report),
            "--num-verify",
            "2",
            "--latency-runs",
            "0",
        ]
        assert main(argv) == 0
    finally:
        os.umask(old)
    assert _modes(model, out, report) == [mode] * 3  # never mkstemp's 0600
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_conversion_scratch_holds_the_converters_files_and_goes_on_interrupt(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen = {}

    def interrupted(converter, concrete, spec, options):
        seen["tempdir"] = Path(tempfile.gettempdir())
        seen["theirs"] = Path(tempfile.mkdtemp())  # what TF's converter makes for itself
        raise KeyboardInterrupt

    monkeypatch.setattr(conversion, "_configure_and_convert", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_model(_tiny(), tmp_path / "x.tflite", preprocess="unit", verify=False, verbose=False)
    assert seen["tempdir"].name.startswith(f"zoo_export_pid{os.getpid()}_")
    assert seen["theirs"].parent == seen["tempdir"]
    assert list(tmp_path.iterdir()) == [] and tempfile.gettempdir() == str(tmp_path)


def _convert_until_scratch(tmp_path, model):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp"), "CUDA_VISIBLE_DEVICES": ""}
    argv = [
        sys.executable,
        "-m",
        "zoo",
        "convert",
        str(model),
        "-o",
        str(tmp_path / "m.tflite"),
        "--no-verify",
    ]
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 240
    while not list((tmp_path / "tmp").glob("zoo_export_*")):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return proc


@pytest.mark.slow
def test_convert_cleans_its_scratch_on_sigterm_and_the_next_export_sweeps_after_sigkill(tmp_path):
    (tmp_path / "tmp").mkdir()
    from zoo.saving import save_model

    model = tmp_path / "m.keras"
    save_model(_tiny(96), model, preprocess="unit")
    proc = _convert_until_scratch(tmp_path, model)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in err, err[-3000:]
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "m.tflite").exists()

    proc = _convert_until_scratch(tmp_path, model)
    proc.kill()
    proc.wait(timeout=30)
    left = list((tmp_path / "tmp").glob("zoo_export_*"))
    assert left  # SIGKILL cannot be caught; the next export's scratch_dir sweeps it:
    assert sweep_stale_scratch("zoo_export_", root=tmp_path / "tmp") == len(left)
