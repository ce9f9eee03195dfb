"""Ctrl-C in the experiment recipes: one ``interrupted ...`` line and status 130, no traceback.

In-process (the subprocess signal tests of the training recipes are in test_recipe_signals.py, slow):
each recipe's work is replaced by a function that raises KeyboardInterrupt, as Ctrl-C does, and the
recipe runs as its ``__main__`` block runs it (``zoo.utils.cmdline.run_script``).
"""

import importlib.util
from pathlib import Path

import pytest

from zoo.utils.cmdline import run_script

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _recipe(name):
    spec = importlib.util.spec_from_file_location(f"{name}_recipe_under_test", RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


# recipe, (module holding the work, attribute) patched, extra arguments
CASES = {
    "dann": (None, "run_dann_experiment", []),
    "localize": (None, "run_localization_experiment", []),
    "pose": (None, "run_pose_experiment", []),
    "overfeat": ("zoo.overfeat", "run_overfeat_experiment", []),
    "crnn": ("zoo.classification.crnn", "train_crnn", ["train"]),
}


@pytest.mark.parametrize("name", [*sorted(CASES), "style_transfer"])
def test_recipe_runs_its_main_through_run_script(name):
    source = (RECIPES / f"{name}.py").read_text()
    block = source[source.index('if __name__ == "__main__":') :]
    assert "sys.exit(run_script(main))" in block, f"recipes/{name}.py runs main() without run_script"


@pytest.mark.parametrize("name", sorted(CASES))
def test_experiment_recipes_report_an_interrupt_in_one_line(name, tmp_path, capsys, monkeypatch):
    module_name, attr, extra = CASES[name]
    recipe = _recipe(name)
    target = recipe if module_name is None else importlib.import_module(module_name)
    monkeypatch.setattr(target, attr, _interrupt)
    work = tmp_path / "w"
    assert run_script(recipe.main, [*extra, "--workdir", str(work)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted; the last finished epoch's checkpoint is in {work}" in err
    assert "Traceback" not in err


def test_style_transfer_reports_an_interrupt_and_user_errors_in_one_line(tmp_path, capsys, monkeypatch):
    recipe = _recipe("style_transfer")
    monkeypatch.setattr(recipe, "gatys", _interrupt)
    assert run_script(recipe.main, ["--content", "c.png"]) == 130
    assert "interrupted; rerun the same command to resume" in capsys.readouterr().err


def test_run_script_passes_a_report_as_success_and_a_status_through(capsys):
    assert run_script(lambda argv: {"accuracy": 1.0}, []) == 0
    assert run_script(lambda argv: 3, []) == 3

    def bad(argv):
        raise ValueError("--steps must be positive, got 0")

    assert run_script(bad, ["--steps", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --steps must be positive, got 0"


# recipe, a flag changed on the second run, what the message says of it
CHANGED = {
    "dann": (["--size", "16"], "--size: 28 (stored) -> 16 (now)"),
    "localize": (["--image-size", "32"], "--image-size: 64 (stored) -> 32 (now)"),
    "pose": (["--image-size", "32"], "--image-size: 64 (stored) -> 32 (now)"),
    "overfeat": (["--image-size", "96"], "--image-size: 112 (stored) -> 96 (now)"),
}


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_experiment_recipes_keep_a_run_record_and_refuse_other_settings(name, tmp_path, capsys, monkeypatch):
    import json

    module_name, attr, _ = CASES[name]
    recipe = _recipe(name)
    target = recipe if module_name is None else importlib.import_module(module_name)
    monkeypatch.setattr(target, attr, lambda *args, **kwargs: {"results": {}})
    work = tmp_path / "w"
    assert run_script(recipe.main, ["--workdir", str(work)]) == 0
    record = json.loads((work / "run.json").read_text())
    assert record["status"] == "finished" and "workdir" not in record["config"]
    changed, setting = CHANGED[name]
    capsys.readouterr()
    assert run_script(recipe.main, ["--workdir", str(work), *changed]) == 2
    err = capsys.readouterr().err
    assert "holds a run started with other settings" in err and setting in err, err
    assert "Traceback" not in err


def test_fast_style_and_lineage_recipes_refuse_a_resume_with_other_settings(tmp_path, capsys, monkeypatch):
    import zoo.detection.lineage
    import zoo.generative.fast_style

    style = _recipe("style_transfer")
    monkeypatch.setattr(zoo.generative.fast_style, "train_fast_style", _interrupt)
    work = tmp_path / "style"
    argv = ["fast", "--folder", "f", "--style", "s.png", "--content", "c.png", "--workdir", str(work)]
    assert run_script(style.main, argv) == 130  # interrupted in training: the run record stays
    capsys.readouterr()
    assert run_script(style.main, [*argv, "--image-size", "128"]) == 2
    assert "--image-size: 256 (stored) -> 128 (now)" in capsys.readouterr().err

    lineage = _recipe("rcnn_lineage")
    fake = {"metrics": {"voc_map": 0.5}, "seconds_per_image": {"total": 0.1}, "train_seconds": 1.0}
    monkeypatch.setattr(zoo.detection.lineage, "run_lineage", lambda cfg: fake)
    work = tmp_path / "lineage"
    assert lineage.main(["--method", "fast_rcnn", "--workdir", str(work)]) == 0
    capsys.readouterr()
    assert lineage.main(["--method", "fast_rcnn", "--workdir", str(work), "--image-size", "64"]) == 2
    assert "holds a run started with other settings" in capsys.readouterr().err
