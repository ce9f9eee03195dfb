"""Domain-adversarial training (Ganin and Lempitsky 2015) on clean digits -> textured colour digits.

Trains source-only, DANN and a target-supervised oracle over several seeds, resumably, and
writes report.json (target accuracies, the fraction of the gap DANN closes), accuracy.png,
domain_accuracy.png, features_pca.png and each run's curves.png into --workdir.

    python recipes/dann.py --workdir runs/dann --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import sys

from zoo.domain import MODES, TARGET_COPIES, run_dann_experiment


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workdir", required=True, help="checkpoints, report.json and PNGs (a rerun resumes)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1500, help="optimisation steps per run")
    parser.add_argument(
        "--epochs", type=int, default=5, help="checkpoints per run (the steps are split over them)"
    )
    parser.add_argument("--size", type=int, default=28, help="image size in pixels")
    parser.add_argument("--batch-size", type=int, default=64, help="half source, half target")
    parser.add_argument("--lr", type=float, default=0.01, help="mu_0 of the paper's learning-rate schedule")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument(
        "--target-copies", type=int, default=TARGET_COPIES,
        help="textures per unlabelled target digit (the size of the unlabelled target pool)",
    )  # fmt: skip
    parser.add_argument(
        "--source-poses", type=int, default=0,
        help="varied renderings (pose, size, stroke) per source digit; 0: the clean upscaled digits",
    )  # fmt: skip
    parser.add_argument(
        "--domain-hidden", type=int, nargs="+", default=[100],
        help="hidden units of the domain classifier (the paper's MNIST network: 100)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from zoo.runs import flags_of, open_run

    # a rerun reuses the finished (mode, seed) runs: more seeds or modes may be added later
    with open_run(args.workdir, flags_of(args), may_change=("seeds", "modes")):
        report = run_dann_experiment(
            args.workdir, seeds=args.seeds, steps=args.steps, epochs=args.epochs, size=args.size,
            batch_size=args.batch_size, learning_rate=args.lr, modes=args.modes,
            target_copies=args.target_copies, source_poses=args.source_poses,
            domain_hidden=args.domain_hidden, verbose=2,
        )  # fmt: skip
        print(
            json.dumps(
                {k: report[k] for k in report if k.startswith(("target_accuracy", "gap_closed"))}, indent=2
            )
        )
        return report


if __name__ == "__main__":
    from zoo.utils.cmdline import run_script

    sys.exit(run_script(main))
