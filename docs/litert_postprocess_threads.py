"""Minimal reproduction: TFLite_Detection_PostProcess drops a class with more than one thread.

Self-contained (TensorFlow 2.21 to build the file, ai-edge-litert to run it; nothing of the zoo).
Builds ``litert_postprocess_threads.tflite`` beside this script: one ``TFLite_Detection_PostProcess``
op (regular NMS, 5 classes, 64 anchors) whose inputs are the model inputs, then runs the same
fixed inputs with 1, 2 and 3 interpreter threads and prints which classes come out.

Expected: the same detections at every thread count. Seen with ai-edge-litert 2.3.0 (x86-64,
XNNPACK default delegate): at 2 threads class 2 (0-based, without background) is missing, at 3
threads class 3; the other classes' detections are unchanged.

Run:
    $ python docs/litert_postprocess_threads.py          # exit status 1 while the bug is present
    $ python docs/litert_postprocess_threads.py --build  # rebuild the .tflite file first
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FILE = HERE / "litert_postprocess_threads.tflite"
NUM_ANCHORS, NUM_CLASSES, MAX_DETECTIONS = 64, 5, 20


def build(path: Path = FILE) -> None:
    """Writes the one-op file (the converter fuses an ``experimental_implements`` function)."""
    import tensorflow as tf

    attrs = {
        "max_detections": ("i", MAX_DETECTIONS),
        "max_classes_per_detection": ("i", 1),
        "detections_per_class": ("i", MAX_DETECTIONS),
        "use_regular_nms": ("b", "true"),
        "nms_score_threshold": ("f", 0.05),
        "nms_iou_threshold": ("f", 0.45),
        "num_classes": ("i", NUM_CLASSES),
        "y_scale": ("f", 10.0),
        "x_scale": ("f", 10.0),
        "h_scale": ("f", 5.0),
        "w_scale": ("f", 5.0),
    }
    text = 'name: "TFLite_Detection_PostProcess" ' + " ".join(
        f'attr {{ key: "{k}" value {{ {t}: {v} }} }}' for k, (t, v) in attrs.items()
    )
    g = np.random.default_rng(0)
    centers = g.uniform(0.1, 0.9, (NUM_ANCHORS, 2))
    anchors = np.concatenate([centers, np.full((NUM_ANCHORS, 2), 0.2)], -1).astype(np.float32)  # yc xc h w

    @tf.function(experimental_implements=text)
    def postprocess(box_encodings, class_predictions, anchors):
        del box_encodings, class_predictions, anchors
        k = MAX_DETECTIONS
        return tf.zeros([1, k, 4]), tf.zeros([1, k]), tf.zeros([1, k]), tf.zeros([1])

    class M(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([1, NUM_ANCHORS, 4], tf.float32, name="box_encodings"),
                tf.TensorSpec([1, NUM_ANCHORS, NUM_CLASSES + 1], tf.float32, name="class_predictions"),
            ]
        )
        def serve(self, box_encodings, class_predictions):
            return postprocess(box_encodings, class_predictions, tf.constant(anchors))

    with tempfile.TemporaryDirectory() as tmp:
        m = M()
        tf.saved_model.save(m, tmp, signatures={"serve": m.serve})
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serve"])
        converter.allow_custom_ops = True
        path.write_bytes(converter.convert())


def run(path: Path = FILE, threads: int = 1, seed: int = 1) -> list[tuple[int, float]]:
    """(class, score) of the detections for fixed random inputs at ``threads`` threads."""
    from ai_edge_litert.interpreter import Interpreter

    g = np.random.default_rng(seed)
    boxes = g.normal(0, 0.5, (1, NUM_ANCHORS, 4)).astype(np.float32)
    logits = g.normal(0, 2, (1, NUM_ANCHORS, NUM_CLASSES + 1))
    scores = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    runner = Interpreter(model_path=str(path), num_threads=threads).get_signature_runner("serve")
    out = runner(box_encodings=boxes, class_predictions=scores)
    # output_0 boxes [1, K, 4], output_1 classes [1, K], output_2 scores [1, K], output_3 count [1]
    num, classes, scores_out = int(out["output_3"][0]), out["output_1"], out["output_2"]
    return [(int(c), round(float(s), 4)) for c, s in zip(classes[0, :num], scores_out[0, :num])]


def main(argv: list[str]) -> int:
    if "--build" in argv or not FILE.exists():
        build()
    ref = run(threads=1)
    status = 0
    for t in (1, 2, 3):
        dets = run(threads=t)
        print(f"{t} thread(s): classes {sorted({c for c, _ in dets})}, {len(dets)} detections")
        if dets != ref:
            missing = sorted({c for c, _ in ref} - {c for c, _ in dets})
            print(f"  differs from 1 thread; classes missing: {missing}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
