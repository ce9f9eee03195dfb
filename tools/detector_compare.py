"""Compare trained detectors (e.g. YOLO v1 vs SSD) on shapes: mAP, recall on a shared-cell split, CPU FPS.

Each ``--run`` is the workdir of a finished ``recipes/train_detector.py`` run on ``--data shapes``;
the model is rebuilt from its ``report.json`` config and ``last.weights.h5``. For every model:

- mAP@0.5 (VOC all-point, ``zoo.metrics``), the class-agnostic mAP@0.5 of the same detections, and
  class-agnostic recall at IoU 0.5 of the detections with score >= each ``--score``
  (``zoo.detection.proposals.proposal_recall``) on the normal held-out split (the recipe's validation images) and on the shared-cell split (``zoo.data.shapes``
  ``shared_cell_grid``: pairs of shapes whose centres fall in one cell of the S x S grid, the case
  YOLO v1 cannot represent: one object per cell);
- detection frames per second at batch 1 (forward + decoding + NMS, ``detect_batch``, median of
  ``--repeats``), the models timed in turn within each round so that they share the machine's load.

Writes ``compare.json`` and ``shared_cell.png`` (each model's detections on the same shared-cell
images) in ``--out``.

Example:
    python tools/detector_compare.py --run runs/i16_fast_yolo112 --run runs/i16_ssd112 --out runs/i16_compare
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def load_run(workdir: str | Path) -> tuple[Any, dict[str, Any]]:
    """(model with the run's last weights, the run's report) of a finished detector run."""
    from zoo.detection.train import DetectorTrainConfig, build_detector

    workdir = Path(workdir)
    report_path = workdir / "report.json"
    if not report_path.is_file():
        raise ValueError(f"{workdir} has no report.json; pass the workdir of a finished train_detector run")
    report = json.loads(report_path.read_text())
    cfg = DetectorTrainConfig(**{**report["config"], "weights": None})
    model = build_detector(cfg, report["num_classes"])
    model.load_weights(workdir / "last.weights.h5")
    return model, report


def split_scores(
    model: Any, dataset: Any, class_names: Any, score: float | Sequence[float]
) -> dict[str, Any]:
    """mAP (model's own thresholds, as the recipe), the class-agnostic mAP of the same detections
    (are the boxes or the classes wrong?) and recall@0.5 of the detections scoring >= each
    ``score`` (``recall50``: one number for one score, else {score: recall})."""
    import keras

    from zoo.detection.proposals import proposal_recall
    from zoo.detection.train import evaluate_detector
    from zoo.metrics.detection import DetectionEvaluator

    metrics = evaluate_detector(model, dataset, class_names, progress=False)
    agnostic = DetectionEvaluator(2, class_names=["background", "object"])
    for images, targets in dataset:  # the same detections with every class set to "object"
        d = {k: keras.ops.convert_to_numpy(v) for k, v in model.detect_batch(images).items()}
        t = {k: np.asarray(v) for k, v in targets.items()}
        agnostic.update({**d, "classes": np.where(d["classes"] > 0, 1, d["classes"])},
                        {**t, "classes": np.where(t["classes"] > 0, 1, t["classes"])})  # fmt: skip
    thresholds = [float(score)] if np.isscalar(score) else [float(v) for v in score]
    recalls, per_image = {}, {}
    for t in thresholds:
        dets, gts = [], []
        for images, targets in dataset:
            d = model.detect_batch(images, score_threshold=t)
            d = {k: keras.ops.convert_to_numpy(v) for k, v in d.items()}
            for i in range(len(d["boxes"])):
                n = int(d["num_detections"][i])
                dets.append(d["boxes"][i, :n])
                gts.append(np.asarray(targets["boxes"][i])[np.asarray(targets["valid"][i], bool)])
        recalls[t] = float(proposal_recall(dets, gts, counts=(100,), iou_thresholds=(0.5,))[0.5][100])
        per_image[t] = float(np.mean([len(d) for d in dets]))
    one = len(thresholds) == 1
    return {
        "voc_map": float(metrics["voc_map"]),
        "class_agnostic_voc_map": float(agnostic.result()["voc_map"]),
        "recall50": recalls[thresholds[0]] if one else {str(t): r for t, r in recalls.items()},
        "num_objects": int(sum(len(g) for g in gts)),
        "detections_per_image": per_image[thresholds[0]]
        if one
        else {str(t): v for t, v in per_image.items()},
    }


def yolo_target_coverage(dataset: Any, image_size: int, grid_size: int = 7) -> float:
    """Fraction of the ground-truth objects that YOLO v1's targets keep (one object per cell): the
    recall a perfectly trained YOLO v1 reaches when each cell's second box is never used."""
    from zoo.detection.yolo import yolo_targets

    kept, total = 0.0, 0
    for _, targets in dataset:
        t = yolo_targets(
            targets["boxes"], targets["classes"], targets["valid"], (image_size, image_size), grid_size, 3
        )
        kept += float(np.sum(np.asarray(t["obj"])))
        total += int(np.sum(np.asarray(targets["valid"])))
    return kept / max(total, 1)


def interleaved_fps(
    models: dict[str, Any], image_size: int, repeats: int, warmup: int = 3
) -> dict[str, float]:
    """Batch-1 detection FPS of each model, timed in alternation (median per model)."""
    from zoo.utils.timing import time_once

    x = np.random.default_rng(0).uniform(0, 255, (1, image_size, image_size, 3)).astype("float32")
    for model in models.values():
        for _ in range(warmup):
            model.detect_batch(x)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            times[name].append(time_once(lambda m=model: m.detect_batch(x)))
    return {name: 1.0 / float(np.median(t)) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", action="append", required=True, help="workdir of a finished shapes run (repeat)")
    p.add_argument("--out", default="runs/detector_compare")
    p.add_argument("--images", type=int, default=200, help="images per split")
    p.add_argument("--score", type=float, nargs="+", default=[0.3], help="score threshold(s) of the recall")
    p.add_argument("--grid", type=int, default=7, help="S of the shared-cell split")
    p.add_argument("--repeats", type=int, default=30, help="timed rounds for the FPS")
    args = p.parse_args(argv)

    import keras

    from zoo.data.shapes import CLASS_NAMES, shapes_dataset
    from zoo.detection.visualize import save_detections_png
    from zoo.utils.io import atomic_write_json

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models, reports = {}, {}
    for run in args.run:
        model, report = load_run(run)
        if report["config"]["data"] != "shapes":
            raise ValueError(
                f"{run}: trained on {report['config']['data']!r}; this comparison needs --data shapes"
            )
        name = Path(run).name  # the run's folder: two runs of one model stay apart
        models[name], reports[name] = model, report
    sizes = {r["config"]["image_size"] for r in reports.values()}
    if len(sizes) != 1:
        raise ValueError(f"the runs use different image sizes {sorted(sizes)}; compare runs of one size")
    size = sizes.pop()
    cfg = next(iter(reports.values()))["config"]
    common = dict(num_images=args.images, image_size=size, batch_size=8, max_objects=cfg["max_objects"])
    splits = {
        "normal": shapes_dataset(seed=cfg["seed"] + 1_000_003, **common),  # the recipe's validation images
        "shared_cell": shapes_dataset(seed=cfg["seed"] + 2_000_003, shared_cell_grid=args.grid, **common),
    }
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "backend": keras.backend.backend(),
        "image_size": size,
        "score_threshold_recall": args.score,
        "models": {},
    }
    result["yolo_target_coverage"] = {
        split: round(yolo_target_coverage(ds, size, args.grid), 4) for split, ds in splits.items()
    }
    print("objects YOLO v1's targets keep:", result["yolo_target_coverage"], flush=True)
    for name, model in models.items():
        entry = {
            "model": reports[name]["config"]["model"],
            "num_params": int(model.count_params()),
            "runs": reports[name]["config"]["workdir"],
        }
        for split, ds in splits.items():
            entry[split] = split_scores(model, ds, CLASS_NAMES, args.score)
            print(name, split, entry[split], flush=True)
        result["models"][name] = entry
    fps = interleaved_fps(models, size, args.repeats)
    for name, value in fps.items():
        result["models"][name]["fps_batch1"] = round(value, 2)
    names = list(models)
    if len(names) == 2:
        result["fps_ratio"] = {f"{names[0]}/{names[1]}": round(fps[names[0]] / fps[names[1]], 3)}
    result["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    images, targets = next(iter(splits["shared_cell"]))
    for name, model in models.items():
        dets = model.detect_batch(images[:4], score_threshold=args.score[0])
        save_detections_png(
            np.asarray(images[:4]), {k: keras.ops.convert_to_numpy(v) for k, v in dets.items()},
            out / f"shared_cell_{name}.png", class_names=CLASS_NAMES,
            ground_truth={k: np.asarray(v)[:4] for k, v in targets.items()},
            title=f"{name} on the shared-cell split (score >= {args.score[0]}; dashed: ground truth)",
        )  # fmt: skip
    atomic_write_json(out / "compare.json", result)
    print(json.dumps({n: {k: v for k, v in e.items() if k != "runs"} for n, e in result["models"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
