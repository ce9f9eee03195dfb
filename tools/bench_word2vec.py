"""Benchmark: gensim Word2Vec against zoo's word2vec on the same corpus and settings, in one run.

Both trainers see the same tokens (zoo's tokeniser), dimension, window, negatives, epochs, min_count
and sample; gensim runs with --workers threads, ours with TensorFlow's default threads on the same
CPU. Words/s = raw corpus tokens x epochs / training seconds (vocabulary building excluded for both;
ours also reported without its first epoch, which includes tracing the train step). Quality:
WordSim-353 / SimLex-999 Spearman and Google analogy accuracy, evaluated by the same code for both.

The default corpus is gensim's test data (needs zoo[eval]): the Lee background corpus plus the
shortened English Wikipedia dump (markup stripped with gensim's filter_wiki), about 520k tokens;
--repeat N concatenates it N times (a larger corpus for the speed figure: on 520k tokens our
first epoch, which includes compiling the train step, is a third of the run). --seeds N trains
both N times with different seeds and reports the means (WordSim-353 moves by +-0.03 between
seeds on this corpus, for both trainers) and each run.

Examples:
    python tools/bench_word2vec.py --mode skipgram cbow --epochs 5 --seeds 3 --json runs/bench_w2v/bench.json
    python tools/bench_word2vec.py --mode skipgram cbow --repeat 4 --seeds 2
    python tools/bench_word2vec.py --corpus my.txt --mode cbow
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def default_corpus(path: Path, repeat: int = 1) -> Path:
    """Writes Lee + shortened enwiki (from gensim's test data) to ``path``, ``repeat`` times over."""
    import bz2

    from gensim.corpora.wikicorpus import extract_pages, filter_wiki
    from gensim.test.utils import datapath

    from zoo.utils.io import atomic_path

    lines = Path(datapath("lee_background.cor")).read_text(encoding="utf-8").splitlines()
    dump = datapath("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    with bz2.open(dump) as f:
        for _title, text, _pid in extract_pages(f):
            lines += [p.strip() for p in filter_wiki(text).split("\n") if len(p.split()) > 5]
    with atomic_path(path) as tmp:
        tmp.write_text(("\n".join(lines) + "\n") * repeat, encoding="utf-8")
    return path


def run_gensim(sentences, args, sg, seed):
    from gensim.models import Word2Vec

    model = Word2Vec(
        vector_size=args.dim,
        window=args.window,
        negative=args.negative,
        hs=0,
        sg=sg,
        min_count=args.min_count,
        sample=args.sample,
        workers=args.workers,
        seed=seed,
        alpha=args.alpha,
        min_alpha=args.min_alpha,
    )
    model.build_vocab(sentences)
    t = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs)
    seconds = time.perf_counter() - t
    from zoo.text.vectors import WordVectors

    return WordVectors(model.wv.index_to_key, model.wv.vectors), seconds


def main(argv: list[str] | None = None) -> int:
    from zoo.text.corpus import LAYOUTS
    from zoo.text.word2vec import NEGATIVES, Word2VecConfig
    from zoo.utils.cmdline import add_dataclass_arguments, dataclass_from_args

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", help="plain-text file or folder (default: Lee + shortened enwiki)")
    parser.add_argument("--repeat", type=int, default=1, help="repeat the default corpus N times")
    parser.add_argument("--workdir", default="runs/bench_word2vec")
    parser.add_argument("--mode", nargs="+", default=["skipgram", "cbow"], choices=("skipgram", "cbow"))
    # the Word2VecConfig flags, as recipes/word2vec.py takes them
    add_dataclass_arguments(
        parser,
        Word2VecConfig,
        exclude=("mode", "errors"),
        choices={"layout": LAYOUTS, "negatives": NEGATIVES},
    )
    parser.add_argument("--workers", type=int, default=2, help="gensim worker threads")
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="train both this many times (seeds --seed, --seed+1, ...) and average",
    )
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    import keras

    from zoo.text.corpus import iter_sentences
    from zoo.text.word2vec import train_word2vec
    from zoo.utils.io import atomic_write_json

    workdir = Path(args.workdir)
    corpus = Path(args.corpus) if args.corpus else default_corpus(workdir / "corpus.txt", args.repeat)
    sentences = list(iter_sentences(corpus))
    raw_words = sum(len(s) for s in sentences)
    print(
        f"corpus {corpus}: {raw_words} tokens, {len(sentences)} lines; backend {keras.backend.backend()}; "
        f"{os.cpu_count()} CPUs (shared with other jobs: compare the ratio, not the absolute figures)"
    )
    rows = []
    for mode in args.mode:
        runs = {"gensim": [], "zoo": []}
        for seed in range(args.seed, args.seed + args.seeds):
            g_wv, g_seconds = run_gensim(sentences, args, int(mode == "skipgram"), seed)
            config = dataclass_from_args(Word2VecConfig, args, mode=mode, seed=seed)
            z_wv, report = train_word2vec(corpus, workdir / mode, config, verbose=0)
            epoch_s = report["epoch_seconds"]
            steady = raw_words * (len(epoch_s) - 1) / sum(epoch_s[1:]) if len(epoch_s) > 1 else float("nan")
            g_wps = raw_words * args.epochs / g_seconds
            for name, wv, wps, steady_wps in (
                ("gensim", g_wv, g_wps, g_wps),
                ("zoo", z_wv, report["words_per_second"], steady),
            ):
                ev = wv.evaluate()
                runs[name].append(
                    {
                        "seed": seed,
                        "words_per_second": wps,
                        "steady_words_per_second": steady_wps,
                        "wordsim353": ev["wordsim353"]["spearman"],
                        "simlex999": ev["simlex999"]["spearman"],
                        "analogy_accuracy": ev["analogies"]["accuracy"],
                        "analogies_answered": ev["analogies"]["total"],
                        "vocab": len(wv),
                    }
                )
            print(
                f"  {mode} seed {seed}: gensim {g_wps:,.0f} words/s WS353 {runs['gensim'][-1]['wordsim353']:.3f}; "
                f"zoo {report['words_per_second']:,.0f} words/s (steady {steady:,.0f}) "
                f"WS353 {runs['zoo'][-1]['wordsim353']:.3f}",
                flush=True,
            )
        for name in ("gensim", "zoo"):
            row = {"mode": mode, "trainer": name, "runs": runs[name], "vocab": runs[name][0]["vocab"]}
            for key in (
                "words_per_second",
                "steady_words_per_second",
                "wordsim353",
                "simlex999",
                "analogy_accuracy",
            ):
                values = [r[key] for r in runs[name]]
                row[key] = statistics.fmean(values)
                row[key + "_range"] = [min(values), max(values)]
            row["analogies_answered"] = runs[name][0]["analogies_answered"]
            if name == "zoo":  # the resolved per-mode settings (batch, cap, XLA, layout)
                row.update(
                    {
                        k: report["config"][k]
                        for k in (
                            "batch_size",
                            "duplicate_cap",
                            "jit_compile",
                            "layout",
                            "negatives",
                            "shared_negatives",
                            "shared_rows",
                            "steps_per_execution",
                        )
                    }
                )
                g = rows[-1]
                row["speed_ratio"] = row["words_per_second"] / g["words_per_second"]
                row["steady_speed_ratio"] = row["steady_words_per_second"] / g["words_per_second"]
                row["speed_ratio_per_seed"] = [
                    z["words_per_second"] / r["words_per_second"] for z, r in zip(runs["zoo"], runs["gensim"])
                ]
                row["wordsim353_delta"] = row["wordsim353"] - g["wordsim353"]
            rows.append(row)
    header = (
        f"{'mode':9} {'trainer':7} {'vocab':>6} {'words/s':>9} {'steady':>9} {'ratio':>6} "
        f"{'WS353':>7} {'dWS353':>7} {'SimLex':>7} {'analogy':>8}"
    )
    print(f"means over {args.seeds} seed(s):")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = f"{r['speed_ratio']:.2f}" if "speed_ratio" in r else "1.00"
        delta = f"{r['wordsim353_delta']:+.3f}" if "wordsim353_delta" in r else ""
        print(
            f"{r['mode']:9} {r['trainer']:7} {r['vocab']:6d} {r['words_per_second']:9.0f} "
            f"{r['steady_words_per_second']:9.0f} {ratio:>6} {r['wordsim353']:7.3f} {delta:>7} "
            f"{r['simlex999']:7.3f} {r['analogy_accuracy']:8.3f}"
        )
    if args.json:
        atomic_write_json(
            args.json,
            {
                "corpus": str(corpus),
                "raw_words": raw_words,
                "settings": vars(args),
                "backend": keras.backend.backend(),
                "rows": rows,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
