"""FPN detectors on the CPU: time split per image (backbone + FPN / RPN + proposals / RoI heads), zoo vs torchvision.

Both models have the same random weights (the zoo loads torchvision's state_dict), run on the same
640x480 photo resized by torchvision's rule to 800 x 1067 and padded to 800 x 1088; the zoo model is
built for that canvas. Runs alternate (zoo, torchvision, zoo, ...) so that machine load hits both;
the 1-minute load average is read before every run and reported (min / median / max).

    python tools/bench_fpn.py --model fasterrcnn_resnet50_fpn --repeats 3 --json runs/bench_fpn.json
    KERAS_BACKEND=jax python tools/bench_fpn.py --repeats 3     # the zoo pieces under jax.jit

Needs torch and torchvision (``pip install -e ".[torch]"``); prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.modules.setdefault("triton", None)  # torchvision on the CPU needs no triton
import numpy as np  # noqa: E402
import torch  # noqa: E402  (before TensorFlow)
import torchvision  # noqa: E402


def _torch_split(ref, x):
    with torch.no_grad():
        t0 = time.perf_counter()
        images, _ = ref.transform([x])
        feats = ref.backbone(images.tensors)
        t1 = time.perf_counter()
        props, _ = ref.rpn(images, feats)
        t2 = time.perf_counter()
        dets, _ = ref.roi_heads(feats, props, images.image_sizes)
        ref.transform.postprocess(dets, images.image_sizes, [tuple(x.shape[-2:])])
        t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def _zoo_parts(model):
    """Compiled pieces of the zoo model: backbone + FPN, RPN + proposals, RoI heads + decoding."""
    import keras

    backend = keras.backend.backend()

    def compile_(fn):
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.function(fn, autograph=False)
        if backend == "jax":
            import jax

            return jax.jit(fn)
        return fn

    backbone = compile_(lambda x: model.features(x))

    def rpn(feats, sizes):
        logits, deltas = model.rpn_outputs(feats)
        return model.proposals(logits, deltas, image_sizes=sizes)

    def heads(feats, boxes, valid, sizes):
        cls_logits, box_deltas = model.roi_head(feats, boxes)
        raw = {"features": feats, "proposals": boxes, "proposal_valid": valid, "image_sizes": sizes}
        raw.update(class_logits=cls_logits, box_deltas=box_deltas)
        return model.decode_predictions(raw)

    return backbone, compile_(rpn), compile_(heads)


def _zoo_split(parts, model, photo):
    import keras

    backbone, rpn, heads = parts
    t0 = time.perf_counter()
    inputs, meta = model.prepare_images([photo])
    feats = backbone(inputs["images"])
    keras.ops.convert_to_numpy(feats[0])
    t1 = time.perf_counter()
    boxes, _, valid = rpn(feats, inputs["image_sizes"])
    keras.ops.convert_to_numpy(boxes)
    t2 = time.perf_counter()
    dets = heads(feats, boxes, valid, inputs["image_sizes"])
    model.finish_detections({k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in dets.items()}, meta)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fasterrcnn_resnet50_fpn")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (TF uses the machine)")
    parser.add_argument("--json", default=None, help="also write the measurements here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import keras

    import zoo
    from zoo.weights_torch import randomize_torch_model, torchvision_weights

    num_classes = 2 if args.model.startswith("keypoint") else 91
    ref = randomize_torch_model(
        getattr(torchvision.models.detection, args.model)(weights=None, weights_backbone=None)
    )
    with tempfile.TemporaryDirectory() as home:
        os.environ["TORCH_HOME"] = home
        path = Path(home) / "hub" / "checkpoints" / torchvision_weights(args.model, "torchvision").file_name
        path.parent.mkdir(parents=True)
        torch.save(ref.state_dict(), path)
        model = zoo.get(
            args.model, weights="torchvision", num_classes=num_classes, input_shape=(800, 1088, 3)
        )
    photo = np.random.default_rng(0).uniform(0, 255, (480, 640, 3)).astype("float32")
    x = torch.from_numpy(photo.transpose(2, 0, 1) / 255.0)
    parts = _zoo_parts(model)
    _zoo_split(parts, model, photo)  # compile
    _torch_split(ref, x)  # warm up
    rows = {"zoo": [], "torchvision": []}
    loads = []
    for _ in range(args.repeats):
        loads.append(os.getloadavg()[0])
        rows["zoo"].append(_zoo_split(parts, model, photo))
        loads.append(os.getloadavg()[0])
        rows["torchvision"].append(_torch_split(ref, x))
    backend = keras.backend.backend()
    print(
        f"{args.model}, one 640x480 photo -> 800x1067 (canvas 800x1088), {args.repeats} runs, median seconds"
    )
    print(f"{'':22s}{'backbone+FPN':>14s}{'RPN+proposals':>15s}{'RoI heads':>11s}{'total':>9s}")
    medians = {}
    for name, values in rows.items():
        med = np.median(np.asarray(values), axis=0)
        medians[name] = [float(v) for v in med] + [float(med.sum())]
        label = f"zoo ({backend})" if name == "zoo" else "torchvision (eager)"
        print(f"{label:22s}" + "".join(f"{v:>{w}.3f}" for v, w in zip(medians[name], (14, 15, 11, 9))))
    ratio = medians["torchvision"][-1] / medians["zoo"][-1]
    print(f"speed ratio (torchvision time / zoo time): {ratio:.2f}")
    load = {"min": min(loads), "median": float(np.median(loads)), "max": max(loads)}
    print(
        f"1-minute load average before the runs: min {load['min']:.1f}, median {load['median']:.1f}, max {load['max']:.1f}"
    )
    if args.json:
        out = {"model": args.model, "backend": backend, "runs": rows, "medians": medians, "ratio": ratio}
        out["load"] = load
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
