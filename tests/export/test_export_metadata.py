"""zoo.export.metadata: the ModelMetadata flatbuffer and associated files, read back with the schema bindings."""

import numpy as np
import pytest

from zoo.export import metadata as md


@pytest.fixture(scope="module")
def tflite_bytes(tmp_path_factory):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def f(x):
        return tf.reduce_mean(x, axis=[1, 2])

    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()]).convert())


def test_classifier_metadata_round_trip(tflite_bytes):
    meta = md.classifier_metadata(
        8,
        8,
        normalization=md.Normalization((1.0, 2.0, 3.0), (4.0, 5.0, 6.0)),
        input_dtype="float32",
        has_labels=True,
    )
    data = md.attach_metadata(tflite_bytes, meta, {"labels.txt": md.labels_file(["a", "b", "c"])})
    back = md.read_metadata(data)
    sg = back.subgraphMetadata[0]
    np.testing.assert_allclose(sg.inputTensorMetadata[0].processUnits[0].options.mean, [1, 2, 3])
    assert sg.outputTensorMetadata[0].associatedFiles[0].name == b"labels.txt"
    assert back.minParserVersion == b"1.0.0"
    assert md.read_associated_files(data) == {"labels.txt": b"a\nb\nc\n"}
    # The model part is still a valid TFLite model that runs.
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.ones((1, 8, 8, 3), np.float32))
    interpreter.invoke()
    np.testing.assert_allclose(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), 1.0)


def test_attach_replaces_existing_metadata(tflite_bytes):
    meta = md.classifier_metadata(8, 8, normalization=None, input_dtype="uint8", has_labels=True)
    once = md.attach_metadata(tflite_bytes, meta, {"labels.txt": b"a\n"})
    twice = md.attach_metadata(once, meta, {"labels.txt": b"b\n"})
    assert md.read_associated_files(twice) == {"labels.txt": b"b\n"}
    assert abs(len(twice) - len(once)) < 8


def test_detector_metadata_order_and_boxes():
    meta = md.detector_metadata(
        300,
        300,
        normalization=None,
        input_dtype="uint8",
        has_labels=True,
        output_order=("score", "location", "number of detections", "category"),
    )
    sg = meta.subgraphMetadata[0]
    assert [t.name for t in sg.outputTensorMetadata] == [
        "score",
        "location",
        "number of detections",
        "category",
    ]
    assert list(sg.outputTensorMetadata[1].content.contentProperties.index) == [1, 0, 3, 2]
    assert sg.outputTensorGroups[0].tensorNames == ["location", "category", "score"]
    with pytest.raises(md.MetadataError):
        md.detector_metadata(
            1, 1, normalization=None, input_dtype="uint8", has_labels=False, output_order=("a",)
        )


def test_mismatches_are_errors(tflite_bytes):
    meta = md.classifier_metadata(8, 8, normalization=None, input_dtype="uint8", has_labels=True)
    with pytest.raises(md.MetadataError, match="associated files"):
        md.attach_metadata(tflite_bytes, meta, {})
    with pytest.raises(md.MetadataError, match="TFLite"):
        md.attach_metadata(b"\x00" * 64, meta, {"labels.txt": b"a\n"})
    with pytest.raises(md.MetadataError, match="empty"):
        md.labels_file([])
    with pytest.raises(md.MetadataError, match="single lines"):
        md.labels_file(["ok", "two\nlines"])


def test_detector_metadata_with_the_mask_output():
    order = ("location", "mask_probs", "category", "score", "number of detections")
    meta = md.detector_metadata(
        64, 64, normalization=None, input_dtype="float32", has_labels=False, output_order=order
    )
    assert [t.name for t in meta.subgraphMetadata[0].outputTensorMetadata] == list(order)
    with pytest.raises(md.MetadataError, match="mask_probs"):
        md.detector_metadata(
            1,
            1,
            normalization=None,
            input_dtype="uint8",
            has_labels=False,
            output_order=order[:1] + order[2:] + ("x",),
        )
