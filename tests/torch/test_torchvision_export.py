"""Models loaded with torchvision weights export to LiteRT and run in MediaPipe Tasks, labelled and
normalised as the weights want (slow: full conversions; ``pytest -m "torch and slow"``).

torchvision is the reference: a seeded random checkpoint under the published name in a temporary
TORCH_HOME; MediaPipe's answer on an image of the model's input size (so MediaPipe does not resize)
is compared with torchvision's own model on the same pixels, normalised by torchvision's mean/std.
"""

import sys

import pytest

sys.modules.setdefault("triton", None)  # see test_torchvision_classifiers.py
torch = pytest.importorskip("torch", reason="torchvision not installed: pip install -e '.[torch]'")
torchvision = pytest.importorskip(
    "torchvision", reason="torchvision not installed: pip install -e '.[torch]'"
)

import numpy as np  # noqa: E402

from tests.torch.test_torchvision_classifiers import nchw, randomize, save_published  # noqa: E402
from tests.torch.test_torchvision_ssd import _spread_scores  # noqa: E402
from zoo.export.litert import export_model  # noqa: E402
from zoo.export.representative import photo_crops  # noqa: E402
from zoo.preprocessing import TORCH_MEAN, TORCH_STD, imagenet_classes  # noqa: E402
from zoo.weights_torch import randomize_torch_model  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _base_options(path):
    from mediapipe.tasks.python.core.base_options import BaseOptions

    return BaseOptions(model_asset_path=str(path))


def _mp_image(img):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(img))


def test_resnet50_torchvision_weights_in_mediapipe_image_classifier(torch_home, tmp_path):
    """resnet50: the registry's preprocessing is caffe (keras.applications); torchvision weights need
    ImageNet mean/std, which MediaPipe's metadata cannot hold, so the export folds it."""
    from mediapipe.tasks.python import vision

    size = 64
    img = photo_crops(1, (size, size), seed=3)[0]
    x = (img[None].astype("float32") / 255.0 - np.asarray(TORCH_MEAN, "float32")) / np.asarray(
        TORCH_STD, "float32"
    )
    torch.manual_seed(0)
    ref = torchvision.models.resnet50(weights=None)
    randomize(ref.eval(), ref.fc, sample=nchw(x))
    save_published(ref, torch_home, "resnet50")
    with torch.no_grad():
        probs = torch.softmax(ref(nchw(x)), -1).numpy()[0]
    r = export_model(
        "resnet50",
        tmp_path / "r50.tflite",
        weights="torchvision",
        build_kwargs={"input_shape": (size, size, 3)},
        num_verify=3,
        latency_runs=0,
        verbose=False,
    )
    assert r.spec.preprocess == "torch" and r.report.metrics["max abs error"] < 1e-4
    names = [n for _, n in imagenet_classes()]
    assert r.spec.labels == names
    options = vision.ImageClassifierOptions(base_options=_base_options(r.path), max_results=5)
    with vision.ImageClassifier.create_from_options(options) as clf:
        top = clf.classify(_mp_image(img)).classifications[0].categories
    expected = np.argsort(-probs)[:5]
    assert [c.category_name for c in top] == [names[i] for i in expected]
    np.testing.assert_allclose([c.score for c in top], probs[expected], atol=1e-4)


def test_ssd300_coco_weights_in_mediapipe_object_detector(torch_home, tmp_path):
    """ssd300_vgg16 COCO_V1: COCO names from the weights, the mean inside the model (no metadata
    normalisation); MediaPipe's detections are torchvision's best ones."""
    from mediapipe.tasks.python import vision

    img = photo_crops(1, (300, 300), seed=2)[0]
    ref = randomize_torch_model(
        torchvision.models.detection.ssd300_vgg16(weights=None, weights_backbone=None)
    )
    _spread_scores(ref, img[None].astype("float32"))
    save_published(ref, torch_home, "ssd300_vgg16", "COCO_V1")
    with torch.no_grad():
        theirs = ref([torch.from_numpy(img.transpose(2, 0, 1).astype("float32") / 255.0)])[0]
    k = 10
    r = export_model(
        "ssd300_vgg16",
        tmp_path / "ssd.tflite",
        weights="torchvision",
        detection_options={"max_detections": k},
        num_verify=2,
        latency_runs=0,
        verbose=False,
    )
    assert r.spec.preprocess == "none" and r.spec.labels[1] == "person"
    assert r.report.metrics["mAP@0.5 agreement"] > 0.9
    options = vision.ObjectDetectorOptions(base_options=_base_options(r.path), max_results=k)
    with vision.ObjectDetector.create_from_options(options) as det:
        dets = det.detect(_mp_image(img)).detections
    assert len(dets) == k
    names = r.spec.labels
    t_boxes, t_scores = theirs["boxes"].numpy(), theirs["scores"].numpy()
    t_names = [names[i] for i in theirs["labels"].numpy()]
    for d in dets:  # each MediaPipe detection is one of torchvision's, same class, box and score
        b = d.bounding_box
        box = np.array([b.origin_x, b.origin_y, b.origin_x + b.width, b.origin_y + b.height], "float32")
        c = d.categories[0]
        match = [
            i
            for i in range(len(t_scores))
            if t_names[i] == c.category_name and np.abs(t_boxes[i] - box).max() <= 2.0
        ]
        assert match, f"MediaPipe's {c.category_name} {box} is none of torchvision's detections"
        assert abs(t_scores[match[0]] - c.score) < 1e-3
