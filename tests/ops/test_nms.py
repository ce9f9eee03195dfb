"""Tests of zoo.ops.nms against a plain NumPy greedy NMS."""

import time

import keras
import numpy as np
import pytest

from zoo.ops.nms import batched_nms, non_max_suppression


def np_iou_one(box, boxes):
    iw = np.maximum(0.0, np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]))
    ih = np.maximum(0.0, np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]))
    inter = iw * ih
    area = lambda b: np.maximum(0.0, b[..., 2] - b[..., 0]) * np.maximum(0.0, b[..., 3] - b[..., 1])  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def np_nms(boxes, scores, max_out, iou_thr, score_thr=-np.inf):
    """Reference: sort by score (stable: ties keep lower index first), keep, drop IoU > thr, repeat."""
    boxes = np.asarray(boxes, np.float64)
    order = [i for i in np.argsort(-np.asarray(scores), kind="stable") if scores[i] > score_thr]
    keep = []
    while order and len(keep) < max_out:
        i = order.pop(0)
        keep.append(i)
        if order:
            ious = np_iou_one(boxes[i], boxes[order])
            order = [j for j, o in zip(order, ious) if o <= iou_thr]
    return keep


def random_boxes(rng, n, size=64.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(2, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], -1).astype(np.float32)


def as_np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.multibackend
@pytest.mark.parametrize("thr", [0.3, 0.6])
def test_nms_matches_numpy_on_random_boxes(thr):
    rng = np.random.default_rng(int(thr * 10))
    boxes = np.stack([random_boxes(rng, 60) for _ in range(4)])
    scores = rng.uniform(size=(4, 60)).astype(np.float32)
    refs = [np_nms(boxes[i], scores[i], 60, thr) for i in range(4)]
    max_out = max(len(r) for r in refs) + 2
    idx, num = non_max_suppression(boxes, scores, max_out, iou_threshold=thr)
    for i, ref in enumerate(refs):
        assert int(as_np(num)[i]) == len(ref)
        np.testing.assert_array_equal(as_np(idx)[i, : len(ref)], ref)
        assert np.all(as_np(idx)[i, len(ref) :] == -1)


@pytest.mark.multibackend
def test_nms_ties_zero_area_degenerate_and_thresholds():
    rng = np.random.default_rng(7)
    boxes = random_boxes(rng, 40)
    boxes[5] = [10, 10, 10, 10]  # zero area
    boxes[6] = [10, 10, 10, 10]  # identical zero-area box: IoU 0, both kept
    boxes[7] = [30, 30, 20, 20]  # inverted
    boxes[8] = boxes[9]  # identical boxes with tied scores: the lower index wins
    scores = np.round(rng.uniform(size=40), 1).astype(np.float32)  # many ties
    scores[8] = scores[9] = 0.95
    idx, num = non_max_suppression(boxes, scores, 10, iou_threshold=0.4, score_threshold=0.25)
    ref = np_nms(boxes, scores, 10, 0.4, 0.25)
    assert int(num) == len(ref)
    np.testing.assert_array_equal(as_np(idx)[: len(ref)], ref)
    assert 8 in ref and 9 not in ref


@pytest.mark.multibackend
def test_nms_empty_inputs_and_batched():
    idx, num = non_max_suppression(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), 5)
    assert int(num) == 0 and list(as_np(idx)) == [-1] * 5
    rng = np.random.default_rng(1)
    boxes = np.stack([random_boxes(rng, 30), random_boxes(rng, 30)])
    scores = rng.uniform(size=(2, 30)).astype(np.float32)
    scores[1] = 0.1  # all below threshold in image 1
    idx, num = non_max_suppression(boxes, scores, 8, iou_threshold=0.5, score_threshold=0.2)
    assert as_np(idx).shape == (2, 8)
    ref = np_nms(boxes[0], scores[0], 8, 0.5, 0.2)
    np.testing.assert_array_equal(as_np(idx)[0, : len(ref)], ref)
    assert as_np(num).tolist() == [len(ref), 0]
    assert np.all(as_np(idx)[1] == -1)


