"""Segmentation data: shapes masks from instance masks, folder loader errors, TFDS pets (mock data)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoo.data import segmentation as seg
from zoo.data import shapes


def test_semantic_mask_is_the_class_of_each_instance_mask():
    masks = np.zeros((2, 4, 5), np.uint8)
    masks[0, :2, :2] = 1
    masks[1, 2:, 3:] = 1
    np.testing.assert_array_equal(
        seg.semantic_from_instances(masks, [3, 1]),
        [[3, 3, 0, 0, 0], [3, 3, 0, 0, 0], [0, 0, 0, 1, 1], [0, 0, 0, 1, 1]],
    )
    with pytest.raises(ValueError, match="class ids"):
        seg.semantic_from_instances(masks, [1])


def test_shapes_masks_agree_with_the_generator():
    image, mask = seg.shapes_example(3, seed=7, image_size=48)
    ex = shapes.generate_shapes_example(np.random.default_rng([7, 3]), 48)
    np.testing.assert_array_equal(image, ex["image"])
    for inst, cls in zip(ex["masks"], ex["classes"]):
        assert np.all(mask[inst > 0] == cls)
    assert np.all(mask[ex["masks"].sum(0) == 0] == 0)
    assert seg.shapes_num_classes() == 4 and seg.shapes_class_names()[0] == "background"


def test_shapes_dataset_is_deterministic_and_batched():
    ds = seg.shapes_dataset(6, image_size=32, batch_size=4, seed=1)
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [4, 2]
    images, masks = batches[0]
    assert images.shape == (4, 32, 32, 3) and masks.shape == (4, 32, 32) and masks.dtype.name == "int32"
    ref_images, ref_masks = seg.shapes_arrays(4, image_size=32, seed=1)
    np.testing.assert_array_equal(masks.numpy(), ref_masks)
    np.testing.assert_array_equal(images.numpy(), ref_images)
    endless = seg.shapes_dataset(None, image_size=32, batch_size=2, seed=1)
    assert next(iter(endless))[0].shape == (2, 32, 32, 3)


def _write_folder(root, names, mask_names=None, size=(20, 30)):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
            root / "images" / f"{name}.jpg"
        )
    for name in mask_names if mask_names is not None else names:
        mask = np.zeros(size, np.uint8)
        mask[5:15, 10:25] = 2
        mask[0, 0] = 255
        Image.fromarray(mask).save(root / "masks" / f"{name}.png")


def test_folder_dataset_resizes_masks_with_nearest_neighbour(tmp_path):
    _write_folder(tmp_path, ["a", "b", "c"])
    ds = seg.folder_dataset(tmp_path, image_size=(40, 60), batch_size=2, num_classes=3)
    images, masks = next(iter(ds))
    assert images.shape == (2, 40, 60, 3) and masks.shape == (2, 40, 60)
    assert set(np.unique(masks.numpy())) == {0, 2, 255}  # no blended class ids
    assert seg.count_folder(tmp_path) == 3


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        seg.find_image_mask_pairs(tmp_path / "nope")
    (tmp_path / "only_images" / "images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no masks/ folder"):
        seg.find_image_mask_pairs(tmp_path / "only_images")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files"):
        seg.find_image_mask_pairs(tmp_path / "empty")
    _write_folder(tmp_path / "unmatched", ["a", "b"], mask_names=["a", "x"])
    with pytest.raises(
        ValueError, match=r"1 image\(s\) without a mask \(e.g. b\).*1 mask\(s\) without an image \(e.g. x\)"
    ):
        seg.find_image_mask_pairs(tmp_path / "unmatched")
    _write_folder(tmp_path / "classes", ["a"])
    with pytest.raises(Exception, match="class id 2 but num_classes=2"):
        list(seg.folder_dataset(tmp_path / "classes", image_size=16, num_classes=2))


def test_pets_loader_with_tfds_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=3):
        ds = seg.pets_dataset("train", data_dir=tmp_path, image_size=32, batch_size=3)
        images, masks = next(iter(ds))
    assert images.shape == (3, 32, 32, 3) and masks.shape == (3, 32, 32)
    assert set(np.unique(masks.numpy())) <= {0, 1, 255}


def test_pets_trimap_mapping():
    tf = pytest.importorskip("tensorflow")
    tfds = pytest.importorskip("tensorflow_datasets")
    trimap = np.array([[1, 2], [3, 2]], np.uint8)[..., None]

    def fake_load(name, split, data_dir, download):
        assert name == "oxford_iiit_pet" and download is False
        return tf.data.Dataset.from_tensors(
            {"image": np.zeros((2, 2, 3), np.uint8), "segmentation_mask": trimap}
        )

    import unittest.mock as mock

    with mock.patch.object(tfds, "load", fake_load):
        _, ignore = next(iter(seg.pets_dataset("test", image_size=2)))
        _, border = next(iter(seg.pets_dataset("test", image_size=2, border="class")))
    np.testing.assert_array_equal(ignore.numpy(), [[1, 0], [255, 0]])
    np.testing.assert_array_equal(border.numpy(), [[1, 0], [2, 0]])


def test_pets_missing_data_dir_is_a_clear_error(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(FileNotFoundError, match="oxford_iiit_pet.*not prepared.*--data-dir"):
        seg.pets_dataset("train", data_dir=tmp_path / "empty")
