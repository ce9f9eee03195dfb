"""Tests of zoo.data.shapes: determinism, box/mask consistency, the tf.data batch format."""

import numpy as np
import pytest

from zoo.data.shapes import CLASS_NAMES, generate_shapes_example, shapes_dataset


def tight_box(mask):
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def test_generator_deterministic_and_consistent():
    a = generate_shapes_example(np.random.default_rng([5, 1]), 64, 5)
    b = generate_shapes_example(np.random.default_rng([5, 1]), 64, 5)
    c = generate_shapes_example(np.random.default_rng([5, 2]), 64, 5)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["image"], c["image"])
    assert CLASS_NAMES[0] == "background"
    for seed in range(20):
        ex = generate_shapes_example(np.random.default_rng(seed), 48, 4)
        n = len(ex["classes"])
        assert 1 <= n <= 4 and ex["image"].shape == (48, 48, 3) and ex["image"].dtype == np.uint8
        assert ex["boxes"].dtype == np.float32 and ex["classes"].dtype == np.int32
        assert set(ex["classes"].tolist()) <= {1, 2, 3}
        assert ex["masks"].shape == (n, 48, 48)
        for box, mask in zip(ex["boxes"], ex["masks"]):
            np.testing.assert_array_equal(box, tight_box(mask))
        assert ex["masks"].sum(0).max() == 1  # no overlap
    with pytest.raises(ValueError, match="image_size"):
        generate_shapes_example(np.random.default_rng(0), 8)


def test_shapes_dataset_batch_format_and_determinism():
    ds = shapes_dataset(num_images=6, image_size=32, max_objects=3, seed=4, batch_size=4, with_masks=True)
    batches = list(ds)
    assert len(batches) == 2
    images, t = batches[0]
    assert images.shape == (4, 32, 32, 3) and images.dtype.name == "float32"
    assert t["boxes"].shape == (4, 3, 4) and t["classes"].dtype.name == "int32"
    assert t["masks"].shape == (4, 3, 32, 32) and t["difficult"].dtype.name == "bool"
    valid, classes = t["valid"].numpy(), t["classes"].numpy()
    assert np.all(classes[valid] >= 1) and np.all(classes[~valid] == -1)
    assert np.all(t["boxes"].numpy()[~valid] == 0)
    again = next(iter(shapes_dataset(num_images=6, image_size=32, max_objects=3, seed=4, batch_size=4)))
    np.testing.assert_array_equal(images.numpy(), again[0].numpy())
    ex = generate_shapes_example(np.random.default_rng([4, 0]), 32, 3)
    np.testing.assert_array_equal(images.numpy()[0], ex["image"])
    infinite = shapes_dataset(image_size=32, batch_size=2, seed=0)
    assert len(list(infinite.take(3))) == 3
    with pytest.raises(ValueError, match="num_images"):
        shapes_dataset(num_images=0)


def test_shapes_dataset_augmented_masks_follow_boxes():
    ds = shapes_dataset(
        num_images=6, image_size=40, max_objects=3, seed=2, batch_size=None, with_masks=True, augment=True
    )
    for image, t in ds:
        assert image.shape == (40, 40, 3)
        boxes, valid, masks = t["boxes"].numpy(), t["valid"].numpy(), t["masks"].numpy()
        for box, v, mask in zip(boxes, valid, masks):
            if not v:
                assert mask.sum() == 0
                continue
            assert np.all(box >= 0) and box[2] <= 40 and box[3] <= 40 and box[2] > box[0] and box[3] > box[1]
            if mask.sum() > 0:
                np.testing.assert_allclose(tight_box(mask), box, atol=2.5)


@pytest.mark.parametrize(
    "kwargs, text",
    [
        (dict(image_size=4), "image_size must be >= 16"),
        (dict(image_size=64.5), "image_size must be an integer"),
        (dict(max_objects=0), "Need 1 <= min_objects <= max_objects"),
        (dict(min_objects=5, max_objects=2), "Need 1 <= min_objects <= max_objects"),
    ],
)
def test_bad_arguments_fail_when_the_dataset_is_made(kwargs, text):
    with pytest.raises(ValueError, match=text):  # before: a tf InvalidArgumentError at the first batch
        shapes_dataset(num_images=2, **kwargs)