def np_batched_nms(boxes, scores, max_det, iou_thr, score_thr, bg=0):
    """Reference per-class NMS for one image: boxes [N, 4], scores [N, C]."""
    dets = []
    for c in range(scores.shape[1]):
        if c == bg:
            continue
        for i in np_nms(boxes, scores[:, c], len(boxes), iou_thr, score_thr):
            dets.append((scores[i, c], c, i))
    dets.sort(key=lambda d: -d[0])
    return dets[:max_det]


@pytest.mark.multibackend
def test_batched_nms_per_class_matches_numpy():
    rng = np.random.default_rng(3)
    n, c = 50, 4
    boxes = np.stack([random_boxes(rng, n), random_boxes(rng, n)])
    scores = rng.uniform(size=(2, n, c)).astype(np.float32)
    scores[1] = 0.0  # nothing above threshold in image 1
    out = batched_nms(
        boxes, scores, max_detections=30, iou_threshold=0.5, score_threshold=0.3, pre_nms_top_k=None
    )
    assert as_np(out["boxes"]).shape == (2, 30, 4)
    assert as_np(out["classes"]).dtype == np.int32 and as_np(out["num_detections"]).dtype == np.int32
    ref = np_batched_nms(boxes[0], scores[0], 30, 0.5, 0.3)
    k = int(as_np(out["num_detections"])[0])
    assert k == len(ref)
    np.testing.assert_allclose(as_np(out["scores"])[0, :k], [d[0] for d in ref], rtol=1e-6)
    np.testing.assert_array_equal(as_np(out["classes"])[0, :k], [d[1] for d in ref])
    np.testing.assert_allclose(as_np(out["boxes"])[0, :k], boxes[0][[d[2] for d in ref]])
    assert 0 not in as_np(out["classes"])[0, :k]
    assert int(as_np(out["num_detections"])[1]) == 0
    assert np.all(as_np(out["classes"])[1] == -1) and np.all(as_np(out["scores"])[1] == 0)


