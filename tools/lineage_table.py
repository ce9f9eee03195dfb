"""The R-CNN lineage table (markdown) from the report.json files of recipes/rcnn_lineage.py runs.

Example:
    PYTHONPATH=. python tools/lineage_table.py runs/lineage/{rcnn,sppnet,fast_rcnn,faster_rcnn,rfcn}
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# the course material's table (R-CNN, Fast R-CNN with selective search, Faster R-CNN) and R-FCN's paper
PAPER_S = {"rcnn": "47", "sppnet": "", "fast_rcnn": "2", "faster_rcnn": "0.2", "rfcn": "0.17 (ResNet-101)"}


def table(workdirs: list[str]) -> str:
    rows = [
        "| method | mAP@0.5 (VOC all-point) | proposals s/img | features s/img | classification s/img | "
        "total s/img | training s | load (start / evaluation end) | paper s/img (GPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in workdirs:
        r = json.loads((Path(d) / "report.json").read_text())
        s = r["seconds_per_image"]
        train = f"{r['train_seconds']:.0f}"
        if "backbone_train_seconds" in r:
            train += f" (+ {r['backbone_train_seconds']:.0f} body, Fast R-CNN's)"
        la = r.get("load_average", {})
        load = f"{la['start']:.1f} / {la['end']:.1f}" if la else "not recorded"
        rows.append(
            f"| {r['method']} | {r['metrics']['voc_map']:.3f} | {s.get('proposals', 0):.3f} | {s['features']:.3f} | "
            f"{s['classification']:.3f} | {s['total']:.3f} | {train} | {load} | {PAPER_S.get(r['method'], '')} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workdirs", nargs="+")
    out = table(p.parse_args(argv).workdirs)
    print(out)
    return out


if __name__ == "__main__":
    main()
