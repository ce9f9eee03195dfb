"""Selective-search proposals (OpenCV): recall on synthetic shapes, the recall count, the cache."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.data.shapes import generate_shapes_example
from zoo.detection import proposals as P


def _images(n=3, size=96):
    rng = np.random.default_rng(0)
    return [generate_shapes_example(rng, image_size=size) for _ in range(n)]


def test_recall_counts_by_hand():
    gts = [np.array([[0, 0, 10, 10], [20, 20, 40, 40]], np.float32)]
    props = [np.array([[50, 50, 60, 60], [0, 0, 10, 8], [20, 20, 40, 30]], np.float32)]  # IoU 0, 0.8, 0.5
    got = P.proposal_recall(props, gts, counts=(1, 2, 3), iou_thresholds=(0.5, 0.7))
    assert got == {0.5: {1: 0.0, 2: 0.5, 3: 1.0}, 0.7: {1: 0.0, 2: 0.5, 3: 0.5}}


@pytest.mark.parametrize("mode", ["fast", "quality"])
def test_selective_search_finds_the_shapes(mode):
    exs = _images()
    boxes = [P.selective_search(ex["image"], mode) for ex in exs]
    for b, ex in zip(boxes, exs):
        h, w = ex["image"].shape[:2]
        assert b.dtype == np.float32 and b.shape[1] == 4 and len(b) >= 1
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
        assert b.min() >= 0 and b[:, 2].max() <= w and b[:, 3].max() <= h
    recall = P.proposal_recall(boxes, [ex["boxes"] for ex in exs], counts=(1, 2000))
    assert recall[0.5][2000] >= 0.8  # flat-coloured shapes on textured backgrounds: nearly all found
    assert recall[0.5][1] < recall[0.5][2000]


def test_cache_computes_once(tmp_path, monkeypatch):
    image = _images(1)[0]["image"]
    cache = P.ProposalCache(tmp_path, mode="fast")
    first = cache(image)
    assert cache.path(image).exists() and cache.path(image).parent == tmp_path

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached image")

    monkeypatch.setattr(P, "selective_search", fail)
    np.testing.assert_array_equal(cache(image), first)
    assert P.ProposalCache(tmp_path, "quality").path(image) != cache.path(image)
    with pytest.raises(ValueError, match="fast"):
        P.ProposalCache(tmp_path, "slow")
