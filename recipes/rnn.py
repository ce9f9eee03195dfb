"""Recurrent networks: the course material's two claims, measured, and a character-level language model.

python recipes/rnn.py recall --workdir runs/rnn_recall            # SimpleRNN vs LSTM vs GRU against T
python recipes/rnn.py compare --workdir runs/rnn_compare          # LSTM vs GRU: params, s/epoch, accuracy
python recipes/rnn.py charlm --workdir runs/charlm --text corpus.txt --epochs 5
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RECALL_MODELS = {  # label -> (cell, initial bias of the gate that keeps the state)
    "SimpleRNN": ("rnn", None),
    "LSTM": ("lstm", None),
    "LSTM (forget bias 3)": ("lstm", 3.0),
    "GRU": ("gru", None),
    "GRU (update bias 3)": ("gru", 3.0),
}


def recall(a: argparse.Namespace) -> int:
    from zoo.text.rnn import recall_accuracy
    from zoo.utils.io import atomic_write_json
    from zoo.utils.plots import plot_lines

    work = Path(a.workdir)
    path = work / "recall.json"
    results = json.loads(path.read_text()) if path.exists() else {}  # resumable: finished points are kept
    for label, (cell, bias) in RECALL_MODELS.items():
        for T in a.T:
            key = f"{label}|{T}"
            if key not in results:
                results[key] = recall_accuracy(
                    cell, T, units=a.units, train_size=a.train_size, epochs=a.epochs, gate_bias=bias
                )
                atomic_write_json(path, results)
                print(key, results[key], flush=True)
    series = {label: [results[f"{label}|{T}"]["accuracy"] for T in a.T] for label in RECALL_MODELS}
    plot_lines(a.T, series, work / "recall.png", xlabel="T (steps between the token and the answer)",
               ylabel="test accuracy (chance 0.25)", title="recall a token seen T steps earlier")  # fmt: skip
    rows = ["| model | " + " | ".join(f"T={T}" for T in a.T) + " |", "|---|" + "---|" * len(a.T)]
    rows += [f"| {label} | " + " | ".join(f"{v:.3f}" for v in vs) + " |" for label, vs in series.items()]
    print("\n".join(rows))
    return 0


def compare(a: argparse.Namespace) -> int:
    from zoo.text.rnn import lstm_vs_gru
    from zoo.utils.io import atomic_write_json

    rows = lstm_vs_gru(epochs=a.epochs, units=a.units)
    atomic_write_json(Path(a.workdir) / "lstm_vs_gru.json", rows)
    lines = ["| cell | recurrent params | total params | s/epoch | test accuracy |", "|---|---|---|---|---|"]
    for r in rows:
        seeds = ", ".join(f"{v:.2f}" for v in r["test_accuracy_per_seed"])
        lines.append(
            f"| {r['cell']} | {r['recurrent_params']:,} | {r['total_params']:,} | "
            f"{r['seconds_per_epoch']:.2f} | {r['test_accuracy']:.3f} ({seeds}) |"
        )
    print("\n".join(lines))
    return 0


def _charlm_text(a: argparse.Namespace) -> str:
    """The corpus, checked before anything is trained or written: it exists and holds --prime's characters."""
    if not Path(a.text).is_file():
        raise ValueError(f"text file {a.text!r} does not exist")
    text = Path(a.text).read_text(encoding="utf-8", errors="replace")
    missing = sorted(set(a.prime) - set(text))
    if missing:
        raise ValueError(
            f"--prime {a.prime!r} has characters {missing} that {a.text!r} never contains; "
            "pass a --prime made of the corpus's characters"
        )
    return text


def charlm(a: argparse.Namespace) -> int:
    import time

    import keras

    from zoo.text.rnn import char_rnn, char_sequences, sample_text
    from zoo.training import fit_resumable
    from zoo.utils.io import atomic_write_json, atomic_write_text

    text = _charlm_text(a)
    x, y, vocab = char_sequences(text, a.sequence_length, step=a.sequence_length // 2 or 1)
    keras.utils.set_random_seed(0)
    model = char_rnn(vocab_size=len(vocab), units=a.units, num_layers=a.layers)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy(True)
    )
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(64)
    start = time.perf_counter()
    history = fit_resumable(model, data, epochs=a.epochs, workdir=a.workdir, title="char_rnn: training loss")
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    samples = {
        str(t): sample_text(model, vocab, a.prime, length=a.sample_length, temperature=t)
        for t in a.temperatures
    }
    sample_seconds = time.perf_counter() - start
    report = {
        "text": a.text, "characters": len(text), "vocab_size": len(vocab), "sequences": int(len(x)),
        "sequence_length": a.sequence_length, "units": a.units, "layers": a.layers, "epochs": a.epochs,
        "params": int(model.count_params()), "train_seconds_this_run": seconds, "prime": a.prime,
        "sample_seconds": sample_seconds, "sampled_characters": a.sample_length * len(samples),
        "final_loss_nats_per_char": history["loss"][-1], "history": history, "samples": samples,
        "vocab": "".join(vocab.chars),
    }  # fmt: skip
    atomic_write_json(Path(a.workdir) / "report.json", report)
    txt = "".join(f"--- temperature {t}\n{sample}\n\n" for t, sample in samples.items())
    atomic_write_text(Path(a.workdir) / "samples.txt", txt)
    print(txt)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("recall", help="accuracy of SimpleRNN / LSTM / GRU against the distance T")
    r.add_argument("--workdir", required=True)
    r.add_argument("--T", type=int, nargs="+", default=[10, 50, 100, 200])
    r.add_argument("--units", type=int, default=32)
    r.add_argument("--train-size", type=int, default=2000)
    r.add_argument("--epochs", type=int, default=5)
    c = sub.add_parser("compare", help="LSTM vs GRU on the synthetic sentiment task")
    c.add_argument("--workdir", required=True)
    c.add_argument("--epochs", type=int, default=15)
    c.add_argument("--units", type=int, default=32)
    m = sub.add_parser("charlm", help="train char_rnn on a text file and sample at several temperatures")
    m.add_argument("--workdir", required=True)
    m.add_argument("--text", required=True)
    m.add_argument("--sequence-length", type=int, default=64)
    m.add_argument("--units", type=int, default=128)
    m.add_argument("--layers", type=int, default=1)
    m.add_argument("--epochs", type=int, default=5)
    m.add_argument("--prime", default="The ")
    m.add_argument("--sample-length", type=int, default=300)
    m.add_argument("--temperatures", type=float, nargs="+", default=[0.3, 0.7, 1.0])
    a = p.parse_args(argv)
    from zoo.utils.cmdline import run_command

    def work() -> int:
        if a.command == "charlm":
            _charlm_text(a)  # bad input fails before the work directory is made
        from zoo.runs import flags_of, open_run

        with open_run(a.workdir, flags_of(a), may_change=("epochs",)):
            return {"recall": recall, "compare": compare, "charlm": charlm}[a.command](a)

    # bad input: one error line, exit 2; Ctrl-C / SIGTERM: one line naming the checkpoint, no traceback
    return run_command(work, errors=(ValueError,), workdir=a.workdir)


if __name__ == "__main__":
    sys.exit(main())
