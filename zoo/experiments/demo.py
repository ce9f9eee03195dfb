"""``make demo``: the zoo end to end, offline, in a few minutes on 2 CPU cores.

1. Lists the zoo and builds a classifier, classifying a generated image.
2. Runs the crocodile (head-swap) transfer-learning demo on scikit-learn's digits
   (body trained on digits 0-4, new head for 5-9), with its learning-curve report and plot.
3. Exports the fine-tuned model to LiteRT (.tflite) and checks it against Keras.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

#: The demo's goal: head swap ahead of training from scratch at 10 examples per class by this many
#: points (measured +18.7 to +22.9 over seeds; the course's target, 20 points, sits at the threshold).
DEMO_GOAL_POINTS = 10.0


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def _generated_image(size: int = 224, seed: int = 0) -> np.ndarray:
    """A synthetic RGB test card: gradient background with a disc and a square."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype("float32") / size
    img = np.stack([xx, yy, 1 - xx], axis=-1) * 255
    disc = (xx - 0.35) ** 2 + (yy - 0.4) ** 2 < 0.04
    img[disc] = (230, 40, 40)
    img[int(size * 0.55) : int(size * 0.85), int(size * 0.55) : int(size * 0.85)] = (40, 200, 60)
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype("uint8")


def run_demo(workdir: str | Path = "runs/demo", quick: bool = False) -> dict[str, Any]:
    """Runs the demo steps and returns what each produced."""
    import zoo

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    start, cpu_start = time.time(), time.process_time()

    _banner("The zoo")
    for task in ("classification", "detection", "segmentation", "text"):
        names = zoo.list_models(task=task)
        print(f"{task:15s} {len(names):2d}: {', '.join(names)}")

    _banner("Build VGG11 (configuration A) at 64x64, 10 untrained classes, and classify a generated image")
    from PIL import Image

    from zoo.utils.images import read_image

    image_path = workdir / "test_card.png"
    Image.fromarray(_generated_image()).save(image_path)
    model = zoo.get("vgg11", weights=None, classes=10, input_shape=(64, 64, 3))
    pixels = read_image(image_path, (64, 64)).astype("float32")[None]
    probs = np.asarray(model.predict(zoo.preprocess("vgg11")(pixels), verbose=0))[0]
    print(
        f"{model.name}: {model.count_params():,} parameters; top class {int(probs.argmax())} (p={probs.max():.3f})"
    )
    result["classifier"] = {"model": model.name, "top_class": int(probs.argmax())}

    _banner("Crocodile learning: body trained on digits 0-4, new head for digits 5-9")
    from zoo.experiments.digits_transfer import run_digits_demo

    report = run_digits_demo(workdir / "crocodile", quick=quick)
    print(report["table"])
    goal = report.get("goal")
    if goal:
        demo_goal = goal["margin_points"] >= DEMO_GOAL_POINTS
        print(
            f"10 examples per class: head swap {100 * goal['head_swap']:.1f}% vs from scratch "
            f"{100 * goal['from_scratch']:.1f}% ({goal['margin_points']:+.1f} points). Demo goal, head swap "
            f"ahead by >= {DEMO_GOAL_POINTS:.0f} points: {'met' if demo_goal else 'NOT met'}. The course's "
            f">= 20 points (at its threshold on one seed; 3 seeds: +21.3, docs/RESULTS.md): "
            f"{'met' if goal['met'] else 'not met'}"
        )
        goal = {**goal, "demo_target_points": DEMO_GOAL_POINTS, "demo_met": bool(demo_goal)}
    print(
        f"report: {workdir / 'crocodile' / 'report.json'}; plot: {workdir / 'crocodile' / 'learning_curve.png'}"
    )
    result["crocodile"] = {"goal": goal, "report": str(workdir / "crocodile" / "report.json")}

    _banner("Export the fine-tuned model to LiteRT (float16) and check it against Keras")
    from zoo.export import export_model

    tflite_path = workdir / "crocodile.tflite"
    exported = export_model(
        report["fine_tuned_model"],
        tflite_path,
        quantize="float16",
        fold_preprocessing=True,
        preprocess="unit",
        labels=[str(d) for d in range(5, 10)],
        task="classification",
        verify_images=_digit_images(report),
        num_verify=50,
        latency_runs=0 if quick else 10,
        force=True,
        verbose=False,
    )
    print(exported.report.table())
    result["tflite"] = {"path": str(exported.path), "metrics": exported.report.metrics}
    result["seconds"] = time.time() - start
    result["cpu_seconds"] = time.process_time() - cpu_start
    print(
        f"\nDone in {result['seconds'] / 60:.1f} min wall, {result['cpu_seconds'] / 60:.1f} min CPU. "
        f"Everything is under {workdir}/"
    )
    return result


def _digit_images(report: dict[str, Any]) -> np.ndarray:
    """The crocodile demo's held-out target digits as uint8 RGB, to verify the export on."""
    from zoo.data.digits import load_digits_split

    data = load_digits_split(variant=report["variant"])
    grey = np.clip(np.rint(data["test_x"] * 255), 0, 255).astype("uint8")
    return np.repeat(grey, 3, axis=-1)
