"""LiteRT export: round trips for every quantization mode, MediaPipe Tasks on each task type, errors.

Small models (32 px inputs, a few channels) with the output contracts of the zoo's classifiers,
detectors (the detections dict, via zoo.detection.postprocess) and segmenters. Conversions are
shared through module-scoped fixtures because converting is the slow part.
"""

import zipfile

import keras
import numpy as np
import pytest
from keras import ops

from zoo.detection.postprocess import DetectionPostprocess, postprocess_detections
from zoo.export.litert import ExportError, export_model, normalization_for
from zoo.export.metadata import read_associated_files, read_metadata
from zoo.export.representative import photo_crops
from zoo.export.verify import TFLiteRunner
from zoo.ops.boxes import SSD_WEIGHTS

SIZE = 32
LABELS = ["ant", "bee", "cat", "dog", "eel"]


def _classifier():
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="c1")(inp)
    x = keras.layers.Conv2D(32, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(64, activation="relu", name="fc")(x)
    # Large output weights make the random classifier decisive (well-separated top-1), as a trained one is.
    init = keras.initializers.RandomNormal(stddev=1.0)
    out = keras.layers.Dense(len(LABELS), activation="softmax", kernel_initializer=init, name="predictions")(
        x
    )
    model = keras.Model(inp, out, name="tiny_classifier")
    model.zoo_preprocess = "tf"  # pixels -> [-1, 1]
    return model


def _anchors(cells=4):
    step = SIZE / cells
    anchors = []
    for r in range(cells):
        for c in range(cells):
            cx, cy = (c + 0.5) * step, (r + 0.5) * step
            for s in (8.0, 14.0):
                anchors.append([cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2])
    return np.array(anchors, np.float32)


def _raw_head(inp, classes=3, per_cell=2):
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    init = keras.initializers.RandomNormal(stddev=1.0)
    conf = keras.layers.Conv2D(per_cell * classes, 3, padding="same", kernel_initializer=init)(x)
    loc = keras.layers.Conv2D(per_cell * 4, 3, padding="same")(x)
    return {
        "class_logits": keras.layers.Reshape((-1, classes), name="class_logits")(conf),
        "box_deltas": keras.layers.Reshape((-1, 4), name="box_deltas")(loc),
    }


class TinySSD(keras.Model):
    """The SSD contract in miniature: raw outputs, ``default_boxes``, ``detect_batch``."""

    def __init__(self, **kwargs):
        inp = keras.Input((SIZE, SIZE, 3), name="image")
        super().__init__(inp, _raw_head(inp), name="tiny_ssd", **kwargs)
        self.default_boxes = _anchors()
        self.box_weights = SSD_WEIGHTS
        self.image_size = (SIZE, SIZE)
        self.zoo_preprocess = "none"  # the Rescaling layer is in the graph

    def detect_batch(
        self, images, *, score_threshold=0.3, iou_threshold=0.45, max_detections=5, pre_nms_top_k=None
    ):
        out = self(images, training=False)
        return postprocess_detections(
            out["class_logits"],
            out["box_deltas"],
            self.default_boxes,
            self.image_size,
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=max_detections,
            pre_nms_top_k=pre_nms_top_k,
        )


def _dict_detector():
    """A detector whose call returns the detections dict (post-processing as a layer)."""
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    anchors = _anchors()
    post = DetectionPostprocess(
        len(anchors), (SIZE, SIZE), anchors=anchors, score_threshold=0.3, max_detections=5, pre_nms_top_k=16
    )
    model = keras.Model(inp, post(_raw_head(inp)), name="tiny_detector")
    model.zoo_preprocess = "none"
    return model


def _segmenter():
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    out = keras.layers.Conv2D(
        3, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=1.0), name="logits"
    )(x)
    model = keras.Model(inp, out, name="tiny_segmenter")
    model.zoo_preprocess = "none"
    return model


def _image(seed=3):
    return photo_crops(1, (SIZE, SIZE), seed=seed)[0]


def _mp_image(img):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(img))


def _base(path):
    from mediapipe.tasks.python.core.base_options import BaseOptions

    return BaseOptions(model_asset_path=str(path))


@pytest.fixture(scope="module")
def classifier_exports(tmp_path_factory):
    keras.utils.set_random_seed(1)
    model = _classifier()
    out = tmp_path_factory.mktemp("cls")
    results = {}
    for q in ("none", "float16", "dynamic", "int8"):
        results[q] = export_model(
            model,
            out / f"cls_{q}.tflite",
            quantize=q,
            representative="photos",
            num_calibration=16,
            fold_preprocessing=q in ("float16", "int8"),
            labels=LABELS,
            num_verify=16,
            latency_runs=2,
            verbose=False,
        )
    return model, results


