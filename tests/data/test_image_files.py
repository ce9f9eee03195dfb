"""The folder loaders and odd or broken image files: grey, RGBA, 16-bit grey, CMYK read alike; corrupt,
truncated and huge files and wrong annotations give errors that name the file."""

import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from zoo.data.detection import voc_folder_dataset
from zoo.data.segmentation import folder_dataset
from zoo.utils.images import ImageReadError, ImageTooLargeError

H, W = 40, 60


def write_kinds(folder):
    """The same grey picture as 8-bit grey, 16-bit grey, RGB, RGBA (opaque) and CMYK JPEG; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    grey = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
    Image.fromarray(grey).save(folder / "a_grey.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(folder / "b_grey16.png")
    Image.fromarray(np.dstack([grey] * 3)).save(folder / "c_rgb.png")
    Image.fromarray(np.dstack([grey] * 3 + [np.full_like(grey, 255)])).save(folder / "d_rgba.png")
    Image.fromarray(np.dstack([grey] * 3)).convert("CMYK").save(folder / "e_cmyk.jpg", quality=100)
    return grey


def voc_xml(path, filename, size=(W, H)):
    path.write_text(
        f"<annotation><filename>{filename}</filename><size><width>{size[0]}</width><height>{size[1]}"
        "</height></size><object><name>dog</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>30</xmax>"
        "<ymax>20</ymax></bndbox></object></annotation>"
    )


def test_voc_folder_reads_every_image_mode_alike(tmp_path):
    grey = write_kinds(tmp_path)
    for p in sorted(tmp_path.iterdir()):
        voc_xml(tmp_path / f"{p.stem}.xml", p.name)
    images, _ = next(iter(voc_folder_dataset(tmp_path, image_size=(H, W), batch_size=5)))
    images = images.numpy()
    assert images.shape == (5, H, W, 3)
    for i in range(4):  # grey, 16-bit grey (before: 0..65535 values), RGB, RGBA: exactly the picture
        np.testing.assert_allclose(images[i], np.dstack([grey] * 3), atol=1.0)
    np.testing.assert_allclose(images[4], np.dstack([grey] * 3), atol=6.0)  # CMYK JPEG: lossy


def test_voc_folder_bad_files_name_the_file(tmp_path):
    write_kinds(tmp_path / "src")
    cases = {"corrupt": b"not an image" * 20}
    for name, data in cases.items():
        d = tmp_path / name
        d.mkdir()
        (d / "x.png").write_bytes(data)
        voc_xml(d / "x.xml", "x.png")
        with pytest.raises(ImageReadError, match=r"Cannot read image .*x\.png"):
            voc_folder_dataset(d)
    d = tmp_path / "size"
    d.mkdir()
    shutil.copy(tmp_path / "src" / "c_rgb.png", d / "x.png")
    voc_xml(d / "x.xml", "x.png", size=(120, 80))  # the annotation's <size> is not the image's
    with pytest.raises(ValueError, match=r"x\.xml: <size> says 120x80 .* is 60x40"):
        voc_folder_dataset(d)
    d = tmp_path / "huge"
    d.mkdir()
    Image.new("L", (10000, 9000)).save(d / "x.png")  # 90 M pixels: over the reader's limit
    voc_xml(d / "x.xml", "x.png", size=(10000, 9000))
    with pytest.raises(ImageTooLargeError, match=r"x\.png is 10000 x 9000"):
        voc_folder_dataset(d)
    d = tmp_path / "truncated"
    d.mkdir()
    data = (tmp_path / "src" / "c_rgb.png").read_bytes()
    (d / "x.png").write_bytes(data[: len(data) // 2])  # the header is intact: fails while reading
    voc_xml(d / "x.xml", "x.png")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"ImageReadError: Cannot read image .*x\.png"):
        next(iter(voc_folder_dataset(d)))


def test_segmentation_folder_reads_16_bit_and_rgba_and_names_bad_files(tmp_path):
    grey = write_kinds(tmp_path / "images")
    (tmp_path / "masks").mkdir()
    for p in (tmp_path / "images").iterdir():
        Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "masks" / f"{p.stem}.png")
    images, masks = next(iter(folder_dataset(tmp_path, image_size=(H, W), batch_size=5)))
    for i in range(4):  # before: the 16-bit picture came out almost white
        np.testing.assert_allclose(images.numpy()[i], np.dstack([grey] * 3), atol=1.0)
    (tmp_path / "images" / "a_grey.png").write_bytes(b"broken")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Cannot read image .*a_grey\.png"):
        next(iter(folder_dataset(tmp_path, image_size=(H, W), batch_size=5)))
    (tmp_path / "images" / "a_grey.png").unlink()
    (tmp_path / "masks" / "a_grey.png").unlink()
    (tmp_path / "masks" / "b_grey16.png").write_bytes(b"broken")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Cannot read mask .*b_grey16\.png"):
        next(iter(folder_dataset(tmp_path, image_size=(H, W), batch_size=4)))
