"""CRNN + CTC captcha reader on generated captchas of variable length, beside the fixed-length multi-head model.

    python recipes/crnn.py train --workdir runs/crnn --length 4 6 --epochs 10
    python recipes/crnn.py compare --workdir runs/crnn_cmp --epochs 6 --train-size 6000
        # CRNN on lengths 4-6 and captcha_multihead on length 4: same data and step budget

Resumable: rerun the same command to continue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# This script's folder holds captcha.py, which would shadow the `captcha` package: keep it off sys.path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=("train", "compare"))
    p.add_argument("--workdir", required=True)
    p.add_argument("--alphabet", default="digits")
    p.add_argument("--length", type=int, nargs="+", default=[4, 6], help="one length, or MIN MAX")
    p.add_argument("--config", default="small", choices=("small", "tiny"))
    p.add_argument("--train-size", type=int, default=8000, help="captchas drawn once for training")
    p.add_argument("--val-size", type=int, default=500)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from zoo.runs import flags_of, open_run

    with open_run(a.workdir, flags_of(a), may_change=("epochs",)):
        from zoo.classification.crnn import train_crnn

        length = a.length[0] if len(a.length) == 1 else (a.length[0], a.length[1])
        common = dict(alphabet=a.alphabet, config=a.config, train_size=a.train_size, val_size=a.val_size,
                      epochs=a.epochs, batch_size=a.batch_size, seed=a.seed)  # fmt: skip
        if a.command == "train":
            report = train_crnn(a.workdir, length=length, **common)
            report.pop("history")
            print(json.dumps(report, indent=2))
            return 0
        from zoo.experiments.captcha import train_captcha
        from zoo.utils.io import atomic_write_json

        rows = {}
        for label, lens in (("crnn_len4-6", (4, 6)),):
            r = train_crnn(os.path.join(a.workdir, label), length=lens, **common)
            rows[label] = {"val_captcha_acc": r["val_captcha_acc_greedy"], "beam": r["val_captcha_acc_beam_search"],
                           "params": r["params"], "steps": a.epochs * (a.train_size // a.batch_size),
                           "by_length": r["val_captcha_acc_greedy_by_length"]}  # fmt: skip
        m = train_captcha(
            os.path.join(a.workdir, "multihead_len4"), model="captcha_multihead", alphabet=a.alphabet, length=4,
            config=a.config, batch_size=a.batch_size, epochs=a.epochs, steps_per_epoch=a.train_size // a.batch_size,
            train_pool=a.train_size, val_size=a.val_size, seed=a.seed,
        )  # fmt: skip
        rows["multihead_len4"] = {"val_captcha_acc": m["val_captcha_acc"], "beam": None,
                                  "params": m.get("params"), "steps": a.epochs * (a.train_size // a.batch_size),
                                  "batchnorm_statistics": m["batchnorm_statistics"]}  # fmt: skip
        atomic_write_json(os.path.join(a.workdir, "compare.json"), rows)
        print("| model | lengths | whole-captcha acc (greedy) | beam search | params | steps |")
        print("|---|---|---|---|---|---|")
        for label, r in rows.items():
            beam = "-" if r["beam"] is None else f"{r['beam']:.3f}"
            print(
                f"| {label} | {label.split('len')[-1]} | {r['val_captcha_acc']:.3f} | {beam} | {r['params']} | {r['steps']} |"
            )
        return 0


if __name__ == "__main__":
    from zoo.utils.cmdline import run_script

    sys.exit(run_script(main))