@pytest.fixture(scope="module")
def detector_exports(tmp_path_factory):
    keras.utils.set_random_seed(2)
    model = TinySSD()
    out = tmp_path_factory.mktemp("det")
    labels = ["background", "red", "blue"]
    results = {
        q: export_model(
            model,
            out / f"det_{q}.tflite",
            quantize=q,
            representative="photos",
            num_calibration=8,
            fold_preprocessing=q == "int8",
            labels=labels,
            num_verify=6,
            latency_runs=1,
            verbose=False,
        )
        for q in ("none", "int8")
    }
    return model, results


@pytest.fixture(scope="module")
def segmenter_export(tmp_path_factory):
    keras.utils.set_random_seed(3)
    model = _segmenter()
    path = tmp_path_factory.mktemp("seg") / "seg.tflite"
    r = export_model(
        model,
        path,
        quantize="int8",
        representative="photos",
        num_calibration=8,
        fold_preprocessing=True,
        labels=["sky", "wall", "plant"],
        num_verify=4,
        latency_runs=1,
        verbose=False,
    )
    return model, r


# ----------------------------------------------------------------------------- round trips


def test_float32_matches_keras(classifier_exports):
    _, results = classifier_exports
    m = results["none"].report.metrics
    assert m["max abs error"] < 1e-4
    assert m["top-1 agreement"] == 1.0


@pytest.mark.parametrize("quantize,tol", [("float16", 5e-3), ("dynamic", 5e-2)])
def test_float_quantizations_close(classifier_exports, quantize, tol):
    _, results = classifier_exports
    assert results[quantize].report.metrics["max abs error"] < tol


def test_int8_full_integer(classifier_exports):
    _, results = classifier_exports
    r = results["int8"]
    assert r.report.metrics["top-1 agreement"] >= 0.9
    runner = TFLiteRunner(r.path)
    assert np.dtype(runner.input["dtype"]) == np.uint8  # folded preprocessing: the app feeds uint8 RGB
    op_types = {d["op_name"] for d in runner.interpreter._get_ops_details()}
    assert "CONV_2D" in op_types and "FULLY_CONNECTED" in op_types
    size_f32 = results["none"].path.stat().st_size
    assert r.path.stat().st_size < 0.5 * size_f32


def test_report_table_lists_everything(classifier_exports):
    _, results = classifier_exports
    table = results["int8"].report.table()
    for key in (
        "size",
        "input",
        "output 0",
        "top-1 agreement",
        "latency 1 thread",
        "latency 2 threads",
        "p90",
    ):
        assert key in table


def test_labels_and_metadata_embedded(classifier_exports):
    _, results = classifier_exports
    data = results["none"].path.read_bytes()
    assert zipfile.is_zipfile(results["none"].path)
    assert read_associated_files(data) == {"labels.txt": ("\n".join(LABELS) + "\n").encode()}
    meta = read_metadata(data)
    norm = meta.subgraphMetadata[0].inputTensorMetadata[0].processUnits[0].options
    np.testing.assert_allclose(norm.mean, [127.5] * 3)
    np.testing.assert_allclose(norm.std, [127.5] * 3)


def test_existing_output_needs_force(classifier_exports):
    model, results = classifier_exports
    path = results["none"].path
    before = path.read_bytes()
    with pytest.raises(ExportError, match="force"):
        export_model(model, path, verify=False, verbose=False)
    assert path.read_bytes() == before


# ----------------------------------------------------------------------------- MediaPipe Tasks


def test_mediapipe_classifier_agrees(classifier_exports):
    from mediapipe.tasks.python import vision

    model, results = classifier_exports
    img = _image()
    expected = int(np.argmax(model.predict(img[None] / 127.5 - 1.0, verbose=0)[0]))
    for q in ("none", "int8"):
        options = vision.ImageClassifierOptions(base_options=_base(results[q].path), max_results=1)
        with vision.ImageClassifier.create_from_options(options) as classifier:
            top = classifier.classify(_mp_image(img)).classifications[0].categories[0]
        assert top.index == expected
        assert top.category_name == LABELS[expected]


