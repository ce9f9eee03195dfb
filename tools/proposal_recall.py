"""Recall of selective-search proposals on synthetic shapes images, as a table and JSON.

Example:
    PYTHONPATH=. python tools/proposal_recall.py --images 50 --image-size 128 --workdir work/proposals
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from zoo.data.shapes import generate_shapes_example
from zoo.detection.proposals import MODES, ProposalCache, proposal_recall
from zoo.utils.io import atomic_write_json


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=50)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--counts", type=int, nargs="+", default=[100, 300, 1000, 2000])
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default="work/proposals", help="cache folder and report.json")
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    exs = [generate_shapes_example(rng, image_size=args.image_size) for _ in range(args.images)]
    report = {"images": args.images, "image_size": args.image_size, "modes": {}}
    for mode in args.modes:
        cache = ProposalCache(Path(args.workdir) / "cache", mode)
        start = time.perf_counter()
        boxes = [cache(ex["image"]) for ex in tqdm(exs, desc=f"selective search ({mode})")]
        seconds = (time.perf_counter() - start) / len(exs)
        recall = proposal_recall(boxes, [ex["boxes"] for ex in exs], args.counts)
        report["modes"][mode] = {
            "recall": {str(t): {str(n): r for n, r in v.items()} for t, v in recall.items()},
            "mean_proposals": float(np.mean([len(b) for b in boxes])),
            "seconds_per_image": seconds,  # includes cache reads on a second run
        }
        print(f"{mode}: {np.mean([len(b) for b in boxes]):.0f} proposals/image, {seconds:.3f} s/image")
        for t, v in recall.items():
            print(f"  IoU {t}: " + "  ".join(f"{n}: {r:.3f}" for n, r in v.items()))
    atomic_write_json(Path(args.workdir) / "report.json", report)
    return report


if __name__ == "__main__":
    main()
