"""Faster / Mask R-CNN ResNet-50-FPN against torchvision with shared seeded random weights.

torchvision builds the reference with random weights (FrozenBatchNorm statistics randomised too), its
state_dict is saved under the published file name in a temporary TORCH_HOME and loaded through
``zoo.get(name, weights="torchvision")``; both run on the same image (sides multiples of 32 and
``min_size = max_size`` = the side, so torchvision neither resizes nor pads).
"""

import sys

import numpy as np
import pytest

sys.modules.setdefault("triton", None)  # torchvision after TensorFlow needs no triton on the CPU
torch = pytest.importorskip("torch", reason="torchvision not installed: pip install -e '.[torch]'")
torchvision = pytest.importorskip(
    "torchvision", reason="torchvision not installed: pip install -e '.[torch]'"
)

import zoo  # noqa: E402
from zoo.weights_torch import randomize_torch_model as _randomise  # noqa: E402
from zoo.weights_torch import torchvision_weights  # noqa: E402

pytestmark = pytest.mark.torch
SIZE = 160


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory):
    import os

    home = tmp_path_factory.mktemp("torch_home")
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = old


def _reference(name, torch_home, num_classes=91):
    builder = getattr(torchvision.models.detection, name)
    ref = builder(weights=None, weights_backbone=None, num_classes=num_classes, min_size=SIZE, max_size=SIZE)
    _randomise(ref)
    path = torch_home / "hub" / "checkpoints" / torchvision_weights(name, "torchvision").file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ref.state_dict(), path)
    return ref


def _image(seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (SIZE, SIZE, 3)).astype("float32")


def _assert_equal_up_to_ties(ours, scores, theirs, atol, what):
    """``ours`` equals ``theirs`` row by row, except rows swapped with a neighbour of equal score (a tie).

    A tie means the two scores differ by less than 1e-5 (relative): float rounding may order them either way.
    """
    for i in range(len(ours)):
        if np.allclose(ours[i], theirs[i], atol=atol):
            continue
        near = [
            j
            for j in range(max(0, i - 3), min(len(theirs), i + 4))
            if np.allclose(ours[i], theirs[j], atol=atol)
        ]
        assert near, f"{what} {i}: {ours[i]} has no counterpart in torchvision's list near position {i}"
        j = min(near[0], len(scores) - 1)
        assert abs(scores[i] - scores[j]) <= 1e-5 * max(abs(scores[i]), 1e-6), (
            f"{what} {i} and {j} are swapped but their scores {scores[i]} and {scores[j]} are not a tie"
        )


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12))


