import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from zoo.cli import main


def test_list(capsys):
    assert main(["list", "--task", "classification", "--pattern", "vgg1*"]) == 0
    out = capsys.readouterr().out
    assert "vgg16" in out and "alexnet" not in out


def test_info_json(capsys):
    assert main(["info", "alexnet", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["num_params"] == 61_100_840
    assert info["matches_reference"] == "num_params"


def test_info_unknown_model_is_a_clear_error(capsys):
    assert main(["info", "vgg_16", "--no-measure"]) == 2
    assert "Did you mean: vgg16" in capsys.readouterr().err


def test_predict_random_weights(tmp_path, capsys):
    path = tmp_path / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 100, 3), dtype=np.uint8)).save(path)
    assert main(["predict", str(path), "--model", "alexnet", "--top", "3", "--weights", "none"]) == 0
    captured = capsys.readouterr()
    assert "RANDOM WEIGHTS" in captured.err  # said loudly: the ImageNet names below are noise
    lines = captured.out.strip().splitlines()
    assert len(lines) == 3
    scores = [float(line.split()[0]) for line in lines]
    assert scores == sorted(scores, reverse=True)
    # 1000 outputs: classes are named from the bundled ImageNet index
    assert all(len(line.split()) == 2 and not line.split()[1].isdigit() for line in lines)


@pytest.mark.parametrize("content", [None, b"not an image at all"])
def test_predict_missing_or_unreadable_image(tmp_path, capsys, content):
    path = tmp_path / "bad.jpg"
    if content is not None:
        path.write_bytes(content)
    assert main(["predict", str(path), "--model", "alexnet", "--weights", "none"]) == 2
    err = capsys.readouterr().err
    assert "bad.jpg" in err and ("not found" in err or "Cannot read image" in err)


def test_predict_without_weights_is_refused(tmp_path, capsys):
    path = tmp_path / "img.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    assert main(["predict", str(path), "--model", "alexnet"]) == 2
    assert "needs --weights" in capsys.readouterr().err


def test_convert_without_weights_is_refused(capsys):
    assert main(["convert", "alexnet", "--output", "/nonexistent/x.tflite"]) == 2
    assert "convert needs --weights" in capsys.readouterr().err


def _run(*args):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=60)
    return out, time.perf_counter() - start


def test_help_list_info_start_fast_without_tensorflow():
    probe = "import sys, runpy; sys.argv = ['zoo', *sys.argv[1:]]\ntry: runpy.run_module('zoo', run_name='__main__')\nexcept SystemExit: pass\nprint('TF LOADED' if 'tensorflow' in sys.modules else 'no tf')"
    for args in (["--help"], ["list"], ["info", "resnet50"], ["bench", "--help"]):
        out, seconds = _run("-c", probe, *args)
        assert out.stdout.strip().endswith("no tf"), (args, out.stdout[-500:], out.stderr[-2000:])
        assert seconds < 5, (args, seconds)  # goal 2 s; slack for a loaded machine
    out, _ = _run("-m", "zoo", "bench", "--help")
    assert "--repeats" in out.stdout and "--models" in out.stdout
    out, _ = _run("-m", "zoo", "info", "resnet50")
    assert "25,636,712" in out.stdout


def test_bad_flag_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["list", "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:") and "--bogus" in err


def test_catalog_is_up_to_date():
    """Fails when a registered model changed or was added: run `python -m zoo catalog --write`."""
    from zoo.cli import load_catalog, stale_catalog_entries

    catalog = load_catalog()
    assert catalog is not None, "zoo/catalog.json is missing: run `python -m zoo catalog --write`"
    stale = stale_catalog_entries(catalog)
    assert not stale, f"zoo/catalog.json is stale ({'; '.join(stale)}): run `python -m zoo catalog --write`"
    assert all(e["measured"] and e["num_params"] > 0 for e in catalog["models"].values())


def test_predict_huge_image_is_a_clear_error(tmp_path, capsys, monkeypatch):
    from PIL import Image as PILImage

    path = tmp_path / "huge.png"
    Image.new("L", (400, 300)).save(path)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)  # Pillow's bomb check now fires on this file
    assert main(["predict", str(path), "--model", "alexnet", "--weights", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-1].startswith("error: Image") and "too large" in err[-1] and "DecompressionBomb" not in err[-1]
    )


@pytest.mark.parametrize("flag", [[], ["--resize", "mediapipe"], ["--resize", "pil"]])
def test_predict_resizes_as_mediapipe_by_default_or_as_pil(tmp_path, capsys, monkeypatch, flag):
    """The picture reaches the model stretched as MediaPipe does (what `convert` verifies with and
    the phone does) unless --resize pil asks for PIL's antialiased resize."""
    import zoo
    from zoo.utils.images import resize_images

    photo = np.random.default_rng(1).integers(0, 255, (90, 70, 3), dtype=np.uint8)  # noise: the two differ
    Image.fromarray(photo).save(tmp_path / "p.png")
    seen = []

    class Fake:
        input_shape = (None, 20, 24, 3)

        def predict(self, x, verbose=0):
            seen.append(np.asarray(x))
            return np.full((1, 4), 0.25, "float32")

    monkeypatch.setattr(zoo, "get", lambda name, **kw: Fake())
    monkeypatch.setattr(zoo, "preprocess", lambda name: lambda x: x)
    assert main(["predict", str(tmp_path / "p.png"), "--model", "alexnet", "--weights", "none", *flag]) == 0
    method = flag[1] if flag else "mediapipe"
    other = "pil" if method == "mediapipe" else "mediapipe"
    np.testing.assert_array_equal(seen[0][0], resize_images(photo[None], (20, 24), method)[0])
    assert np.abs(seen[0][0] - resize_images(photo[None], (20, 24), other)[0]).max() > 10
