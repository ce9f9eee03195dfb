"""One SIGINT or SIGTERM stops every recipe within seconds, leaving its last checkpoint intact.

Each recipe starts with its tiniest configuration and an endless number of epochs; the signal is
sent once the first checkpoint (``last.weights.h5``) exists. The captcha recipe (fresh captchas
from a ``tf.data`` generator: the pipeline that used to hang on Ctrl-C) runs by default; the
others (about a minute each on 2 CPU cores) under ``-m slow``.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _stop_after_first_checkpoint(tmp_path, argv, sig, workdir, ckpt=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(
        [sys.executable, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    ckpt = ckpt or workdir / "last.weights.h5"
    deadline = time.monotonic() + 240
    try:
        while not ckpt.exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no checkpoint written in time"
            time.sleep(0.2)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
        seconds = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + sig, err[-3000:]
    assert seconds < 10, seconds
    assert "interrupted" in err and "Traceback" not in err, err[-3000:]
    import h5py

    with h5py.File(ckpt, "r") as f:  # the last checkpoint is intact
        assert len(f.keys()) > 0
    assert '"status": "interrupted"' in (workdir / "run.json").read_text()
    return err


def test_captcha_train_stops_on_one_sigint(tmp_path):
    w = tmp_path / "cap"
    _stop_after_first_checkpoint(
        tmp_path,
        ["recipes/captcha.py", "train", "--workdir", str(w), "--config", "tiny", "--alphabet", "0123",
         "--length", "2", "--height", "16", "--width", "24", "--batch-size", "8", "--steps-per-epoch", "2",
         "--epochs", "100000", "--val-size", "16"],
        signal.SIGINT, w,
    )  # fmt: skip


@pytest.mark.slow
def test_detector_stops_on_one_sigterm(tmp_path):
    w = tmp_path / "det"
    _stop_after_first_checkpoint(
        tmp_path,
        ["recipes/train_detector.py", "--model", "ssd_vgg16", "--data", "shapes", "--image-size", "64",
         "--width", "0.125", "--batch-size", "2", "--steps-per-epoch", "1", "--epochs", "100000",
         "--val-images", "2", "--max-objects", "1", "--eval-every", "0", "--no-augment", "--workdir", str(w)],
        signal.SIGTERM, w,
    )  # fmt: skip


@pytest.mark.slow
def test_segmenter_stops_on_one_sigint(tmp_path):
    w = tmp_path / "seg"
    _stop_after_first_checkpoint(
        tmp_path,
        ["recipes/train_segmenter.py", "--model", "unet", "--image-size", "32", "--filters", "4", "--depth", "2",
         "--train-images", "8", "--val-images", "4", "--batch-size", "4", "--epochs", "100000", "--workdir", str(w)],
        signal.SIGINT, w,
    )  # fmt: skip


@pytest.mark.slow
def test_word2vec_stops_on_one_sigterm(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(("the cat sat on the mat and the dog sat on the log\n") * 200)
    w = tmp_path / "w2v"
    _stop_after_first_checkpoint(
        tmp_path,
        ["recipes/word2vec.py", "--corpus", str(corpus), "--workdir", str(w), "--dim", "8", "--min-count", "1",
         "--epochs", "100000"],
        signal.SIGTERM, w,
    )  # fmt: skip


@pytest.mark.slow
def test_crocodile_stops_on_one_sigint(tmp_path):
    import numpy as np
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(6):
            pixels = np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / c / f"{i}.png")
    w = tmp_path / "croc"
    _stop_after_first_checkpoint(
        tmp_path,
        ["recipes/crocodile.py", "train", "--folder", str(tmp_path / "imgs"), "--workdir", str(w), "--model",
         "alexnet", "--weights", "none", "--image-size", "64", "--head-epochs", "100000", "--batch-size", "4"],
        signal.SIGINT, w, ckpt=w / "phase1" / "last.weights.h5",
    )  # fmt: skip