def test_detector_float_matches_zoo_postprocessing(detector_exports):
    # TFLite_Detection_PostProcess in the file vs zoo.detection.postprocess run by Keras.
    _, results = detector_exports
    m = results["none"].report.metrics
    assert m["max abs error (boxes, scores)"] < 1e-4
    assert m["num detections equal"] == 1.0
    assert m["mAP@0.5 agreement"] == pytest.approx(1.0)


def test_detector_int8(detector_exports):
    _, results = detector_exports
    m = results["int8"].report.metrics
    assert m["mAP@0.5 agreement"] >= 0.5
    runner = TFLiteRunner(results["int8"].path)
    ops_used = {d["op_name"] for d in runner.interpreter._get_ops_details()}
    assert "TFLite_Detection_PostProcess" in ops_used


@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_mediapipe_detector_agrees(detector_exports, quantize):
    from mediapipe.tasks.python import vision

    model, results = detector_exports
    path = results[quantize].path
    img = _image(seed=7)
    ref = {k: np.asarray(v)[0] for k, v in model.detect_batch(img[None].astype("float32")).items()}
    n = int(ref["num_detections"])
    assert n > 0
    options = vision.ObjectDetectorOptions(base_options=_base(path), score_threshold=0.0, max_results=-1)
    with vision.ObjectDetector.create_from_options(options) as detector:
        dets = detector.detect(_mp_image(img)).detections
    labels = ["background", "red", "blue"]
    names = {d.categories[0].category_name for d in dets}
    assert names <= {"red", "blue"}
    if quantize != "none":
        assert abs(len(dets) - n) <= 1
        return
    assert len(dets) == n
    got = sorted(
        (
            d.categories[0].score,
            labels.index(d.categories[0].category_name),  # the Python API leaves index None with labels
            d.bounding_box.origin_x,
            d.bounding_box.origin_y,
            d.bounding_box.origin_x + d.bounding_box.width,
            d.bounding_box.origin_y + d.bounding_box.height,
        )
        for d in dets
    )
    want = sorted((ref["scores"][k], ref["classes"][k], *ref["boxes"][k]) for k in range(n))
    for g, w in zip(got, want):
        assert g[0] == pytest.approx(w[0], abs=1e-4)
        assert g[1] == w[1]
        np.testing.assert_allclose(g[2:], w[2:], atol=2.01)  # MediaPipe truncates origin and size to pixels


def test_detector_with_nms_in_graph(tmp_path):
    # A model returning the detections dict: exported with the keras.ops NMS (WHILE loop) as is.
    model = _dict_detector()
    r = export_model(
        model, tmp_path / "d.tflite", num_verify=3, latency_runs=0, with_metadata=False, verbose=False
    )
    assert r.spec.detection_postprocess == "graph"
    assert r.report.metrics["max abs error (boxes, scores)"] < 1e-4
    assert r.report.metrics["mAP@0.5 agreement"] == pytest.approx(1.0)


def test_mediapipe_segmenter_agrees(segmenter_export):
    from mediapipe.tasks.python import vision

    model, r = segmenter_export
    assert r.report.metrics["mIoU agreement"] > 0.8
    img = _image(seed=11)
    expected = np.argmax(model.predict(img[None].astype("float32"), verbose=0)[0], -1)
    options = vision.ImageSegmenterOptions(base_options=_base(r.path), output_category_mask=True)
    with vision.ImageSegmenter.create_from_options(options) as segmenter:
        result = segmenter.segment(_mp_image(img))
        mask = np.array(result.category_mask.numpy_view()).reshape(SIZE, SIZE)
        labels = segmenter.labels
    assert mask.shape == expected.shape
    assert np.mean(mask == expected) > 0.9
    assert labels == ["sky", "wall", "plant"]


def test_verification_compares_with_mediapipe_category_mask_as_it_makes_it(tmp_path):
    # MediaPipe runs the float file on photos twice the model size and returns a photo-sized mask
    # (corner-aligned bilinear of the logits, then argmax): the verification must reproduce it
    # exactly (it sampled MediaPipe's mask at output pixels before: 0.83 on the shapes U-Net).
    keras.utils.set_random_seed(5)
    r = export_model(
        _segmenter(), tmp_path / "seg.tflite", fold_preprocessing=True, num_verify=2, latency_runs=0,
        verbose=False,
    )  # fmt: skip
    assert r.report.metrics["pixel agreement"] == 1.0
    assert r.report.metrics["MediaPipe pixel agreement"] == 1.0


# ----------------------------------------------------------------------------- errors


