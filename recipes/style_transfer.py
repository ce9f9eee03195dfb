"""Neural style transfer: Gatys' optimisation, or a fast (Johnson et al.) network trained for one style.

Gatys (writes OUT.png and OUT_side_by_side.png: content | style | result, and OUT.json):
    python recipes/style_transfer.py CONTENT.jpg STYLE.jpg -o out.png --iterations 100
    python recipes/style_transfer.py CONTENT.jpg STYLE.jpg -o out.png --weights none   # offline, random VGG19

Fast: train on a folder of photos for one style (resumable), export to LiteRT (float16, dynamic) at
256x256, stylise CONTENT in one pass in the LiteRT interpreter and time it against Gatys on it:
    python recipes/style_transfer.py fast --folder photos/ --style STYLE.jpg --content CONTENT.jpg \
        --workdir runs/fast_style --epochs 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _weights(value: str):
    return None if value.lower() == "none" else value


def gatys(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description="Gatys et al. style transfer (L-BFGS on the image)")
    p.add_argument("content")
    p.add_argument("style")
    p.add_argument("-o", "--output", required=True, help="stylised image PNG")
    p.add_argument("--weights", default="imagenet", help="imagenet (Keras cache) | none (random) | a path")
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--alpha", type=float, default=1.0, help="content weight")
    p.add_argument("--beta", type=float, default=1e3, help="style weight (alpha/beta = 1e-3 by default)")
    p.add_argument("--optimizer", default="lbfgs", choices=("lbfgs", "adam"))
    p.add_argument("--init", default="content", choices=("content", "noise"))
    p.add_argument("--max-side", type=int, default=384, help="images are shrunk to this longer side")
    a = p.parse_args(argv)

    from zoo.generative.style_files import stylize_files

    report = stylize_files(
        a.content, a.style, a.output, weights=_weights(a.weights), alpha=a.alpha, beta=a.beta,
        iterations=a.iterations, optimizer=a.optimizer, init=a.init, max_side=a.max_side,
    )  # fmt: skip
    print(json.dumps(report, indent=2))
    return 0


def fast(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        description="fast style transfer: train, export to LiteRT, time against Gatys"
    )
    p.add_argument("--folder", required=True, help="training photos (any number, any size)")
    p.add_argument("--style", required=True)
    p.add_argument("--content", required=True, help="image to stylise and time on")
    p.add_argument("--workdir", required=True)
    p.add_argument("--weights", default="imagenet", help="loss network: imagenet | none | a path")
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--num-residual", type=int, default=5)
    p.add_argument("--style-weight", type=float, default=10.0)
    p.add_argument("--content-weight", type=float, default=1.0)
    p.add_argument("--tv-weight", type=float, default=1e-2)
    p.add_argument(
        "--gatys-iterations", type=int, default=20, help="Gatys iterations timed on the same image"
    )
    a = p.parse_args(argv)

    import numpy as np
    from PIL import Image

    from zoo.generative.fast_style import export_litert, litert_stylize, train_fast_style
    from zoo.generative.style import save_side_by_side, stylize
    from zoo.runs import flags_of, open_run
    from zoo.utils.io import atomic_path, atomic_write_json

    with open_run(a.workdir, flags_of(a), may_change=("epochs",)):
        work = Path(a.workdir)
        net, report = train_fast_style(
            work, a.folder, a.style, weights=_weights(a.weights), image_size=a.image_size, epochs=a.epochs,
            batch_size=a.batch_size, filters=a.filters, num_residual=a.num_residual, style_weight=a.style_weight,
            content_weight=a.content_weight, tv_weight=a.tv_weight,
        )  # fmt: skip
        content = _square(a.content, 256)
        style = np.asarray(Image.open(a.style).convert("RGB"), np.float32)
        timing: dict = {}
        for q in ("float16", "dynamic"):
            path = export_litert(net, work / f"fast_style_{q}.tflite", size=256, quantization=q)
            image, seconds = litert_stylize(path, content, repeats=10)
            timing[f"litert_{q}_seconds"] = seconds
            timing[f"litert_{q}_bytes"] = path.stat().st_size
            with atomic_path(work / f"result_{q}.png") as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
            save_side_by_side(
                content, style, image, work / f"side_by_side_{q}.png", f"fast style transfer, LiteRT {q}"
            )
        g = stylize(content, style, weights=_weights(a.weights), iterations=a.gatys_iterations)
        timing["gatys_seconds"] = g.seconds
        timing["gatys_iterations"] = a.gatys_iterations
        timing["gatys_seconds_per_iteration"] = g.seconds / max(1, len(g.history))
        timing["speedup_vs_gatys_float16"] = g.seconds / timing["litert_float16_seconds"]
        save_side_by_side(
            content,
            style,
            g.image,
            work / "side_by_side_gatys.png",
            f"Gatys, {a.gatys_iterations} iterations",
        )
        report.pop("history")
        report["latency_256"] = timing
        atomic_write_json(work / "report.json", report)
        print(json.dumps(report, indent=2))
        return 0


def _square(path: str, size: int):
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        side = min(im.size)
        left, top = (im.size[0] - side) // 2, (im.size[1] - side) // 2
        return np.asarray(im.crop((left, top, left + side, top + side)).resize((size, size)), np.float32)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return fast(argv[1:]) if argv[:1] == ["fast"] else gatys(argv)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    from zoo.utils.cmdline import run_script

    sys.exit(run_script(main))
