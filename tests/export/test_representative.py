"""zoo.export.representative: calibration / verification image sources."""

import numpy as np
import pytest
from PIL import Image

from zoo.export.representative import RepresentativeDataError, load_images


def test_folder_recursive_and_resized(tmp_path):
    (tmp_path / "a").mkdir()
    for i, sub in enumerate(["", "a"]):
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(tmp_path / sub / f"img{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    images = load_images(tmp_path, 10, (8, 12))
    assert images.shape == (2, 8, 12, 3) and images.dtype == np.uint8


def test_folder_errors(tmp_path):
    with pytest.raises(RepresentativeDataError, match="does not exist"):
        load_images(tmp_path / "missing", 4, (8, 8))
    with pytest.raises(RepresentativeDataError, match="no images"):
        load_images(tmp_path, 4, (8, 8))
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(RepresentativeDataError, match="Cannot read"):
        load_images(tmp_path, 4, (8, 8))


def test_photos_synthetic_and_arrays():
    photos = load_images("photos", 5, (16, 16))
    assert photos.shape == (5, 16, 16, 3) and photos.std() > 10
    assert load_images("synthetic", 3, (16, 16)).shape == (3, 16, 16, 3)
    grey = np.zeros((2, 10, 10, 1), np.float32)
    assert load_images(grey, 2, (4, 4)).shape == (2, 4, 4, 3)
    with pytest.raises(RepresentativeDataError, match="non-empty"):
        load_images(np.zeros((0, 4, 4, 3)), 1, (4, 4))
    with pytest.raises(RepresentativeDataError, match="at least one"):
        load_images("photos", 0, (4, 4))


def test_tfds_split_offline():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        images = load_images("tfds:beans:validation", 5, (12, 12))
    assert images.shape == (3, 12, 12, 3)
    with pytest.raises(RepresentativeDataError, match="Cannot load TFDS"):
        load_images("tfds:no_such_dataset_xyz", 2, (8, 8))
