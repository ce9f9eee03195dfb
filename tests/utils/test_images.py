"""The shared image reader: every PIL mode reads as the picture it shows (checked with NumPy)."""

import numpy as np
import pytest
from PIL import Image

from zoo.utils.images import ImageReadError, ImageTooLargeError, read_image, read_images


def _save(tmp_path, name, img, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path):
    # a 16-bit ramp 0..65535: Image.convert("RGB") clips everything above 255 to white
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    path = _save(tmp_path, "g16.png", Image.fromarray(ramp))
    assert Image.open(path).mode.startswith("I")
    out = read_image(path)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    expected = np.round(ramp / 257.0)
    np.testing.assert_allclose(out[..., 0], expected, atol=1)
    assert abs(out.mean() - 127.5) < 2


def test_16bit_rgb_png(tmp_path):
    cv2 = pytest.importorskip("cv2")
    bgr = np.zeros((8, 8, 3), np.uint16)
    bgr[..., 2] = 65535  # red, 16 bits
    bgr[..., 1] = 30000
    path = tmp_path / "c48.png"
    cv2.imwrite(str(path), bgr)
    out = read_image(path)
    np.testing.assert_allclose(out[0, 0], [255, round(30000 / 257), 0], atol=1)


def test_palette_cmyk_rgba_and_float(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:2] = (200, 10, 10)
    rgb[2:] = (10, 10, 200)
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    np.testing.assert_array_equal(read_image(_save(tmp_path, "p.png", pal)), rgb)
    cmyk = Image.fromarray(rgb).convert("CMYK")
    np.testing.assert_allclose(read_image(_save(tmp_path, "c.tif", cmyk)).astype(int), rgb, atol=2)
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = (0, 0, 0)
    rgba[:2, :, 3] = 255  # top half opaque black, bottom half fully transparent
    out = read_image(_save(tmp_path, "a.png", Image.fromarray(rgba, "RGBA")))
    assert (out[:2] == 0).all() and (out[2:] == 255).all()  # composited on white
    f = Image.fromarray(np.full((4, 4), 0.5, np.float32), "F")
    assert (read_image(_save(tmp_path, "f.tif", f)) == 128).all()
    assert read_image(_save(tmp_path, "l.png", Image.fromarray(rgb)), (2, 3), mode="L").shape == (2, 3)


def test_too_large_and_unreadable(tmp_path):
    big = _save(tmp_path, "big.png", Image.new("L", (200, 100)))
    with pytest.raises(ImageTooLargeError, match="200 x 100 = 20,000 pixels"):
        read_image(big, max_pixels=10_000)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture")
    with pytest.raises(ImageReadError, match="Cannot read image"):
        read_image(bad)
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")
    good = _save(tmp_path, "good.png", Image.new("RGB", (10, 10), (1, 2, 3)))
    images, report = read_images([good, bad, big], (5, 5), max_pixels=10_000, warn=False)
    assert images.shape == (1, 5, 5, 3) and len(report.skipped) == 2
    assert "skipped 2 unreadable" in report.summary()
    with pytest.raises(ImageReadError):
        read_images([bad], (5, 5), skip_unreadable=False)


def test_cli_load_image_reads_16bit_grey(tmp_path):
    from zoo.cli import load_image

    ramp = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    path = _save(tmp_path, "g16.png", Image.fromarray(ramp))
    assert abs(load_image(path).mean() - 127.5) < 1  # was ~254: clipped to white
    assert abs(load_image(path, (16, 16), resize="pil").mean() - 127.5) < 3
    # MediaPipe's warp samples without antialiasing: the ramp's mean moves a few levels, never to white
    assert abs(load_image(path, (16, 16)).mean() - 127.5) < 6
