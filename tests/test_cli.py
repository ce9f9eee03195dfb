import json

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
    assert main(["predict", str(path), "--model", "alexnet", "--top", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
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
    assert main(["predict", str(path), "--model", "alexnet"]) == 2
    err = capsys.readouterr().err
    assert "bad.jpg" in err and ("not found" in err or "Cannot read image" in err)
