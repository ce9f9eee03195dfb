"""`make demo` end to end in its quick form: zoo listing, a classifier, the crocodile demo, LiteRT export."""

import json

import pytest

from zoo.experiments.demo import run_demo


@pytest.mark.slow  # 90 s: `make test-slow` (and `make demo` itself)
def test_quick_demo_runs_end_to_end_and_exports_a_checked_tflite(tmp_path, capsys):
    result = run_demo(tmp_path, quick=True)
    out = capsys.readouterr().out
    assert "Demo goal, head swap ahead by >= 10 points" in out and "min CPU" in out
    for heading in ("The zoo", "Crocodile learning", "Export the fine-tuned model"):
        assert heading in out
    report = json.loads((tmp_path / "crocodile" / "report.json").read_text())
    assert report["fine_tuned_model"] and report["goal"]["shots"] == 10
    assert (tmp_path / "crocodile" / "learning_curve.png").stat().st_size > 0
    tflite = tmp_path / "crocodile.tflite"
    assert tflite.stat().st_size > 0 and result["tflite"]["path"] == str(tflite)
    metrics = result["tflite"]["metrics"]
    # float16 weights: the LiteRT model gives the Keras model's answers on the held-out digits
    assert metrics["top-1 agreement"] >= 0.98, metrics
