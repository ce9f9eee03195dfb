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
from tests.torch.test_torchvision_classifiers import compare, nchw, save_published  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    torch_home = tmp_path_factory.mktemp("torch")
    mp = pytest.MonkeyPatch()
    mp.setenv("TORCH_HOME", str(torch_home))
    torch.manual_seed(0)
    ref = torchvision.models.detection.ssd300_vgg16(weights=None, weights_backbone=None).eval()
    with torch.no_grad():  # spread-out scores: larger class logits, the background favoured
        for conv in ref.head.classification_head.module_list:
            conv.weight.mul_(8.0)
            conv.bias.view(-1, 91)[:, 0] += 6.0
    save_published(ref, torch_home, "ssd300_vgg16", "COCO_V1")
    ours = zoo.get("ssd300_vgg16", weights="torchvision")
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 300, 300, 3)).astype("float32")
    yield ref, ours, pixels
    mp.undo()


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
    ref, ours, pixels = pair
    head, anchors, image_list = _reference_raw(ref, pixels)
    with torch.no_grad():
        expected = ref.postprocess_detections(head, anchors, image_list.image_sizes)[0]
    got = ours.predict(pixels, verbose=0)
    n = int(got["num_detections"][0])
    assert n == len(expected["scores"])

    # the same set of detections (the order among equal scores is arbitrary): sort by class, box, score
    def canonical(boxes, scores, classes):
        order = np.lexsort((-scores, np.round(boxes[:, 1], 2), np.round(boxes[:, 0], 2), classes))
        return boxes[order], scores[order], classes[order]

    got_boxes, got_scores, got_classes = got["boxes"][0, :n], got["scores"][0, :n], got["classes"][0, :n]
    exp_boxes, exp_scores, exp_classes = (expected[k].numpy() for k in ("boxes", "scores", "labels"))
    np.testing.assert_allclose(np.sort(got_scores), np.sort(exp_scores), rtol=1e-4, atol=1e-6)
    # With random weights the 200 best scores lie within ~1e-4 of each other, so which box/class fills
    # each slot is float rounding; the detections clearly above the cut are compared one by one.
    cut = float(np.sort(exp_scores)[0]) + 1e-4
    keep, exp_keep = got_scores > cut, exp_scores > cut
    assert keep.sum() == exp_keep.sum()
    boxes, scores, classes = canonical(got_boxes[keep], got_scores[keep], got_classes[keep])
    e_boxes, e_scores, e_classes = canonical(exp_boxes[exp_keep], exp_scores[exp_keep], exp_classes[exp_keep])
    np.testing.assert_array_equal(classes, e_classes)
    np.testing.assert_allclose(boxes, e_boxes, atol=1e-2)
