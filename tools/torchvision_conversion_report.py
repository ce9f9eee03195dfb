"""Converted file sizes and errors against torchvision, for every model with torchvision weights (issue 13).

For each model: torchvision's network with seeded random weights (``randomize_torch_model``), its
``state_dict`` saved as ``.pth``; ``zoo.convert_weights.convert_weights`` writes the ``.weights.h5``;
the zoo model rebuilt from the ``.h5`` (no torch in that load) and torchvision run on the same input
(one image at the published crop size); max abs / relative error of the logits (SSD300: raw class
logits and box deltas). Files go to a temporary folder, one model at a time.

    python tools/torchvision_conversion_report.py --json docs/torchvision_conversion.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.modules.setdefault("triton", None)  # torch before TensorFlow; no triton needed on the CPU
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

# zoo name -> (torchvision builder, its kwargs, input side)
MODELS = {
    "alexnet": ("alexnet", {}, 224),
    **{n: (n, {}, 224) for n in ("vgg11", "vgg13", "vgg16", "vgg19")},
    **{f"{n}_bn": (f"{n}_bn", {}, 224) for n in ("vgg11", "vgg13", "vgg16", "vgg19")},
    **{n: (n, {}, 224) for n in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")},
    "googlenet_bn": ("googlenet", dict(aux_logits=True, init_weights=True, transform_input=True), 224),
    "inception_v3": ("inception_v3", dict(aux_logits=True, init_weights=True, transform_input=True), 299),
    "ssd300_vgg16": ("detection.ssd300_vgg16", dict(weights_backbone=None), 300),
}


def _errors(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    ours, ref = np.asarray(ours, "float64"), np.asarray(ref, "float64")
    err = float(np.abs(ours - ref).max())
    return err, err / float(np.abs(ref).max())


def measure(name: str, folder: Path) -> dict:
    """Converts one seeded random torchvision checkpoint and compares the reloaded zoo model with it."""
    import zoo
    from zoo.convert_weights import convert_weights, torchvision_options
    from zoo.weights_torch import randomize_torch_model

    builder, kwargs, side = MODELS[name]
    fn = torchvision.models
    for part in builder.split("."):
        fn = getattr(fn, part)
    ref = randomize_torch_model(fn(weights=None, **kwargs))
    pth, h5 = folder / f"{name}.pth", folder / f"{name}.weights.h5"
    torch.save(ref.state_dict(), pth)
    t = time.perf_counter()
    convert_weights(name, pth, h5)
    seconds = time.perf_counter() - t
    x = np.random.default_rng(1).normal(0, 1, (1, side, side, 3)).astype("float32")
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    options = torchvision_options(name)
    row = {
        "model": name,
        "pth_mb": pth.stat().st_size / 1e6,
        "h5_mb": h5.stat().st_size / 1e6,
        "convert_s": seconds,
        "input": side,
    }
    if name == "ssd300_vgg16":
        ours = zoo.get(name, weights=str(h5), **options)
        pixels = (x - x.min()) / (x.max() - x.min()) * 255.0
        images = torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))) / 255.0
        mean = torch.tensor(ref.transform.image_mean)[:, None, None]
        std = torch.tensor(ref.transform.image_std)[:, None, None]
        with torch.no_grad():
            head = ref.head(list(ref.backbone((images - mean) / std).values()))
        raw = ours(pixels, training=False)
        row["abs_err"], row["rel_err"] = _errors(raw["class_logits"], head["cls_logits"].numpy())
        row["deltas_abs_err"], row["deltas_rel_err"] = _errors(
            raw["box_deltas"], head["bbox_regression"].numpy()
        )
    else:
        ours = zoo.get(
            name, weights=str(h5), input_shape=(side, side, 3), classifier_activation=None, **options
        )
        with torch.no_grad():
            expected = ref(xt)
        got = ours.predict(x, verbose=0)
        got = got[0] if isinstance(got, (list, tuple)) else got
        row["abs_err"], row["rel_err"] = _errors(got, expected.numpy())
        row["same_top1"] = bool(np.argmax(got) == int(expected.argmax()))
    pth.unlink()
    h5.unlink()
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", default=list(MODELS), help="zoo names (default: all)")
    p.add_argument("--json", help="write the rows here too")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(args.models):
            print(f"[{i + 1}/{len(args.models)}] {name} (load {os.getloadavg()[0]:.1f})", flush=True)
            rows.append(measure(name, Path(tmp)))
            print("   ", rows[-1], flush=True)
    print("| model | .pth MB | .weights.h5 MB | input | max abs err | max rel err | same top-1 |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        top1 = {True: "yes", False: "no"}.get(r.get("same_top1"), "-")
        extra = (
            f" (deltas {r['deltas_abs_err']:.2g} / {r['deltas_rel_err']:.2g})"
            if "deltas_rel_err" in r
            else ""
        )
        print(
            f"| {r['model']} | {r['pth_mb']:.1f} | {r['h5_mb']:.1f} | {r['input']} | {r['abs_err']:.2g} |"
            f" {r['rel_err']:.2g}{extra} | {top1} |"
        )
    if args.json:
        from zoo.utils.io import atomic_write_json

        atomic_write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
