import numpy as np
import pytest
from keras import ops

import zoo
from zoo.preprocessing import decode_predictions, imagenet_classes, preprocess_input


@pytest.mark.multibackend
def test_caffe_mode_matches_keras_applications_formula():
    x = np.array([[[[10.0, 20.0, 30.0]]]], "float32")
    got = ops.convert_to_numpy(preprocess_input(x, "caffe"))
    np.testing.assert_allclose(got, [[[[30 - 103.939, 20 - 116.779, 10 - 123.68]]]], rtol=1e-6)


def test_other_modes():
    x = np.array([[[[0.0, 127.5, 255.0]]]], "float32")
    np.testing.assert_allclose(ops.convert_to_numpy(preprocess_input(x, "tf")), [[[[-1, 0, 1]]]], atol=1e-6)
    torch = ops.convert_to_numpy(preprocess_input(x, "torch"))
    np.testing.assert_allclose(
        torch, [[[[-0.485 / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225]]]], rtol=1e-5
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(preprocess_input(x, "unit")), [[[[0, 0.5, 1]]]], atol=1e-6
    )
    with pytest.raises(ValueError, match="Unknown preprocessing mode"):
        preprocess_input(x, "yolo")


def test_preprocess_by_model_name():
    x = np.zeros((1, 2, 2, 3), "float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(zoo.preprocess("vgg16")(x))[0, 0, 0], [-103.939, -116.779, -123.68]
    )


def test_imagenet_index_is_bundled_and_ordered():
    classes = imagenet_classes()
    assert len(classes) == 1000
    assert classes[0] == ("n01440764", "tench")
    assert classes[281] == ("n02123045", "tabby")
    assert [w for w, _ in classes] == sorted(w for w, _ in classes)


def test_decode_predictions():
    p = np.zeros((1, 1000), "float32")
    p[0, 281], p[0, 1] = 0.7, 0.2
    top = decode_predictions(p, top=2)[0]
    assert [t[1] for t in top] == ["tabby", "goldfish"]
    with pytest.raises(ValueError, match="1000"):
        decode_predictions(np.zeros((1, 10)))


def test_weight_set_error_names_the_model_the_user_typed():
    # ssd_vgg16 is torchvision's ssd300_vgg16: the message leads with the name that was typed
    with pytest.raises(
        ValueError, match=r"^'ssd_vgg16' \(torchvision's ssd300_vgg16\) has no torchvision weight"
    ):
        zoo.preprocess("ssd_vgg16", weights="COCO_V9")
    with pytest.raises(ValueError, match=r"^'resnet50' has no torchvision weight set 'X'"):
        zoo.preprocess("resnet50", weights="X")
