"""Benchmark: Keras vs LiteRT float32 / float16 / int8 (latency, size, agreement), one table.

For each registered model of the list (AlexNet, VGG16, ResNet-50, Inception v3, SSD300-VGG16;
missing names are skipped) at its paper input size, with random weights (no network here, and
latency and size do not depend on the weight values):

* Keras: ``model.predict_on_batch`` on one image (TensorFlow, all cores), warm-up excluded;
* LiteRT: the ``zoo.export`` files (float32, float16, int8 full-integer calibrated on photo
  crops, preprocessing folded in) with the ai-edge-litert interpreter (XNNPACK), 1 and 2 threads;
* size of each file, and agreement with Keras (max abs error / top-1 / mAP@0.5).

Then the int8 top-1 goal on real images, which needs a trained classifier: a small CNN trained
for a few epochs to tell apart 12 regions (3 photographs x 4 quadrants) from random crops of
the photographs bundled with scikit-learn / matplotlib, exported to int8 and compared with Keras
on held-out crops.

Writes ``<out>/results.json`` and ``<out>/table.md``. The machine is shared: run it niced, with
few runs, and read the numbers as indicative.

Example:
    $ nice -n 10 python tools/bench_litert.py --runs 5 --out runs/bench_litert
    $ python tools/bench_litert.py --models alexnet --size 96 --runs 2   # quick smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo.utils.timing import time_call

# Smallest first, so that a run cut short still has the most rows.
DEFAULT_MODELS = ("alexnet", "resnet50", "inception_v3", "ssd300_vgg16", "vgg16")


def keras_latency(model, x: np.ndarray, runs: int) -> dict[str, float]:
    """Median / p90 ms of ``predict_on_batch`` on one image, 2 warm-up calls excluded.

    For detectors this is the network only (raw class logits and box offsets): the zoo's
    post-processing is eager NumPy-facing code in ``detect_batch``; the LiteRT numbers include
    decoding and NMS, so the detector speed-up is a lower bound.
    """
    t = time_call(lambda: model.predict_on_batch(x), repeats=runs, warmup=2)
    return {"median": t["median_ms"], "p90": t["p90_ms"]}


def bench_model(
    name: str, size: int | None, runs: int, calibration: int, verify: int, workdir: Path
) -> list[dict]:
    import zoo
    from zoo.export.litert import export_model
    from zoo.preprocessing import preprocess_input
    from zoo.registry import entry

    e = entry(name)
    h = size or e.input_shape[0]
    kwargs = {"input_shape": (h, h, 3)}
    detection = e.task == "detection"
    model = zoo.get(name, **kwargs)
    labels = [f"class{i}" for i in range(int(model.num_classes))] if detection else None
    x = np.random.default_rng(0).uniform(0, 255, (1, h, h, 3)).astype(np.float32)
    xk = np.asarray(preprocess_input(x, mode=e.preprocess or "none"))
    rows = [
        {
            "model": name,
            "variant": "keras",
            "note": "network only, no NMS" if detection else "",
            "size_mb": model.count_params() * 4 / 2**20,
            "latency_ms": {"keras": keras_latency(model, xk, runs)},
            "agreement": {},
        }
    ]
    print(f"{name}: keras {rows[0]['latency_ms']['keras']['median']:.1f} ms", flush=True)
    for q in ("none", "float16", "int8"):
        path = workdir / f"{name}_{q}.tflite"
        t0 = time.perf_counter()
        r = export_model(
            model,
            path,
            quantize=q,
            representative="photos",
            num_calibration=calibration,
            fold_preprocessing=True,
            labels=labels,
            num_verify=verify,
            latency_runs=runs,
            force=True,
            verbose=False,
            task=e.task,
        )
        rows.append(
            {
                "model": name,
                "variant": {"none": "litert float32"}.get(q, f"litert {q}"),
                "size_mb": path.stat().st_size / 2**20,
                "latency_ms": r.report.latency_ms,
                "agreement": r.report.metrics,
                "convert_s": time.perf_counter() - t0,
            }
        )
        print(
            f"{name}: {q} {path.stat().st_size / 2**20:.1f} MiB {r.report.latency_ms} {r.report.metrics}",
            flush=True,
        )
        path.unlink()
    return rows


def train_photo_regions(n_train: int, n_test: int, epochs: int):
    """A small CNN trained to tell 12 photo regions apart: (model, train images, test images, test acc)."""
    import keras

    from zoo.export.representative import bundled_photo_paths

    size = 64
    photos = bundled_photo_paths()

    def crops(n, seed):
        from PIL import Image

        rng = np.random.default_rng(seed)
        images, labels = np.empty((n, size, size, 3), np.uint8), np.empty(n, np.int32)
        opened = [Image.open(p).convert("RGB") for p in photos]
        for i in range(n):
            k = int(rng.integers(len(opened)))
            img = opened[k]
            w, h = img.size
            qx, qy = int(rng.integers(2)), int(rng.integers(2))
            cw, ch = int(w / 2 * rng.uniform(0.4, 0.9)), int(h / 2 * rng.uniform(0.4, 0.9))
            x0 = qx * w // 2 + int(rng.integers(0, w // 2 - cw + 1))
            y0 = qy * h // 2 + int(rng.integers(0, h // 2 - ch + 1))
            images[i] = np.asarray(img.crop((x0, y0, x0 + cw, y0 + ch)).resize((size, size), Image.BILINEAR))
            labels[i] = k * 4 + qy * 2 + qx
        return images, labels

    xtr, ytr = crops(n_train, 0)
    xte, yte = crops(n_test, 99)
    keras.utils.set_random_seed(0)
    inp = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
    for f in (16, 32, 64):
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(4 * len(photos), activation="softmax")(x)
    model = keras.Model(inp, out, name="photo_regions")
    model.zoo_preprocess = "none"  # the Rescaling layer is in the model
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xtr.astype("float32"), ytr, epochs=epochs, batch_size=32, verbose=2)
    acc = float(model.evaluate(xte.astype("float32"), yte, verbose=0)[1])
    return model, xtr, xte, acc


def trained_int8_agreement(n_train: int, n_test: int, epochs: int, workdir: Path) -> dict:
    """Top-1 agreement int8 vs Keras of a small CNN trained on 12 photo regions (real images)."""
    from zoo.export.litert import export_model

    model, xtr, xte, acc = train_photo_regions(n_train, n_test, epochs)
    path = workdir / "photo_regions_int8.tflite"
    r = export_model(
        model,
        path,
        quantize="int8",
        representative=xtr,
        num_calibration=300,
        fold_preprocessing=True,
        verify_images=xte,
        num_verify=n_test,
        latency_runs=0,
        force=True,
        verbose=False,
    )
    f32 = export_model(model, workdir / "photo_regions_f32.tflite", force=True, verify=False, verbose=False)
    return {
        "keras_test_accuracy": acc,
        "int8_top1_agreement": r.report.metrics["top-1 agreement"],
        "num_test_images": n_test,
        "size_ratio_f32_over_int8": f32.path.stat().st_size / path.stat().st_size,
    }


QUANTS = ("none", "float16", "dynamic", "int8")


def _train_shapes_unet(workdir: Path, size: int, epochs: int):
    from zoo.segmentation.train import SegmentationConfig, train

    cfg = SegmentationConfig(
        model="unet",
        data="shapes",
        image_size=size,
        batch_size=16,
        train_images=256,
        val_images=32,
        filters=8,
        depth=3,
        epochs=epochs,
        verbose=0,
        grid_rows=2,
        workdir=str(workdir / "unet"),
    )
    train(cfg)
    return workdir / "unet" / "model.keras"


def _train_shapes_ssd(workdir: Path, size: int, epochs: int, steps: int = 40):
    from zoo.detection.train import DetectorTrainConfig, build_detector, train_detector

    cfg = DetectorTrainConfig(
        model="ssd_vgg16",
        data="shapes",
        image_size=size,
        epochs=epochs,
        steps_per_epoch=steps,
        batch_size=16,
        width=0.125,
        val_images=32,
        workdir=str(workdir / "ssd"),
    )
    report = train_detector(cfg, verbose=0)
    model = build_detector(cfg, num_classes=4)
    del report
    model.load_weights(workdir / "ssd" / "last.weights.h5")
    model.zoo_preprocess = "none"  # SSD subtracts the VGG mean inside
    return model


def device_rows(
    workdir: Path,
    runs: int,
    verify: int,
    calibration: int,
    epochs: int,
    only: Sequence[str] = ("classifier", "ssd", "unet"),
    ssd_steps: int = 40,
) -> list[dict]:
    """Per quantization, for a trained classifier, the shapes SSD and the shapes U-Net: MediaPipe vs Keras
    agreement (MediaPipe resizes photos twice the model size; Keras and LiteRT get MediaPipe's resize),
    file size, LiteRT latency at 1 and 2 threads and Keras latency."""
    import keras

    from zoo.export.litert import export_model
    from zoo.export.representative import load_images, resize_images

    cases = []
    if "classifier" in only:
        classifier, xtr, _, acc = train_photo_regions(1200, 100, epochs)
        print(f"classifier trained: test accuracy {acc:.3f}", flush=True)
        cases.append(("photo-regions classifier (trained)", classifier, "photos", xtr, {}))
    if "ssd" in only:
        ssd = _train_shapes_ssd(workdir, 96, max(1, epochs), ssd_steps)
        print("shapes SSD trained", flush=True)
        det = {"labels": ["circle", "square", "triangle"], "detection_options": {"score_threshold": 0.1}}
        cases.append(("shapes SSD (ssd_vgg16 width 0.125)", ssd, "synthetic", "synthetic", det))
    if "unet" in only:
        unet = _train_shapes_unet(workdir, 64, max(2, epochs))
        print("shapes U-Net trained", flush=True)
        cases.append(("shapes U-Net", unet, "synthetic", "synthetic", {}))
    rows = []
    for label, model, images, calib, kw in cases:
        for q in QUANTS:
            r = export_model(
                model,
                workdir / f"{abs(hash(label))}_{q}.tflite",
                quantize=q,
                representative=calib,
                num_calibration=calibration,
                fold_preprocessing=True,
                verify_images=images,
                num_verify=verify,
                latency_runs=runs,
                force=True,
                verbose=False,
                **kw,
            )
            if q == "none":
                km = r.spec  # the same model object for Keras timing
                keras_model = model if isinstance(model, keras.Model) else keras.saving.load_model(model)
                size = r.spec.input_size
                x = resize_images(load_images(images, 1, (2 * size[0], 2 * size[1]), seed=3), size)
                from zoo.preprocessing import preprocess_input

                xk = np.asarray(preprocess_input(x.astype("float32"), km.preprocess))
                k = keras_latency(keras_model, xk, runs)
            m = r.report.metrics
            mp = {key: v for key, v in m.items() if key.startswith("MediaPipe")}
            rows.append(
                {
                    "model": label,
                    "quantize": q,
                    "size_mb": r.report.size_bytes / 2**20,
                    "mediapipe": mp,
                    "litert": {key: v for key, v in m.items() if not key.startswith("MediaPipe")},
                    "latency_ms": r.report.latency_ms,
                    "keras_ms": k,
                    "image_source": r.report.image_source,
                }
            )
            print(
                label, q, mp, {t: round(v["median"], 2) for t, v in r.report.latency_ms.items()}, flush=True
            )
    return rows


def device_table(rows: list[dict]) -> str:
    lines = [
        "| model | quantize | size (MiB) | MediaPipe vs Keras | LiteRT 1 thread (ms) | LiteRT 2 threads (ms) "
        "| int8 speed-up vs float32 (1 thr) | vs Keras |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    f32 = {r["model"]: r["latency_ms"]["1 thread"]["median"] for r in rows if r["quantize"] == "none"}
    for r in rows:
        one, two = r["latency_ms"]["1 thread"]["median"], r["latency_ms"]["2 threads"]["median"]
        mp = ", ".join(
            f"{k.replace('MediaPipe ', '')} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in r["mediapipe"].items()
        )
        speed = f"{f32[r['model']] / one:.2f}" if r["quantize"] == "int8" else "-"
        vs_keras = f"{r['keras_ms']['median'] / two:.2f}" if r["quantize"] == "int8" else "-"
        lines.append(
            f"| {r['model']} | {r['quantize']} | {r['size_mb']:.2f} | {mp} | {one:.2f} | {two:.2f} | {speed} | {vs_keras} |"
        )
    keras_rows = {r["model"]: r["keras_ms"]["median"] for r in rows}
    lines.append("")
    lines += [f"Keras (TF, 2 cores) {m}: {ms:.2f} ms" for m, ms in keras_rows.items()]
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        "| model | variant | size (MiB) | latency 1 thread (ms) | latency 2 threads (ms) | speed-up vs Keras (2 thr) "
        "| agreement with Keras |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    keras_ms = {}
    for r in rows:
        lat = r["latency_ms"]
        if r["variant"] == "keras":
            keras_ms[r["model"]] = lat["keras"]["median"]
            k = lat["keras"]
            lines.append(
                f"| {r['model']} | Keras (TF, 2 cores{', ' + r['note'] if r.get('note') else ''}) | {r['size_mb']:.1f} | - | {k['median']:.1f} (p90 {k['p90']:.1f}) "
                "| 1.00 | - |"
            )
            continue
        one, two = lat.get("1 thread", {}), lat.get("2 threads", {})
        speed = keras_ms.get(r["model"], float("nan")) / two["median"] if two else float("nan")
        agree = ", ".join(f"{k} {v:.4g}" for k, v in r["agreement"].items() if k != "num detections equal")
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['size_mb']:.1f} | {one.get('median', float('nan')):.1f} "
            f"(p90 {one.get('p90', float('nan')):.1f}) | {two.get('median', float('nan')):.1f} "
            f"(p90 {two.get('p90', float('nan')):.1f}) | {speed:.2f} | {agree} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", default=list(DEFAULT_MODELS))
    p.add_argument("--size", type=int, default=None, help="override the input size (quick runs)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    p.add_argument("--calibration", type=int, default=16, help="int8 calibration images")
    p.add_argument("--verify", type=int, default=8, help="images compared per export")
    p.add_argument("--trained-check", type=int, default=6, help="epochs of the trained int8 check (0 skips)")
    p.add_argument("--out", default="runs/bench_litert")
    p.add_argument(
        "--device",
        action="store_true",
        help="instead: per quantization, a trained classifier, the shapes SSD and the shapes U-Net "
        "through MediaPipe (agreement, size, latency 1/2 threads, int8 speed-ups); --trained-check = epochs",
    )
    p.add_argument("--device-models", nargs="*", default=["classifier", "ssd", "unet"])
    p.add_argument("--ssd-steps", type=int, default=40, help="--device: SSD training steps per epoch")
    args = p.parse_args(argv)
    if args.device:
        from zoo.utils.io import atomic_write_json, atomic_write_text

        with tempfile.TemporaryDirectory(prefix="bench_litert_device_") as tmp:
            rows = device_rows(
                Path(tmp),
                args.runs,
                args.verify,
                args.calibration,
                args.trained_check,
                args.device_models,
                args.ssd_steps,
            )
        text = device_table(rows)
        atomic_write_json(Path(args.out) / "device.json", {"rows": rows})
        atomic_write_text(Path(args.out) / "device.md", text + "\n")
        print(text)
        return 0

    import zoo
    from zoo.utils.io import atomic_write_json, atomic_write_text

    registered = set(zoo.list_models())
    rows, skipped = [], [m for m in args.models if m not in registered]
    with tempfile.TemporaryDirectory(prefix="bench_litert_") as tmp:
        out = Path(args.out)
        trained = None

        def save() -> str:  # after every model, so that an interrupted run keeps what it measured
            text = table(rows)
            atomic_write_json(
                out / "results.json", {"rows": rows, "skipped": skipped, "trained_int8_check": trained}
            )
            atomic_write_text(out / "table.md", text + "\n")
            return text

        if args.trained_check > 0:
            trained = trained_int8_agreement(1200, 300, args.trained_check, Path(tmp))
            print("trained int8 check:", trained, flush=True)
            save()
        for name in args.models:
            if name in registered:
                try:
                    rows += bench_model(name, args.size, args.runs, args.calibration, args.verify, Path(tmp))
                except Exception as e:  # noqa: BLE001  (one broken model must not lose the others' numbers)
                    print(f"{name}: FAILED {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                    skipped.append(f"{name} ({type(e).__name__}: {str(e)[:200]})")
                save()
    text = save()
    print(text)
    if skipped:
        print("skipped:", ", ".join(skipped))
    if trained:
        print("trained int8 check:", trained)
    return 0


if __name__ == "__main__":
    sys.exit(main())
