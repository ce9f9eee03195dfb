"""zoo SSD300 with torchvision's COCO checkpoint layout equals torchvision's ssd300_vgg16.

Shared seeded random weights saved under the published name (ssd300_vgg16_coco-b556d3b4.pth) in a
temporary TORCH_HOME; the same 300x300 image goes through both. Compared: default boxes, raw class
logits and box deltas, and the final detections with torchvision's settings (score 0.01, NMS 0.45,
200 per image, 400 per class before NMS).
"""

import sys

import pytest

sys.modules.setdefault("triton", None)  # see test_torchvision_classifiers.py
torch = pytest.importorskip("torch", reason="torchvision not installed: pip install -e '.[torch]'")
torchvision = pytest.importorskip(
    "torchvision", reason="torchvision not installed: pip install -e '.[torch]'"
)

import numpy as np  # noqa: E402

import zoo  # noqa: E402
from tests.torch.test_fpn_parity import _assert_equal_up_to_ties  # noqa: E402
from tests.torch.test_torchvision_classifiers import compare, nchw, save_published  # noqa: E402
from zoo.weights_torch import randomize_torch_model  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    torch_home = tmp_path_factory.mktemp("torch")
    mp = pytest.MonkeyPatch()
    mp.setenv("TORCH_HOME", str(torch_home))
    ref = randomize_torch_model(
        torchvision.models.detection.ssd300_vgg16(weights=None, weights_backbone=None)
    )
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 300, 300, 3)).astype("float32")
    _spread_scores(ref, pixels)
    save_published(ref, torch_home, "ssd300_vgg16", "COCO_V1")
    ours = zoo.get("ssd300_vgg16", weights="torchvision")
    yield ref, ours, pixels
    mp.undo()


def _spread_scores(ref, pixels, class_std=2.0, background=4.0, delta_std=0.3):
    """Rescales the heads so that detections are distinguishable, as trained weights make them.

    Random weights give class logits of std ~100 (softmax scores saturate at 1.0, all tied) or, with
    torchvision's default init, ~0 (all scores ~1/91, tied). Scaled to std 2 with the background
    logit raised by 4, the 200 kept scores spread over ~0.7-0.99 with distinct values; box deltas of
    std 0.3 keep most boxes inside the image (clipped boxes are equal to each other).
    """
    head, _, _ = _reference_raw(ref, pixels)
    c = class_std / float(head["cls_logits"].std())
    r = delta_std / float(head["bbox_regression"].std())
    with torch.no_grad():
        for conv in ref.head.classification_head.module_list:
            conv.weight.mul_(c)
            conv.bias.mul_(c)
            conv.bias.view(-1, 91)[:, 0] += background
        for conv in ref.head.regression_head.module_list:
            conv.weight.mul_(r)
            conv.bias.mul_(r)


def _reference_raw(ref, pixels):
    x = nchw(pixels / 255.0)
    mean = torch.tensor(ref.transform.image_mean)[:, None, None]
    std = torch.tensor(ref.transform.image_std)[:, None, None]
    images = (x - mean) / std
    with torch.no_grad():
        features = list(ref.backbone(images).values())
        head = ref.head(features)
        image_list = torchvision.models.detection.image_list.ImageList(images, [(300, 300)])
        anchors = ref.anchor_generator(image_list, features)
    return head, anchors, image_list


def test_config_and_names(pair):
    _, ours, _ = pair
    assert ours.num_classes == 91 and ours.class_names[1] == "person" and ours.class_names[90] == "toothbrush"
    config = ours.get_config()
    assert config["scales"] == (0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05) and config["steps"] == (
        8,
        16,
        32,
        64,
        100,
        300,
    )
    assert np.allclose(config["mean"], (123.0, 117.0, 104.0), atol=0.01)
    trainable = int(sum(np.prod(w.shape) for w in ours.trainable_weights))
    assert trainable == 35_641_826  # torchvision's published count


def test_default_boxes_and_raw_outputs_equal_torchvision(pair):
    ref, ours, pixels = pair
    head, anchors, _ = _reference_raw(ref, pixels)
    np.testing.assert_allclose(ours.default_boxes, anchors[0].numpy(), atol=1e-3)
    raw = ours(pixels, training=False)
    compare(np.asarray(raw["class_logits"]), head["cls_logits"].numpy(), top1=False)
    compare(np.asarray(raw["box_deltas"]), head["bbox_regression"].numpy(), top1=False)


def test_detections_equal_torchvision(pair):
    """Box by box, in torchvision's order: the same box, class and score in every one of the 200 slots,
    except two neighbours with tied scores (relative difference < 1e-5), which may come in either order."""
    ref, ours, pixels = pair
    head, anchors, image_list = _reference_raw(ref, pixels)
    with torch.no_grad():
        expected = ref.postprocess_detections(head, anchors, image_list.image_sizes)[0]
    exp_boxes, exp_scores, exp_classes = (expected[k].numpy() for k in ("boxes", "scores", "labels"))
    # the check is only as strong as the scores are distinct: guard the head scaling above
    assert len(exp_scores) == 200 and len(np.unique(exp_classes)) > 10
    assert np.sum(-np.diff(exp_scores) < 1e-5 * exp_scores[1:]) <= 5
    got = ours.predict(pixels, verbose=0)
    n = int(got["num_detections"][0])
    assert n == len(exp_scores)
    got_boxes, got_scores, got_classes = got["boxes"][0, :n], got["scores"][0, :n], got["classes"][0, :n]
    ours_rows = np.concatenate([got_boxes, got_classes[:, None]], axis=1)
    theirs_rows = np.concatenate([exp_boxes, exp_classes[:, None]], axis=1)
    _assert_equal_up_to_ties(ours_rows, got_scores, theirs_rows, 1e-3, "detection")
    np.testing.assert_allclose(got_scores, exp_scores, rtol=1e-4, atol=1e-6)


def test_converted_weights_h5_reloads_in_torchvision_configuration(pair, tmp_path):
    """convert-weights' .weights.h5 + the printed options rebuild the same COCO model, no torch needed."""
    from zoo.convert_weights import convert_weights, torchvision_options

    _, ours, pixels = pair
    assert torchvision_options("ssd300_vgg16") == {"layout": "torchvision"}
    out = convert_weights("ssd300_vgg16", "COCO_V1", tmp_path / "ssd.weights.h5")
    again = zoo.get("ssd300_vgg16", weights=str(out), **torchvision_options("ssd300_vgg16"))
    assert (
        again.get_config()["scales"] == ours.get_config()["scales"] and again.class_names == ours.class_names
    )
    np.testing.assert_array_equal(
        np.asarray(again(pixels)["class_logits"]), np.asarray(ours(pixels)["class_logits"])
    )