@pytest.mark.parametrize(
    "name, num_classes",
    [
        ("fasterrcnn_resnet50_fpn", 91),
        ("fasterrcnn_resnet50_fpn_v2", 91),
        ("maskrcnn_resnet50_fpn", 91),
        ("keypointrcnn_resnet50_fpn", 2),
    ],
)
def test_fpn_detector_matches_torchvision(name, num_classes, torch_home):
    ref = _reference(name, torch_home, num_classes)
    model = zoo.get(name, weights="torchvision", input_shape=(SIZE, SIZE, 3))
    assert model.class_names[1] == "person" and len(model.class_names) == num_classes
    image = _image()
    x = torch.from_numpy(image.transpose(2, 0, 1) / 255.0)
    with torch.no_grad():
        images, _ = ref.transform([x])
        assert tuple(images.tensors.shape[-2:]) == (SIZE, SIZE)
        feats = ref.backbone(images.tensors)
        props, _ = ref.rpn(images, feats)
        dets_ref = ref([x])[0]
    raw = model(image[None])
    # backbone + pyramid: P2..P6
    for ours, theirs in zip(raw["features"], feats.values()):
        theirs = theirs.numpy().transpose(0, 2, 3, 1)
        assert _rel(np.asarray(ours), theirs) < 1e-4
    # RPN proposals: the same boxes in the same order (the head of the list, where no near-tie can swap)
    ours_p = np.asarray(raw["proposals"])[0][np.asarray(raw["proposal_valid"])[0]]
    theirs_p = props[0].numpy()
    assert abs(len(ours_p) - len(theirs_p)) <= 2
    ours_s = np.asarray(raw["proposal_scores"])[0]
    _assert_equal_up_to_ties(ours_p[:300], ours_s[:301], theirs_p[:303], 1e-2, "proposal")
    # the box head on torchvision's proposals
    logits, deltas = model.roi_head(raw["features"], theirs_p[None])
    with torch.no_grad():
        pooled = ref.roi_heads.box_roi_pool(feats, [props[0]], images.image_sizes)
        ref_logits, ref_deltas = ref.roi_heads.box_predictor(ref.roi_heads.box_head(pooled))
    assert _rel(np.asarray(logits)[0], ref_logits.numpy()) < 1e-4
    assert _rel(np.asarray(deltas).reshape(len(theirs_p), -1), ref_deltas.numpy()) < 1e-4
    # final detections after post-processing with torchvision's settings (0.05, NMS 0.5, 100)
    dets = model.decode_predictions(raw)
    n = int(np.asarray(dets["num_detections"])[0])
    ref_boxes = dets_ref["boxes"].numpy()
    assert abs(n - len(ref_boxes)) <= 1
    k = min(n, len(ref_boxes), 50)
    ours_b = np.concatenate(
        [np.asarray(dets["boxes"])[0, :k], np.asarray(dets["classes"])[0, :k, None]], axis=1
    )
    theirs_b = np.concatenate([ref_boxes[:k], dets_ref["labels"].numpy()[:k, None]], axis=1)
    ours_s = np.asarray(dets["scores"])[0, :k]
    _assert_equal_up_to_ties(ours_b, ours_s, theirs_b, 1e-2, "detection")
    np.testing.assert_allclose(np.sort(ours_s), np.sort(dets_ref["scores"].numpy()[:k]), atol=1e-4)
    if "masks" in dets_ref:
        ours_masks = model.paste_masks(
            np.asarray(dets["mask_probs"])[0, :k], np.asarray(dets["boxes"])[0, :k], (SIZE, SIZE)
        )
        np.testing.assert_allclose(ours_masks, dets_ref["masks"].numpy()[:k, 0], atol=1e-3)
    if "keypoints" in dets_ref:
        points, scores = model.decode_keypoints(
            np.asarray(dets["keypoint_heatmaps"])[0, :k], np.asarray(dets["boxes"])[0, :k]
        )
        ref_points = dets_ref["keypoints"].numpy()[:k]
        close = np.all(np.abs(points - ref_points) < 1e-2, axis=-1)
        # an argmax can only move where two heatmap values tie to float precision
        assert close.mean() > 0.99, f"{(~close).sum()} of {close.size} keypoints differ"
        np.testing.assert_allclose(
            scores[close], dets_ref["keypoints_scores"].numpy()[:k][close], rtol=1e-3, atol=1e-3
        )


@pytest.mark.parametrize(
    "name, num_classes", [("maskrcnn_resnet50_fpn", 91), ("keypointrcnn_resnet50_fpn", 2)]
)
def test_fpn_transform_matches_torchvision_on_an_odd_sized_photo(name, num_classes, torch_home):
    """torchvision's resize (short side min_size, long side <= max_size), padding and mapping back."""
    builder = getattr(torchvision.models.detection, name)
    ref = _randomise(
        builder(weights=None, weights_backbone=None, num_classes=num_classes, min_size=160, max_size=224)
    )
    path = torch_home / "hub" / "checkpoints" / torchvision_weights(name, "torchvision").file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ref.state_dict(), path)
    model = zoo.get(name, weights="torchvision", input_shape=(160, 224, 3), min_size=160, max_size=224)
    photo = np.random.default_rng(3).uniform(0, 255, (150, 200, 3)).astype("float32")
    with torch.no_grad():
        theirs = ref([torch.from_numpy(photo.transpose(2, 0, 1) / 255.0)])[0]
    inputs, _ = model.prepare_images([photo])
    assert inputs["images"].shape == (1, 160, 224, 3)
    dets = zoo.detection.detect(model, photo)
    n = int(dets["num_detections"][0])
    assert abs(n - len(theirs["boxes"])) <= 1
    k = min(n, len(theirs["boxes"]), 30)
    ours_b = np.concatenate([dets["boxes"][0, :k], dets["classes"][0, :k, None]], axis=1)
    theirs_b = np.concatenate([theirs["boxes"].numpy()[:k], theirs["labels"].numpy()[:k, None]], axis=1)
    _assert_equal_up_to_ties(ours_b, dets["scores"][0, :k], theirs_b, 5e-2, "detection")
    if "masks" in theirs:
        assert dets["masks"][0].shape[1:] == (150, 200)
        diff = np.abs(dets["masks"][0][:k] - theirs["masks"].numpy()[:k, 0])
        assert diff.max() < 2e-2
    if "keypoints" in theirs:
        close = np.all(np.abs(dets["keypoints"][0, :k] - theirs["keypoints"].numpy()[:k]) < 5e-2, axis=-1)
        assert close.mean() > 0.99