def test_corrupt_keras_file(tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(ExportError, match="corrupt or not a Keras model"):
        export_model(bad, tmp_path / "x.tflite", verbose=False)


def test_non_keras_file(tmp_path):
    bad = tmp_path / "weights.txt"
    bad.write_text("hello")
    with pytest.raises(ExportError, match="not a Keras model file"):
        export_model(bad, tmp_path / "x.tflite", verbose=False)


def test_zip_that_is_not_a_model(tmp_path):
    bad = tmp_path / "model.keras"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ExportError, match="Cannot load Keras model"):
        export_model(bad, tmp_path / "x.tflite", verbose=False)


def test_empty_representative_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="no images"):
        export_model(
            _classifier(),
            tmp_path / "x.tflite",
            quantize="int8",
            representative=tmp_path / "empty",
            verbose=False,
        )
    assert not (tmp_path / "x.tflite").exists()


def test_unsupported_layer_is_named(tmp_path):
    class InverseErf(keras.layers.Layer):
        def call(self, x):
            return ops.erfinv(ops.tanh(x) * 0.5)

    inp = keras.Input((8, 8, 3))
    x = InverseErf(name="inverse_erf")(keras.layers.Conv2D(2, 3)(inp))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    with pytest.raises(ExportError, match=r"Erfinv.*inverse_erf"):
        export_model(model, tmp_path / "x.tflite", preprocess="none", with_metadata=False, verbose=False)


def test_int8_detector_with_graph_nms_refused_cleanly(tmp_path):
    with pytest.raises(ExportError, match="dynamic"):
        export_model(
            _dict_detector(), tmp_path / "x.tflite", quantize="int8", representative="photos", verbose=False
        )


def test_bad_arguments(tmp_path):
    model = _classifier()
    with pytest.raises(ExportError, match="quantize"):
        export_model(model, tmp_path / "x.tflite", quantize="int4", verbose=False)
    with pytest.raises(ExportError, match=".tflite"):
        export_model(model, tmp_path / "x.bin", verbose=False)
    with pytest.raises(ExportError, match="labels"):
        export_model(model, tmp_path / "x.tflite", labels=["a", "b"], verify=False, verbose=False)


def test_caffe_preprocessing_needs_folding_for_metadata(tmp_path):
    model = _classifier()
    model.zoo_preprocess = "caffe"
    with pytest.raises(ExportError, match="fold_preprocessing"):
        export_model(model, tmp_path / "x.tflite", fold_preprocessing=False, verbose=False)


@pytest.mark.parametrize(
    "mode,mean,std",
    [("tf", 127.5, 127.5), ("torch", [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]), ("none", 0.0, 1.0)],
)
def test_normalization_from_preprocessing(mode, mean, std):
    norm = normalization_for(mode)
    np.testing.assert_allclose(norm.mean, np.broadcast_to(mean, 3), rtol=1e-5)
    np.testing.assert_allclose(norm.std, np.broadcast_to(std, 3), rtol=1e-5)
    assert normalization_for("caffe") is None


def test_grey_model_folded_for_mediapipe(tmp_path):
    # Like the crocodile demo's model: 1-channel input in [0, 1]; the app still feeds uint8 RGB.
    from mediapipe.tasks.python import vision

    inp = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    init = keras.initializers.RandomNormal(stddev=2.0)
    out = keras.layers.Dense(3, activation="softmax", kernel_initializer=init)(keras.layers.Flatten()(x))
    model = keras.Model(inp, out)
    with pytest.raises(ExportError, match="grey"):
        export_model(model, tmp_path / "g.tflite", preprocess="unit", fold_preprocessing=False, verbose=False)
    r = export_model(
        model,
        tmp_path / "g.tflite",
        preprocess="unit",
        fold_preprocessing=True,
        labels="5,6,7",  # comma-separated, as --labels accepts
        num_verify=4,
        latency_runs=0,
        verbose=False,
    )
    assert r.report.metrics["max abs error"] < 1e-4
    img = photo_crops(1, (16, 16), seed=5)[0]
    grey = (img.astype("float32") @ np.array([0.2989, 0.587, 0.114], "float32"))[None, ..., None] / 255.0
    expected = int(np.argmax(model.predict(grey, verbose=0)[0]))
    options = vision.ImageClassifierOptions(base_options=_base(r.path), max_results=1)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        top = classifier.classify(_mp_image(img)).classifications[0].categories[0]
    assert top.category_name == ["5", "6", "7"][expected]
