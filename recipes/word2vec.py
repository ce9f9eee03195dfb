"""word2vec: train skip-gram or CBOW (negative sampling) on a plain-text file or folder, evaluate, plot.

Examples:
    # gensim's Lee background corpus (needs the zoo[eval] extra), evaluated on WordSim-353,
    # SimLex-999 and the Google analogies, with a PCA plot and a few queries
    python recipes/word2vec.py --corpus lee --workdir runs/w2v_lee --epochs 10 --min-count 2 \\
        --evaluate --query fire --analogy man king woman
    # your own text (a file or a folder of UTF-8 files), CBOW, 300-d vectors
    python recipes/word2vec.py --corpus my_texts/ --workdir runs/w2v_mine --mode cbow --dim 300
    # then Kim's text CNN on a generated sentiment set, its embedding started from these vectors
    python recipes/word2vec.py --corpus lee --workdir runs/w2v_lee --text-cnn-demo

An interrupted run resumes when started again with the same --workdir. Outputs in --workdir:
vectors.txt / vectors.bin (word2vec formats), projector/ (TensorBoard projector TSVs), pca.png,
report.json, history.csv, curves.png, last.weights.h5.
"""

from __future__ import annotations

import argparse
import json
import sys

PLOT_PAIRS = [
    ("man", "woman"),
    ("king", "queen"),
    ("he", "she"),
    ("boy", "girl"),  # male-female
    ("walk", "walked"),
    ("go", "went"),
    ("say", "said"),
    ("take", "took"),  # verb tense
    ("france", "paris"),
    ("germany", "berlin"),
    ("italy", "rome"),
    ("japan", "tokyo"),  # country-capital
    ("australia", "canberra"),
    ("china", "beijing"),
]


def add_word2vec_arguments(parser: argparse.ArgumentParser) -> None:
    """The :class:`zoo.text.word2vec.Word2VecConfig` flags (all but ``mode`` and ``errors``), derived
    from the config's fields; ``tools/bench_word2vec.py`` takes the same."""
    from zoo.text.corpus import LAYOUTS
    from zoo.text.word2vec import NEGATIVES, Word2VecConfig
    from zoo.utils.cmdline import add_dataclass_arguments

    add_dataclass_arguments(
        parser,
        Word2VecConfig,
        exclude=("mode", "errors"),
        choices={"layout": LAYOUTS, "negatives": NEGATIVES},
    )


def main(argv: list[str] | None = None) -> int:
    from zoo.utils.cmdline import ArgumentParser, run_command

    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="plain-text file or folder; 'lee' = gensim's Lee background corpus")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--mode", default="skipgram", choices=("skipgram", "cbow"))
    add_word2vec_arguments(parser)
    parser.add_argument(
        "--errors",
        default="strict",
        choices=("strict", "replace", "ignore"),
        help="non-UTF-8 bytes: fail (default), replace by a separator, or drop",
    )
    parser.add_argument(
        "--evaluate", action="store_true", help="WordSim-353, SimLex-999, analogies (zoo[eval])"
    )
    parser.add_argument("--query", nargs="*", default=[], help="words to print nearest neighbours of")
    parser.add_argument("--analogy", nargs=3, metavar=("A", "B", "C"), help="A is to B as C is to ?")
    parser.add_argument("--plot", nargs="*", default=None, help="words for pca.png (default: course pairs)")
    parser.add_argument(
        "--text-cnn-demo",
        action="store_true",
        help="train Kim's text CNN on a generated sentiment set, embedding from these vectors",
    )
    parser.add_argument("--verbose", default="auto")
    args = parser.parse_args(argv)
    if not args.corpus:
        parser.error("--corpus is required")
    return run_command(lambda: _run(args), workdir=args.workdir)


def _run(args: argparse.Namespace) -> int:
    from zoo.runs import open_run
    from zoo.text.corpus import CorpusError
    from zoo.text.vectors import UnknownWordError, eval_file
    from zoo.text.word2vec import Word2VecConfig, save_outputs, train_word2vec
    from zoo.utils.cmdline import dataclass_from_args
    from zoo.utils.io import atomic_write_json

    verbose = int(args.verbose) if str(args.verbose).isdigit() else args.verbose
    try:
        corpus = eval_file("lee") if args.corpus == "lee" else args.corpus
        config = dataclass_from_args(Word2VecConfig, args)
        settings = {"corpus": args.corpus, "mode": args.mode, "errors": args.errors, **vars(config)}
        with open_run(args.workdir, settings):
            wv, report = train_word2vec(corpus, args.workdir, config, verbose=verbose, save=False)
        print(
            f"{report['vocab_size']} words, {report['raw_words']} tokens, "
            f"{report['words_per_second']:.0f} words/s ({report['backend']})"
        )
        if args.evaluate:
            report["evaluation"] = wv.evaluate()
            ev = report["evaluation"]
            print(
                f"WordSim-353 Spearman {ev['wordsim353']['spearman']:.3f} (oov {ev['wordsim353']['oov_ratio']:.1f}%)"
                f" | SimLex-999 Spearman {ev['simlex999']['spearman']:.3f}"
                f" | analogies {ev['analogies']['accuracy']:.3f} ({ev['analogies']['total']} answered)"
            )
        queries = {}
        for word in args.query:
            try:
                queries[word] = wv.most_similar(word, topn=8)
            except UnknownWordError as e:
                queries[word] = str(e)
            print(f"{word}: {queries[word]}")
        if args.analogy:
            a, b, c = args.analogy
            try:
                answer = wv.analogy(a, b, c, topn=5)
            except UnknownWordError as e:
                answer = str(e)
            queries[f"{a}:{b}::{c}:?"] = answer
            print(f"{a} : {b} :: {c} : {answer}")
        if queries:
            report["queries"] = queries
        words = args.plot if args.plot is not None else []
        pairs = [p for p in PLOT_PAIRS if p[0] in wv and p[1] in wv] if args.plot is None else []
        words = [w for w in words if w in wv]
        if len(words) + 2 * len(pairs) >= 2:
            report["plot"] = str(
                wv.plot(words, f"{args.workdir}/pca.png", pairs=pairs, title="word2vec (PCA)")
            )
        save_outputs(wv, args.workdir, report)
        if args.text_cnn_demo:
            from zoo.text.text_cnn import text_cnn_demo

            demo = text_cnn_demo(f"{args.workdir}/text_cnn", word_vectors=wv, verbose=verbose)
            demo.pop("history")
            atomic_write_json(f"{args.workdir}/text_cnn/report.json", demo)
            print(f"text CNN (embedding from word2vec) test accuracy {demo['test_accuracy']:.3f}")
        print(json.dumps({k: report[k] for k in ("vocab_size", "words_per_second", "outputs")}, indent=2))
    except (CorpusError, ImportError) as e:
        raise ValueError(str(e)) from e
    return 0


if __name__ == "__main__":
    sys.exit(main())
