"""The real zoo models through the export (slow: full layer stacks, run with `make test-slow`)."""

import numpy as np
import pytest

import zoo
from zoo.export.litert import export_model
from zoo.export.representative import photo_crops


def _mp(path):
    import mediapipe as mp
    from mediapipe.tasks.python.core.base_options import BaseOptions

    return mp, BaseOptions(model_asset_path=str(path))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["alexnet", "vgg11", "resnet18", "googlenet", "inception_v3"])
def test_registered_classifier_float32(name, tmp_path):
    from zoo.registry import entry

    size = max(entry(name).input_shape[0] // 4, 75) if entry(name).input_shape else 64
    # Every listed classifier must export: a builder error (TypeError included) fails the test.
    r = export_model(
        name,
        tmp_path / "m.tflite",
        build_kwargs={"classes": 4, "input_shape": (size, size, 3)},
        fold_preprocessing=True,
        labels=list("abcd"),
        num_verify=2,
        latency_runs=0,
        verbose=False,
    )
    assert r.report.metrics["max abs error"] < 1e-3


@pytest.mark.slow
def test_ssd_vgg16_through_mediapipe(tmp_path):
    from zoo.detection import ssd

    model = ssd.ssd_vgg16(num_classes=3, input_shape=(96, 96, 3), width=0.125)
    r = export_model(
        model,
        tmp_path / "ssd.tflite",
        fold_preprocessing=True,
        labels=["background", "a", "b"],
        detection_options={"score_threshold": 0.34, "max_detections": 10},
        num_verify=4,
        latency_runs=0,
        verbose=False,
    )
    assert r.spec.detection_postprocess == "tflite_op"
    assert r.report.metrics["mAP@0.5 agreement"] > 0.9
    mp, base = _mp(r.path)
    from mediapipe.tasks.python import vision

    img = photo_crops(1, (96, 96), seed=2)[0]
    ref = model.detect_batch(img[None].astype("float32"), score_threshold=0.34, max_detections=10)
    with vision.ObjectDetector.create_from_options(vision.ObjectDetectorOptions(base_options=base)) as det:
        dets = det.detect(
            mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(img))
        ).detections
    assert len(dets) == int(np.asarray(ref["num_detections"])[0])


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("unet", {"num_classes": 3, "input_shape": (64, 64, 3), "padding": "same", "depth": 3, "filters": 4}),
        ("fcn32s_vgg16", {"num_classes": 3, "input_shape": (64, 64, 3), "fc_units": 32}),
    ],
)
def test_segmenter_through_mediapipe(name, kwargs, tmp_path):
    if name not in zoo.list_models():
        pytest.skip(f"{name} is not registered")
    from zoo.preprocessing import preprocess_input
    from zoo.registry import entry

    model = zoo.get(name, **kwargs)
    mode = entry(name).preprocess or "none"
    r = export_model(
        model,
        tmp_path / "seg.tflite",
        preprocess=mode,
        fold_preprocessing=True,
        labels=["bg", "a", "b"],
        num_verify=3,
        latency_runs=0,
        verbose=False,
    )
    assert r.report.metrics["max abs error"] < 1e-3
    mp, base = _mp(r.path)
    from mediapipe.tasks.python import vision

    img = photo_crops(1, (64, 64), seed=4)[0]
    expected = np.argmax(
        model.predict(preprocess_input(img[None].astype("float32"), mode=mode), verbose=0)[0], -1
    )
    options = vision.ImageSegmenterOptions(base_options=base, output_category_mask=True)
    with vision.ImageSegmenter.create_from_options(options) as seg:
        result = seg.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(img)))
        mask = np.array(result.category_mask.numpy_view()).reshape(expected.shape)
    assert np.mean(mask == expected) > 0.9
