"""YOLO v1: layer table and parameter count, the loss against a NumPy transcription of the paper's
equation, decoding (98 boxes, class-specific confidence), detections through zoo.detection.detect,
bad input and a training step."""

import keras
import numpy as np
import pytest

import zoo
from zoo.detection.postprocess import detect
from zoo.detection.yolo import YOLOv1, check_grid, yolo_decode, yolo_loss, yolo_targets

# The paper's Fig. 3 written out (kernel, filters) per convolution; the test's own copy of the table.
PAPER_CONVS = (
    [(7, 64), (3, 192), (1, 128), (3, 256), (1, 256), (3, 512)]
    + [(1, 256), (3, 512)] * 4
    + [(1, 512), (3, 1024)]
    + [(1, 512), (3, 1024)] * 2
    + [(3, 1024)] * 4
)


def _table_params(convs, width=1.0, last_map=7, fc=4096, s=7, b=2, c=20):
    total, cin = 0, 3
    for k, f in convs:
        f = max(1, int(round(f * width)))
        total += k * k * cin * f + f
        cin = f
    return total + last_map * last_map * cin * fc + fc + fc * s * s * (b * 5 + c) + s * s * (b * 5 + c)


def test_paper_table_has_24_convolutions_and_counts():
    assert len(PAPER_CONVS) == 24
    # 60,155,968 convolution parameters + 205,524,992 (FC 4096) + 6,022,590 (FC 1470) = 271,703,550.
    assert _table_params(PAPER_CONVS) == 271_703_550
    assert zoo.registry.entry("yolo_v1").references["num_params"] == 271_703_550


@pytest.mark.slow
def test_yolo_v1_full_size_matches_the_paper_table():
    model = zoo.get("yolo_v1")
    assert tuple(model.get_layer("grid").output.shape) == (None, 7, 7, 30)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 24
    assert model.get_layer("conv24").output.shape[1:3] == (7, 7)
    assert model.count_params() == _table_params(PAPER_CONVS)
    assert model.num_predicted_boxes == 98


