"""DCGAN on offline data: sample grids per epoch, loss curves, a digit-classifier quality figure.

Resumable: rerun the same command to continue from the last finished epoch.

Examples:
    python recipes/dcgan.py --workdir runs/dcgan_digits --epochs 20
    python recipes/dcgan.py --workdir runs/dcgan_shapes --dataset shapes --image-size 32 --epochs 10
    KERAS_BACKEND=jax python recipes/dcgan.py --workdir runs/dcgan_jax --epochs 5 --g-steps 2
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="output folder (checkpoints, samples/, report.json)")
    p.add_argument("--dataset", default="digits", choices=("digits", "shapes"))
    p.add_argument("--image-size", type=int, default=28, choices=(28, 32, 64))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--filters", type=int, default=32, help="width of the first/last conv (paper: 128)")
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--d-steps", type=int, default=1, help="discriminator updates per step")
    p.add_argument("--g-steps", type=int, default=1, help="generator updates per step")
    p.add_argument("--generator-loss", default="non_saturating", choices=("non_saturating", "minimax"))
    p.add_argument("--learning-rate", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)

    from zoo.generative.dcgan import train_dcgan
    from zoo.utils.cmdline import run_command

    def work() -> int:
        from zoo.runs import flags_of, open_run

        with open_run(a.workdir, flags_of(a), may_change=("epochs",)):
            report = train_dcgan(
                a.workdir, dataset=a.dataset, image_size=a.image_size, epochs=a.epochs, batch_size=a.batch_size,
                latent_dim=a.latent_dim, filters=a.filters, d_steps=a.d_steps, g_steps=a.g_steps,
                generator_loss=a.generator_loss, learning_rate=a.learning_rate, seed=a.seed,
            )  # fmt: skip
            report.pop("history")
            print(json.dumps(report, indent=2))
            return 0

    # bad input: one error line, exit 2; Ctrl-C / SIGTERM: one line naming the checkpoint, no traceback
    return run_command(work, errors=(ValueError,), workdir=a.workdir)


if __name__ == "__main__":
    sys.exit(main())