def test_batched_nms_per_class_boxes_and_class_agnostic():
    boxes = np.array([[[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]]], np.float32)
    scores = np.array([[[0.0, 0.9, 0.1], [0.0, 0.2, 0.8], [0.0, 0.7, 0.0]]], np.float32)
    per_class = batched_nms(boxes, scores, max_detections=5, iou_threshold=0.5, score_threshold=0.05)
    # class 1: boxes 0 (0.9) and 2 (0.7) (box 1's 0.2 suppressed by box 0); class 2: box 1 (0.8), box 0 (0.1) suppressed.
    np.testing.assert_allclose(as_np(per_class["scores"])[0], [0.9, 0.8, 0.7, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(as_np(per_class["classes"])[0], [1, 2, 1, -1, -1])
    agnostic = batched_nms(boxes, scores, max_detections=5, iou_threshold=0.5, class_agnostic=True)
    np.testing.assert_allclose(as_np(agnostic["scores"])[0], [0.9, 0.7, 0, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(as_np(agnostic["classes"])[0], [1, 1, -1, -1, -1])
    pcb = np.repeat(boxes[:, :, None, :], 3, axis=2)
    pcb[0, 1, 2] = [50, 50, 60, 60]  # class-2 box of candidate 1 moved away: no longer overlaps
    out = batched_nms(pcb, scores, max_detections=5, iou_threshold=0.5, score_threshold=0.05)
    np.testing.assert_array_equal(as_np(out["classes"])[0, :4], [1, 2, 1, 2])
    np.testing.assert_allclose(as_np(out["boxes"])[0, 1], [50, 50, 60, 60])


def test_batched_nms_errors():
    with pytest.raises(ValueError, match=r"scores \[B, N, C\]"):
        batched_nms(np.zeros((1, 3, 4)), np.zeros((1, 3)), max_detections=2)
    with pytest.raises(ValueError, match="iou_threshold"):
        batched_nms(np.zeros((1, 3, 4)), np.zeros((1, 3, 2)), max_detections=2, iou_threshold=1.5)
    with pytest.raises(ValueError, match="max_output_size"):
        non_max_suppression(np.zeros((3, 4)), np.zeros((3,)), 0)
    with pytest.raises(ValueError, match="background_class"):
        batched_nms(np.zeros((1, 3, 4)), np.zeros((1, 3, 2)), max_detections=2, background_class=5)


@pytest.mark.slow
def test_nms_8732x21_timing():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, 8732, 300)[None]
    scores = rng.uniform(size=(1, 8732, 21)).astype(np.float32)
    fn = tf.function(
        lambda b, s: batched_nms(b, s, max_detections=200, iou_threshold=0.45, score_threshold=0.01)
    )
    fn(boxes, scores)
    t = time.perf_counter()
    for _ in range(3):
        fn(boxes, scores)
    assert (time.perf_counter() - t) / 3 < 5.0


def compiled(fn, signature=None):
    """fn under the backend's compiler (jax.jit, or tf.function with an unknown batch size)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn, input_signature=signature)


@pytest.mark.multibackend
def test_nms_and_matching_compile_on_the_backend():
    from zoo.ops.anchors import grid_anchors
    from zoo.ops.matching import assign_targets, hard_negative_mining, sample_balanced

    rng = np.random.default_rng(5)
    boxes = random_boxes(rng, 30)[None]
    scores = rng.uniform(size=(1, 30, 3)).astype(np.float32)
    import tensorflow as tf

    fn = compiled(
        lambda b, s: batched_nms(b, s, max_detections=8, iou_threshold=0.5, score_threshold=0.2),
        [tf.TensorSpec([None, 30, 4]), tf.TensorSpec([None, 30, 3])],
    )
    out, eager = (
        fn(boxes, scores),
        batched_nms(boxes, scores, max_detections=8, iou_threshold=0.5, score_threshold=0.2),
    )
    for k in eager:
        np.testing.assert_allclose(as_np(out[k]), as_np(eager[k]), rtol=1e-6)
    anchors = grid_anchors(4, 16, sizes=(16, 32), ratios=(1.0,))
    gt = np.array([[[0, 0, 20, 20], [30, 30, 60, 60], [0, 0, 0, 0]]], np.float32)

    def targets(gt_boxes, loss):
        t = assign_targets(anchors, gt_boxes, np.array([[1, 2, -1]]), np.array([[True, True, False]]))
        neg = hard_negative_mining(loss, t["positive"], t["negative"])
        ps, ns = sample_balanced(t["positive"], t["negative"], num_samples=8, positive_fraction=0.5, seed=0)
        return t["classes"], neg, ps, ns

    loss = rng.uniform(size=(1, len(anchors))).astype(np.float32)
    cls, neg, ps, ns = compiled(targets)(gt, loss)
    npos = int((as_np(cls) > 0).sum())
    assert npos >= 2 and int(as_np(neg).sum()) == min(3 * npos, int((as_np(cls) == 0).sum()))
    assert int(as_np(ps).sum()) == min(npos, 4) and int(as_np(ns).sum()) == 8 - int(as_np(ps).sum())


@pytest.mark.slow
def test_batched_nms_converts_to_tflite_with_builtin_ops():
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    if keras.backend.backend() != "tensorflow":
        pytest.skip("TFLite conversion needs the TensorFlow backend")
    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, 100)[None]
    scores = rng.uniform(size=(1, 100, 4)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 100, 4]), tf.TensorSpec([1, 100, 4])])
    def fn(b, s):
        out = batched_nms(b, s, max_detections=20, iou_threshold=0.5, score_threshold=0.3, pre_nms_top_k=50)
        return out["boxes"], out["scores"], out["num_detections"]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    ins, outs = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.set_tensor(ins[0]["index"], boxes)
    interpreter.set_tensor(ins[1]["index"], scores)
    interpreter.invoke()
    got = sorted((interpreter.get_tensor(o["index"]) for o in outs), key=lambda v: v.ndim)
    ref = [t.numpy() for t in fn(boxes, scores)]
    ref = sorted(ref, key=lambda v: v.ndim)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5)