def test_small_yolo_v1_count_matches_table_and_leaky_relu():
    model = zoo.get("yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.125, fc_units=32)
    # 112 px / stride 64 -> a 2x2 last map (same padding); S=7 stays (the FC head makes the grid)
    assert tuple(model.get_layer("grid").output.shape) == (None, 7, 7, 13)
    assert model.count_params() == _table_params(PAPER_CONVS, 0.125, last_map=2, fc=32, c=3)
    leaky = [layer for layer in model.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert len(leaky) == 25 and all(abs(layer.negative_slope - 0.1) < 1e-7 for layer in leaky)


def test_fast_yolo_has_nine_convolutions_and_grid_arguments():
    model = zoo.get(
        "fast_yolo_v1", num_classes=6, input_shape=(96, 96, 3), grid_size=4, num_boxes=3, fc_units=16
    )
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == 9
    assert tuple(model.get_layer("grid").output.shape) == (None, 4, 4, 3 * 5 + 5)
    assert model.num_predicted_boxes == 48


# ------------------------------------------------------------------ NumPy reference of equation 3


def _np_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _np_yolo_loss(grid, boxes, classes, valid, size, B, lc=5.0, ln=0.5):
    """Loops over images, cells and predictors, as the equation reads."""
    n, S = grid.shape[0], grid.shape[1]
    C = grid.shape[-1] - 5 * B
    h, w = size
    total = 0.0
    for img in range(n):
        owner = {}
        for g in range(boxes.shape[1]):  # first valid object in a cell is the one it is trained on
            if not valid[img, g] or classes[img, g] < 1:
                continue
            x1, y1, x2, y2 = np.clip(boxes[img, g] / [w, h, w, h], 0, 1)
            if x2 <= x1 or y2 <= y1:
                continue
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            cell = (min(int(cy * S), S - 1), min(int(cx * S), S - 1))
            owner.setdefault(cell, ((x1, y1, x2, y2), cx, cy, classes[img, g]))
        for i in range(S):
            for j in range(S):
                out = grid[img, i, j]
                obj = owner.get((i, j))
                preds = []
                for k in range(B):
                    x, y, sw, sh, conf = out[5 * k : 5 * k + 5]
                    pcx, pcy = (j + x) / S, (i + y) / S
                    pw, ph = sw * sw, sh * sh
                    preds.append(
                        ((pcx - pw / 2, pcy - ph / 2, pcx + pw / 2, pcy + ph / 2), x, y, sw, sh, conf)
                    )
                if obj is None:
                    total += ln * sum(p[5] ** 2 for p in preds)
                    continue
                box, cx, cy, cls = obj
                ious = [_np_iou(p[0], box) for p in preds]
                r = int(np.argmax(ious))
                tx, ty = cx * S - j, cy * S - i
                tw, th = box[2] - box[0], box[3] - box[1]
                for k, (_, x, y, sw, sh, conf) in enumerate(preds):
                    if k == r:
                        total += lc * ((tx - x) ** 2 + (ty - y) ** 2)
                        total += lc * ((np.sqrt(tw) - sw) ** 2 + (np.sqrt(th) - sh) ** 2)
                        total += (ious[k] - conf) ** 2
                    else:
                        total += ln * conf**2
                p = np.zeros(C)
                p[cls - 1] = 1
                total += np.sum((p - out[5 * B :]) ** 2)
    return total / n


@pytest.mark.multibackend
@pytest.mark.parametrize("S,B,C", [(7, 2, 20), (4, 3, 3)])
def test_loss_matches_numpy_equation_on_random_grids(S, B, C, rng):
    size = (S * 16, S * 16)
    n, g = 3, 5
    grid = rng.uniform(-0.2, 1.0, (n, S, S, 5 * B + C)).astype("float32")
    grid[..., [5 * k + 2 for k in range(B)]] = rng.uniform(0.1, 0.8, (n, S, S, B))  # sqrt w
    grid[..., [5 * k + 3 for k in range(B)]] = rng.uniform(0.1, 0.8, (n, S, S, B))  # sqrt h
    xy = rng.uniform(0, size[0] * 0.8, (n, g, 2))
    wh = rng.uniform(4, size[0] * 0.5, (n, g, 2))
    boxes = np.concatenate([xy, xy + wh], -1).astype("float32")
    boxes[0, 1] = boxes[0, 0] + 0.5  # two centres in one cell: only the first trains
    boxes[1, 2] = [-10, -5, 20, 30]  # partly outside: clipped
    classes = rng.integers(1, C + 1, (n, g)).astype("int32")
    valid = rng.uniform(size=(n, g)) > 0.2
    valid[0, :2] = True
    classes[2, 3] = -1  # padding
    t = yolo_targets(boxes, classes, valid, size, S, C)
    got = {k: float(keras.ops.convert_to_numpy(v)) for k, v in yolo_loss(grid, t, B).items()}
    want = _np_yolo_loss(grid.astype("float64"), boxes, classes, valid, size, B)
    assert got["loss"] == pytest.approx(want, rel=1e-4)
    assert got["loss"] == pytest.approx(
        sum(got[k] for k in ("coord_loss", "obj_loss", "noobj_loss", "class_loss"))
    )


def _grad(fn, x):
    """d fn(x) / dx on the current backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return tape.gradient(y, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(fn)(x))
    pytest.skip(f"no gradient check written for backend {backend}")


@pytest.mark.multibackend
def test_class_and_confidence_outputs_get_the_equations_gradient(rng):
    """The gradient of the loss w.r.t. the class and confidence outputs equals the central
    difference of the NumPy equation (exact: the loss is quadratic in them): class outputs of a
    cell with an object get 2 (p - p^) / N, those of empty cells none."""
    S, B, C, n = 4, 2, 3, 2
    size = (64, 64)
    grid = rng.uniform(-0.2, 1.0, (n, S, S, 5 * B + C)).astype("float32")
    grid[..., [2, 3, 7, 8]] = rng.uniform(0.2, 0.8, (n, S, S, 4))
    boxes = np.array([[[2, 2, 30, 20], [40, 36, 60, 62]], [[10, 30, 30, 50], [0, 0, 0, 0]]], "float32")
    classes = np.array([[2, 3], [1, -1]], "int32")
    valid = classes >= 1
    t = yolo_targets(boxes, classes, valid, size, S, C)
    got = _grad(lambda g: yolo_loss(g, t, B)["loss"], grid)
    eps = 1e-3
    for img, i, j in [(0, 0, 1), (0, 3, 3), (1, 2, 1), (1, 0, 0)]:  # three object cells, one empty
        for ch in [4, 9, 10, 11, 12]:  # both confidences and the 3 class outputs
            up, down = grid.astype("float64"), grid.astype("float64")
            up[img, i, j, ch] += eps
            down[img, i, j, ch] -= eps
            want = (_np_yolo_loss(up, boxes, classes, valid, size, B)
                    - _np_yolo_loss(down, boxes, classes, valid, size, B)) / (2 * eps)  # fmt: skip
            assert got[img, i, j, ch] == pytest.approx(want, abs=1e-3), (img, i, j, ch)
    p = grid[0, 0, 1, 10:]
    np.testing.assert_allclose(got[0, 0, 1, 10:], 2 * (p - np.eye(3)[1]) / n, atol=1e-5)
    assert np.all(got[1, 0, 0, 10:] == 0)  # no object in the cell: no class gradient


def test_images_without_objects_give_the_noobj_term_only(rng):
    grid = rng.uniform(-1, 1, (2, 7, 7, 30)).astype("float32")
    t = yolo_targets(
        np.zeros((2, 3, 4), "float32"), -np.ones((2, 3), "int32"), np.zeros((2, 3), bool), (448, 448), 7, 20
    )
    parts = {k: float(keras.ops.convert_to_numpy(v)) for k, v in yolo_loss(grid, t, 2).items()}
    conf = grid[..., [4, 9]]
    assert parts["loss"] == pytest.approx(0.5 * np.sum(conf**2) / 2, rel=1e-5)
    assert parts["coord_loss"] == parts["class_loss"] == parts["obj_loss"] == 0.0


# ------------------------------------------------------------------ decoding and detections


def test_decode_gives_98_boxes_with_class_specific_confidence():
    grid = np.zeros((1, 7, 7, 30), "float32")
    # cell (row 2, col 3): box 1 centred in the cell, 0.25 x 0.5 of the image, confidence 0.8, class 5 (id 6)
    grid[0, 2, 3, 5:10] = [0.5, 0.5, 0.5, np.sqrt(0.5), 0.8]
    grid[0, 2, 3, 10 + 5] = 0.9
    boxes, scores = (keras.ops.convert_to_numpy(v) for v in yolo_decode(grid, (448, 448)))
    assert boxes.shape == (1, 98, 4) and scores.shape == (1, 98, 21)
    idx = (2 * 7 + 3) * 2 + 1
    cx, cy = 3.5 / 7 * 448, 2.5 / 7 * 448
    np.testing.assert_allclose(boxes[0, idx], [cx - 56, cy - 112, cx + 56, cy + 112], atol=1e-3)
    assert scores[0, idx, 6] == pytest.approx(0.72)
    assert np.all(scores[..., 0] == 0)


def test_detect_through_the_shared_api_and_nms():
    model = zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.0625, fc_units=8)
    layer = model.get_layer("fc2")
    kernel, bias = layer.get_weights()
    bias = np.zeros_like(bias).reshape(7, 7, 13)
    # two heavily overlapping class-1 boxes in neighbouring cells, one class-2 box: NMS keeps 2
    bias[3, 3, 0:5] = [0.5, 0.5, 0.6, 0.6, 0.9]
    bias[3, 4, 0:5] = [0.1, 0.5, 0.6, 0.6, 0.8]
    bias[3, 3, 10] = bias[3, 4, 10] = 1.0
    bias[0, 0, 0:5] = [0.5, 0.5, 0.3, 0.3, 0.7]
    bias[0, 0, 11] = 1.0
    layer.set_weights([np.zeros_like(kernel), bias.reshape(-1)])
    images = np.random.default_rng(0).uniform(0, 255, (2, 128, 128, 3)).astype("float32")
    dets = detect(model, images, score_threshold=0.5, iou_threshold=0.5)
    assert list(dets["num_detections"]) == [2, 2]
    assert sorted(dets["classes"][0, :2].tolist()) == [1, 2]
    np.testing.assert_allclose(dets["scores"][0, :2], [0.9, 0.7], atol=1e-5)
    cx = 3.5 / 7 * 128
    np.testing.assert_allclose(
        dets["boxes"][0, 0], [cx - 23.04, cx - 23.04, cx + 23.04, cx + 23.04], atol=1e-2
    )
    # the model's own settings are the defaults of detect_batch
    model.postprocess = {"score_threshold": 0.75}
    dets = model.detect_batch(images[:, :112, :112])
    assert int(dets["num_detections"][0]) == 1 and dets["scores"][0, 0] == pytest.approx(0.9)


# ------------------------------------------------------------------ bad input and training


def test_grid_must_divide_the_input():
    with pytest.raises(ValueError, match="does not divide the 100x100 input"):
        zoo.get("fast_yolo_v1", num_classes=4, input_shape=(100, 100, 3), width=0.0625, fc_units=8)
    with pytest.raises(ValueError, match="positive integer"):
        check_grid((64, 64), 0)
    with pytest.raises(ValueError, match="too small"):
        zoo.get("yolo_v1", input_shape=(56, 56, 3))
    with pytest.raises(ValueError, match="need targets"):
        model = zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.0625, fc_units=8)
        model.compute_loss(y=None, y_pred=np.zeros((1, 7, 7, 13), "float32"))


def test_fit_step_reaches_every_weight_including_empty_images(tmp_path):
    model = zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.0625, fc_units=8)
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    before = [w.copy() for w in model.get_weights()]
    images = np.random.default_rng(1).uniform(0, 255, (2, 112, 112, 3)).astype("float32")
    targets = {
        "boxes": np.array([[[4, 4, 30, 30], [0, 0, 0, 0]], [[0, 0, 0, 0], [0, 0, 0, 0]]], "float32"),
        "classes": np.array([[1, -1], [-1, -1]], "int32"),
        "valid": np.array([[1, 0], [0, 0]], "int32"),  # the second image has no object
    }
    hist = model.fit(images, targets, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    changed = [not np.allclose(a, b) for a, b in zip(before, model.get_weights())]
    assert all(changed), f"{changed.count(False)} weights got no gradient"
    path = tmp_path / "yolo.keras"
    model.save(path)
    again = keras.models.load_model(path)
    assert isinstance(again, YOLOv1) and again.postprocess == model.postprocess
    np.testing.assert_allclose(again(images)["grid"], model(images)["grid"], atol=1e-5)
    # the contract: predict gives detections, model(x) the raw grid
    dets = model.predict(images, verbose=0)
    assert isinstance(model, zoo.detection.base.Detector) and dets["boxes"].shape == (2, 100, 4)


def _recipe(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "recipes" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_batch_norm_option_builds_and_round_trips(tmp_path):
    """Built through the recipe's --model-arg flags (train_detector's build_detector)."""
    from zoo.detection.train import DetectorTrainConfig, build_detector

    parse = _recipe("train_detector").parse_model_args
    kwargs = parse(["batch_norm=true", "fc_units=8"])
    assert kwargs == {"batch_norm": True, "fc_units": 8} and parse(None) is None
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse(["batch_norm"])
    cfg = DetectorTrainConfig(model="fast_yolo_v1", image_size=112, width=0.0625, model_kwargs=kwargs)
    model = build_detector(cfg, num_classes=4)
    assert model.fc_units == 8
    assert model.get_layer("conv1").use_bias is False and model.get_layer("conv1_bn") is not None
    again = YOLOv1.from_config(model.get_config())
    assert again.batch_norm and again.count_params() == model.count_params()


def test_max_stride_keeps_a_last_map_as_fine_as_the_grid():
    model = zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.0625, fc_units=8,
                    max_stride=16)  # fmt: skip
    assert model.get_layer("flatten").input.shape[1:3] == (7, 7)  # 112 / 16; the paper's pools: 2 x 2
    assert [layer.name for layer in model.layers if "pool" in layer.name] == [f"pool{i}" for i in range(1, 5)]
    assert YOLOv1.from_config(model.get_config()).max_stride == 16
    with pytest.raises(ValueError, match="max_stride must be a positive integer"):
        zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), max_stride=0)


FAST_CONVS = [(3, f) for f in (16, 32, 64, 128, 256, 512, 1024, 1024, 1024)]  # darknet's tiny layout


@pytest.mark.parametrize("kernel", [1, 3])
def test_conv_head_shares_one_predictor_over_the_cells(kernel):
    model = zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.0625, max_stride=16,
                    head="conv", head_kernel=kernel)  # fmt: skip
    assert tuple(model.get_layer("grid").output.shape) == (None, 7, 7, 13)
    assert model.get_layer("head_conv").input.shape[1:3] == (7, 7)  # one position per cell
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    # the body's 9 convolutions (with biases) + one k x k convolution 64 -> 2 * 5 + 3, no FC layers
    body = _table_params(FAST_CONVS, 0.0625, fc=0, c=3) - 7 * 7 * 13  # minus the FC bias term
    assert model.count_params() == body + kernel * kernel * 64 * 13 + 13
    again = YOLOv1.from_config(model.get_config())
    assert (again.head, again.head_kernel, again.count_params()) == ("conv", kernel, model.count_params())
    # default: the paper's two FC layers with dropout 0.5; fc_dropout=0 leaves the dropout layer out
    fc = zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.0625, fc_units=8)
    assert fc.head == "fc" and fc.get_layer("fc1_dropout").rate == 0.5
    plain = zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.0625, fc_units=8,
                    fc_dropout=0.0)  # fmt: skip
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)
    assert (
        plain.count_params() == fc.count_params() and YOLOv1.from_config(plain.get_config()).fc_dropout == 0
    )


def test_conv_head_needs_an_s_by_s_last_map_and_a_known_head():
    with pytest.raises(ValueError, match=r"2x2 for fast_yolo_v1 .* use max_stride=16"):
        zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.0625, head="conv")
    with pytest.raises(ValueError, match=r"yolo_v1 .* use max_stride=8"):  # its strided conv counts too
        zoo.get("yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.0625, head="conv")
    with pytest.raises(ValueError, match="head must be one of"):
        zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), head="dense")
    with pytest.raises(ValueError, match="fc_dropout must be a rate"):
        zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), fc_dropout=1.0)
    with pytest.raises(ValueError, match="head_kernel must be a positive odd integer"):
        zoo.get(
            "fast_yolo_v1",
            num_classes=4,
            input_shape=(112, 112, 3),
            max_stride=16,
            head="conv",
            head_kernel=2,
        )


@pytest.mark.slow
def test_one_batch_is_overfitted():
    """The pipeline can learn: 16 shapes images memorised in 300 Adam steps (targets, loss, decoding
    together); measured training-batch mAP 0.80 (He init) vs 0.48 with Glorot (docs/RESULTS.md)."""
    from zoo.data.shapes import shapes_dataset
    from zoo.metrics.detection import DetectionEvaluator

    keras.utils.set_random_seed(0)
    images, targets = next(
        iter(shapes_dataset(num_images=16, image_size=112, max_objects=4, seed=0, batch_size=16))
    )
    images, targets = np.asarray(images), {k: np.asarray(v) for k, v in targets.items()}
    model = zoo.get("fast_yolo_v1", num_classes=4, input_shape=(112, 112, 3), width=0.25, fc_units=256)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    for _ in range(300):
        model.train_on_batch(images, targets)
    evaluator = DetectionEvaluator(4)
    dets = model.detect_batch(images)
    evaluator.update({k: keras.ops.convert_to_numpy(v) for k, v in dets.items()}, targets)
    assert evaluator.result()["voc_map"] > 0.6