def test_shape_keypoints_are_the_vertices_and_centre_inside_the_box():
    from zoo.data.shapes import KEYPOINT_NAMES

    seen = set()
    for i in range(12):
        ex = generate_shapes_example(np.random.default_rng([5, i]), image_size=96)
        kp = ex["keypoints"]
        assert kp.shape == (len(ex["classes"]), len(KEYPOINT_NAMES), 3)
        for box, kind, points in zip(ex["boxes"], ex["classes"], kp):
            seen.add(int(kind))
            vis = points[:, 2] > 0
            assert np.all(points[vis, 0] >= box[0]) and np.all(points[vis, 0] <= box[2])
            assert np.all(points[vis, 1] >= box[1]) and np.all(points[vis, 1] <= box[3])
            (x0, y0, x1, y1), p = box, points
            if kind == 2:  # square: the four corners of its tight box, clockwise from the top-left
                np.testing.assert_allclose(p[:4, :2], [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], atol=1.0)
            if kind == 3:  # triangle: apex, bottom-right, bottom-left; no fourth vertex
                assert list(vis) == [True, True, True, False, True]
                np.testing.assert_allclose(p[0, :2], [(x0 + x1) / 2, y0], atol=1.0)
                np.testing.assert_allclose(p[1:3, :2], [[x1, y1], [x0, y1]], atol=1.0)
                np.testing.assert_allclose(p[4, 1], y0 + 2 * (y1 - y0) / 3, atol=1.0)  # centroid
            if kind == 1:  # circle: top, right, bottom, left extreme points and the centre
                np.testing.assert_allclose(p[[0, 2], 1], [y0, y1], atol=1.0)
                np.testing.assert_allclose(p[[1, 3], 0], [x1, x0], atol=1.0)
                np.testing.assert_allclose(p[4, :2], [(x0 + x1) / 2, (y0 + y1) / 2], atol=1.0)
    assert seen == {1, 2, 3}


def test_shapes_dataset_keypoints_and_their_refusal_with_augment():
    ds = shapes_dataset(num_images=4, image_size=32, max_objects=3, batch_size=4, with_keypoints=True)
    images, targets = next(iter(ds))
    kp = targets["keypoints"].numpy()
    assert kp.shape == (4, 3, 5, 3)
    assert np.all(kp[~targets["valid"].numpy()] == 0)  # padding objects have no visible keypoints
    with pytest.raises(ValueError, match="augment=False"):
        shapes_dataset(num_images=4, with_keypoints=True, augment=True)


def test_shared_cell_split_pairs_share_a_grid_cell():
    """Every pair's box centres fall in one cell of the 7 x 7 grid (computed here from the boxes)."""
    from zoo.data.shapes import generate_shared_cell_example
    from zoo.detection.yolo import yolo_targets

    for i in range(6):
        ex = generate_shared_cell_example(np.random.default_rng(i), 112, 7)
        b = ex["boxes"]
        assert len(b) in (2, 4) and np.all((b >= 0) & (b <= 112))
        cells = np.floor((b[:, :2] + b[:, 2:]) / 2 / 16).astype(int)
        np.testing.assert_array_equal(cells[0::2], cells[1::2])
        # YOLO's targets keep one object per cell: half of them
        t = yolo_targets(b[None], ex["classes"][None], None, (112, 112), 7, 3)
        assert float(np.sum(t["obj"])) == len(b) // 2
    ds = shapes_dataset(num_images=2, image_size=112, batch_size=2, max_objects=4, shared_cell_grid=7)
    _, targets = next(iter(ds))
    assert targets["boxes"].shape == (2, 4, 4) and int(np.sum(targets["valid"])) % 2 == 0


def test_shared_cell_split_bad_grid():
    from zoo.data.shapes import generate_shared_cell_example

    with pytest.raises(ValueError, match="does not divide the 100 px"):
        generate_shared_cell_example(np.random.default_rng(0), 100, 7)
    with pytest.raises(ValueError, match="max_objects >= 2"):
        shapes_dataset(num_images=1, image_size=112, max_objects=1, shared_cell_grid=7)
