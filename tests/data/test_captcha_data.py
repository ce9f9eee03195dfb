"""Captcha data: text coding, on-the-fly generation, the stored validation set, folders of images."""

import numpy as np
import pytest

from zoo.data.captcha import (
    CaptchaDataError,
    CaptchaGenerator,
    captcha_dataset,
    decode_indices,
    encode_text,
    load_captcha_folder,
    resolve_alphabet,
    save_captcha_folder,
    stored_captchas,
)


def test_encode_matches_course_example():
    # course material: captcha 0782 -> one-hots 1000000000 0000000100 0000000010 0010000000
    idx = encode_text("0782", "digits", length=4)
    onehot = np.eye(10, dtype=int)[idx].reshape(-1)
    assert "".join(map(str, onehot)) == "1000000000000000010000000000100010000000"
    assert decode_indices(idx, "digits") == "0782"


def test_alphabets_and_bad_text():
    assert resolve_alphabet("alnum")[:11] == "0123456789A" and len(resolve_alphabet("alnum")) == 36
    assert decode_indices(encode_text("a1z9", "alnum"), "alnum") == "A1Z9"
    with pytest.raises(CaptchaDataError, match="outside the alphabet"):
        encode_text("07x2", "digits")
    with pytest.raises(CaptchaDataError, match="expected 4"):
        encode_text("078", "digits", length=4)
    with pytest.raises(ValueError, match="alphabet must be"):
        resolve_alphabet("a")


def test_generator_and_dataset_shapes():
    x, y = CaptchaGenerator("digits", 3, height=20, width=48, seed=0).batch(4)
    assert x.shape == (4, 20, 48, 1) and x.dtype == np.float32 and 0.0 <= x.min() <= x.max() <= 1.0
    assert y.shape == (4, 3) and y.min() >= 0 and y.max() <= 9
    assert x.std() > 0.01  # something is drawn
    images, labels = next(iter(captcha_dataset(2, length=3, height=20, width=48, seed=0)))
    assert tuple(images.shape) == (2, 20, 48, 1) and tuple(labels.shape) == (2, 3)


def test_stored_set_is_fixed(tmp_path):
    path = tmp_path / "val.npz"
    a = stored_captchas(3, length=2, height=16, width=40, path=path)
    b = stored_captchas(3, length=2, height=16, width=40, path=path)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = stored_captchas(4, length=2, height=16, width=40, path=path)  # other size: regenerated
    assert c[0].shape[0] == 4


def test_folder_round_trip_and_errors(tmp_path):
    x, y = CaptchaGenerator("digits", 4, height=20, width=48, seed=0).batch(3)
    save_captcha_folder(tmp_path / "caps", x, y, "digits")
    images, labels = load_captcha_folder(tmp_path / "caps", length=4, height=20, width=48)
    assert images.shape == (3, 20, 48, 1)
    assert sorted(map(tuple, labels)) == sorted(map(tuple, y))
    with pytest.raises(CaptchaDataError, match="does not exist"):
        load_captcha_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CaptchaDataError, match="holds no images"):
        load_captcha_folder(tmp_path / "empty")
    (tmp_path / "caps" / "07x2.png").write_bytes((tmp_path / "caps").iterdir().__next__().read_bytes())
    with pytest.raises(CaptchaDataError, match="07x2.png"):
        load_captcha_folder(tmp_path / "caps")


def test_captcha_folder_reads_16_bit_grey_and_names_broken_files(tmp_path):
    from PIL import Image

    from zoo.utils.images import ImageReadError

    grey = np.tile(np.linspace(0, 255, 80).astype(np.uint8), (32, 1))
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "0123.png")  # 16-bit grey
    images, _ = load_captcha_folder(tmp_path, height=32, width=80)
    np.testing.assert_allclose(images[0, ..., 0], grey / 255.0, atol=1 / 255)  # before: all white
    (tmp_path / "4567.png").write_bytes(b"broken")
    with pytest.raises(ImageReadError, match=r"Cannot read image .*4567\.png"):
        load_captcha_folder(tmp_path, height=32, width=80)
