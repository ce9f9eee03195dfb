"""Tests of zoo.data.detection: augmentation geometry, VOC XML folders, TFDS loaders (mock data)."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from zoo.data.detection import (
    VOC_CLASSES,
    pad_targets,
    ssd_augment,
    tfds_detection_dataset,
    tfds_targets,
    voc_folder_dataset,
)


def test_pad_targets():
    t = pad_targets([[0, 0, 5, 5], [1, 1, 4, 4]], [2, 3], [False, True], max_boxes=3)
    assert t["valid"].numpy().tolist() == [True, True, False]
    assert t["classes"].numpy().tolist() == [2, 3, -1]
    assert t["difficult"].numpy().tolist() == [False, True, False]


def test_flip_only_mirrors_boxes():
    image = tf.random.uniform((20, 30, 3), 0, 255, seed=1)
    t = pad_targets([[2, 3, 10, 8]], [1], max_boxes=2)
    seen = set()
    for s in range(8):
        out, ot = ssd_augment(image, t, (20, 30), seed=[0, s], photometric=False, expand=False, crop=False)
        flipped = not np.allclose(out.numpy(), image.numpy(), atol=1e-3)
        np.testing.assert_allclose(
            out.numpy(), image.numpy()[:, ::-1] if flipped else image.numpy(), atol=1e-3
        )
        want = [30 - 10, 3, 30 - 2, 8] if flipped else [2, 3, 10, 8]
        np.testing.assert_allclose(ot["boxes"].numpy()[0], want, atol=1e-4)
        assert ot["valid"].numpy().tolist() == [True, False]
        seen.add(flipped)
    assert seen == {True, False}


def test_expand_and_crop_keep_boxes_on_the_object():
    # a bright object on a black image: after any augmentation the box must still frame bright pixels.
    image = np.zeros((40, 40, 3), np.float32)
    image[10:20, 15:30] = 255.0
    t = pad_targets([[15, 10, 30, 20]], [1], max_boxes=2)
    for s in range(12):
        out, ot = ssd_augment(tf.constant(image), t, 40, seed=[1, s], photometric=False)
        out = out.numpy()
        if not ot["valid"].numpy()[0]:
            continue
        x1, y1, x2, y2 = ot["boxes"].numpy()[0]
        assert 0 <= x1 < x2 <= 40 and 0 <= y1 < y2 <= 40
        cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
        assert out[cy, cx].mean() > 200  # centre of the box is on the object
        bright = out.mean(-1) > 128
        assert bright[: max(int(y1) - 2, 0)].sum() == 0 and bright[int(np.ceil(y2)) + 2 :].sum() == 0


def test_augment_is_deterministic_given_seed():
    image = tf.random.uniform((32, 32, 3), 0, 255, seed=3)
    t = pad_targets([[5, 5, 20, 20]], [1], max_boxes=2)
    a = ssd_augment(image, t, 32, seed=[3, 4])
    b = ssd_augment(image, t, 32, seed=[3, 4])
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1]["boxes"].numpy(), b[1]["boxes"].numpy())


def write_voc(root, objects_per_image, size=(40, 60), layout="devkit"):
    """Writes images and XMLs; objects are (name, xmin, ymin, xmax, ymax, difficult)."""
    h, w = size
    ann = root / "Annotations" if layout == "devkit" else root
    img = root / "JPEGImages" if layout == "devkit" else root
    ann.mkdir(parents=True, exist_ok=True)
    img.mkdir(parents=True, exist_ok=True)
    ids = []
    for k, objects in enumerate(objects_per_image):
        stem = f"{k:06d}"
        ids.append(stem)
        Image.fromarray(np.full((h, w, 3), 40 * k, np.uint8)).save(img / f"{stem}.png")
        objs = "".join(
            f"<object><name>{n}</name><difficult>{int(d)}</difficult><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
            f"<xmax>{c}</xmax><ymax>{e}</ymax></bndbox></object>"
            for n, a, b, c, e, d in objects
        )
        (ann / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.png</filename><size><width>{w}</width><height>{h}</height>"
            f"<depth>3</depth></size>{objs}</annotation>"
        )
    if layout == "devkit":
        (root / "ImageSets" / "Main").mkdir(parents=True)
        (root / "ImageSets" / "Main" / "test.txt").write_text("\n".join(ids) + "\n")


def test_voc_folder_devkit_layout(tmp_path):
    write_voc(
        tmp_path,
        [[("dog", 1, 1, 30, 20, False), ("cat", 31, 11, 60, 40, True)], [("person", 11, 5, 20, 35, False)]],
    )
    ds = voc_folder_dataset(tmp_path, split="test", image_size=(20, 30), max_boxes=4, batch_size=2)
    images, t = next(iter(ds))
    assert images.shape == (2, 20, 30, 3)
    # VOC 1-based (1, 1, 30, 20) -> (0, 0, 30, 20) pixels -> scaled by 0.5
    np.testing.assert_allclose(t["boxes"].numpy()[0, 0], [0, 0, 15, 10])
    np.testing.assert_allclose(t["boxes"].numpy()[0, 1], [15, 5, 30, 20])
    assert t["classes"].numpy()[0].tolist() == [VOC_CLASSES.index("dog"), VOC_CLASSES.index("cat"), -1, -1]
    assert t["difficult"].numpy()[0].tolist() == [False, True, False, False]
    assert t["valid"].numpy().sum() == 3
    np.testing.assert_allclose(images.numpy()[1].mean(), 40, atol=1)


def test_voc_folder_flat_layout_augment(tmp_path):
    write_voc(tmp_path, [[("car", 5, 5, 50, 30, False)]] * 3, layout="flat")
    ds = voc_folder_dataset(tmp_path, image_size=32, batch_size=3, augment=True, shuffle=True)
    images, t = next(iter(ds))
    assert images.shape == (3, 32, 32, 3) and t["boxes"].shape == (3, 100, 4)


def test_voc_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        voc_folder_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No VOC XML"):
        voc_folder_dataset(tmp_path / "empty")
    write_voc(tmp_path / "unknown", [[("unicorn", 1, 1, 5, 5, False)]])
    with pytest.raises(ValueError, match="unknown class 'unicorn'"):
        voc_folder_dataset(tmp_path / "unknown")
    write_voc(tmp_path / "bad", [[("dog", 1, 1, 5, 5, False), ("dog", 30, 1, 80, 20, False)]])
    with pytest.raises(ValueError, match=r"000000\.xml.*box 1.*outside"):
        voc_folder_dataset(tmp_path / "bad")
    ds = voc_folder_dataset(tmp_path / "bad", box_mode="clip", image_size=(40, 60), batch_size=1)
    _, t = next(iter(ds))
    np.testing.assert_allclose(t["boxes"].numpy()[0, 1], [29, 0, 60, 20])
    with pytest.raises(FileNotFoundError, match="Split file"):
        voc_folder_dataset(tmp_path / "bad", split="train")


@pytest.mark.parametrize("name", ["voc/2007", "coco/2017"])
def test_tfds_loaders_with_mock_data(name, tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        ds = tfds_detection_dataset(
            name, "train", data_dir=str(tmp_path), image_size=32, max_boxes=50, batch_size=3
        )
        images, t = next(iter(ds))
    assert images.shape == (3, 32, 32, 3) and images.dtype == tf.float32
    valid, boxes, classes = t["valid"].numpy(), t["boxes"].numpy(), t["classes"].numpy()
    assert valid.any()
    assert np.all(classes[valid] >= 1) and np.all(classes[~valid] == -1)
    b = boxes[valid]
    assert np.all(b >= 0) and np.all(b <= 32) and np.all(b[:, 2] > b[:, 0]) and np.all(b[:, 3] > b[:, 1])


def test_tfds_missing_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="tfds build voc/2007"):
        tfds_detection_dataset("voc/2007", "test", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="Unsupported"):
        tfds_detection_dataset("mnist", "test", data_dir=str(tmp_path))


def test_tfds_coco_carries_crowd_and_area_separately_from_difficult():
    image = tf.zeros((40, 80, 3))
    objects = {
        "bbox": tf.constant([[0.0, 0.0, 0.5, 0.5], [0.25, 0.5, 1.0, 1.0], [0.1, 0.1, 0.1, 0.2]]),
        "label": tf.constant([0, 2, 1], tf.int64),
        "is_crowd": tf.constant([False, True, False]),
        "area": tf.constant([300, 900, 0], tf.int64),
    }
    t = {k: v.numpy() for k, v in tfds_targets(image, objects, "coco/2017", max_boxes=4).items()}
    assert t["crowd"].tolist() == [False, True, False, False]
    assert not t["difficult"].any()  # crowd is its own flag, not "difficult"
    np.testing.assert_allclose(t["area"], [300, 900, 0, 0])  # the annotation's area, original pixels
    np.testing.assert_allclose(t["boxes"][:2], [[0, 0, 40, 20], [40, 10, 80, 40]])
    assert t["valid"].tolist() == [True, True, False, False]  # the zero-height box is dropped
    voc = tfds_targets(image, {"bbox": objects["bbox"], "label": objects["label"],
                               "is_difficult": tf.constant([True, False, False])}, "voc/2007")  # fmt: skip
    assert "crowd" not in voc and voc["difficult"].numpy().tolist()[:2] == [True, False]


def test_tfds_coco_mock_batches_have_crowd_area_and_area_scale(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=2):
        raw = next(iter(tfds.load("coco/2017", split="train", data_dir=str(tmp_path))))
        ds = tfds_detection_dataset("coco/2017", "train", data_dir=str(tmp_path), image_size=32, batch_size=2)
        _, t = next(iter(ds))
    h, w = raw["image"].shape[:2]
    assert t["crowd"].shape == t["area"].shape == t["valid"].shape
    assert t["area_scale"].numpy()[0] == pytest.approx(h * w / 32**2)
