"""The offline crocodile experiment: a body learnt on digits 0-4, transferred to digits 5-9.

:func:`run_digits_demo` compares a head swap, a head swap + fine-tune, a logistic-regression
head on cached features and the same network from scratch, over a learning curve of labelled
target examples per class, on :mod:`zoo.data.digits`. The library it exercises is
:mod:`zoo.transfer` (cut, head swap, freezing, feature caching).

Example:
    >>> from zoo.experiments.digits_transfer import run_digits_demo
    >>> report = run_digits_demo("runs/crocodile", quick=True)
    >>> report["goal"]
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.data.digits import DIGIT_VARIANTS, load_digits_split, sample_per_class
from zoo.saving import save_model
from zoo.transfer import compile_classifier, cut, evaluate_accuracy, head_swap, train_head_swap
from zoo.utils.io import atomic_path, atomic_write_json, atomic_write_text


def small_cnn(
    input_shape: Sequence[int] = (32, 32, 1), num_classes: int = 5, width: int = 16, name: str = "small_cnn"
) -> keras.Model:
    """The demo's small VGG-style CNN: 3 blocks (conv-BN-ReLU, 2x2 max pool), then fc1 and a softmax.

    Layer names follow the zoo's convention (``block1_conv1`` ... ``block3_pool``, ``fc1``,
    ``predictions``), so :func:`cut` and :func:`unfreeze_top` treat it as they treat VGG.
    """
    inputs = keras.Input(tuple(input_shape), name="image")
    x = inputs
    for b, mult in enumerate((1, 2, 4), start=1):
        x = keras.layers.Conv2D(width * mult, 3, padding="same", use_bias=False, name=f"block{b}_conv1")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{b}_bn1")(x)
        x = keras.layers.ReLU(name=f"block{b}_relu1")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(64, activation="relu", name="fc1")(x)
    x = keras.layers.Dropout(0.3, name="fc1_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def array_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, repeat: bool = True) -> Any:
    """A batched ``tf.data`` dataset of ``(x, y)``, shuffled and repeated forever when ``repeat``.

    Example:
        >>> ds = array_dataset(x, y, batch_size=16, seed=0)
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if repeat:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    return ds.batch(batch_size)


def run_digits_demo(
    workdir: str | os.PathLike,
    *,
    quick: bool = False,
    shots: Sequence[int | None] = (5, 10, 20, 50, None),
    seeds: Sequence[int] = (0,),
    variant: str = "jittered",
    strategy: str = "default",
    verbose: int | str = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """The offline crocodile demo: body learnt on digits 0-4, transferred to digits 5-9.

    Trains :func:`small_cnn` on the source digits, cuts it at its last pooling layer, and
    for each number of labelled target examples per class (``shots``; None = all) and each
    seed trains: a head swap (frozen body, MLP head), a head swap + fine-tune (phase 2:
    top block unfrozen at 10x lower rate), a logistic-regression head on cached features,
    and the same architecture from scratch (twice the steps of head swap + fine-tune). Every
    training is resumable and every finished point is stored (per ``variant``, under
    ``workdir/<variant>/``), so a rerun continues where it stopped.

    ``variant`` picks the data (:func:`load_digits_split`): ``"jittered"`` (default: digits
    at random size, angle and offset on cluttered, noisy backgrounds; the source set holds 8
    renderings of each source digit, target digits are rendered once, no augmentation for
    any method), the harder analogue of the course's CIFAR-X -> CIFAR-Y, or ``"clean"``
    (upscaled digits; too easy for transfer to matter).

    Writes ``report.json``, ``learning_curve.png``, ``learning_curve.md`` and
    ``fine_tuned.keras`` (the fine-tuned model trained on all target examples).

    Returns:
        The report: mean and per-seed test accuracy per method and shot count, the goal
        check (head swap vs from scratch at 10 per class) and timings.

    Example:
        >>> report = run_digits_demo("runs/crocodile", quick=True)
        >>> report["goal"]["margin_points"]
    """
    from tqdm.auto import tqdm

    from zoo.training import fit_resumable, get_strategy, strategy_scope
    from zoo.utils.plots import plot_lines

    if variant not in DIGIT_VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(DIGIT_VARIANTS)}, got {variant!r}")
    workdir = Path(workdir)
    state = workdir / variant  # trainings, points and features of this variant
    start, cpu_start = time.time(), time.process_time()
    if quick:
        shots, seeds = tuple(s for s in shots if s is None or s <= 10) or (10,), tuple(seeds)[:1]
    data = load_digits_split(variant=variant)
    strat = get_strategy(strategy)
    # few, long epochs: every epoch end writes two checkpoints. From scratch gets twice the
    # steps of head swap + fine-tune together (a budget in the baseline's favour).
    jittered = variant == "jittered"
    if jittered:  # varied, cluttered source images need more steps to learn
        src_epochs, src_steps = (3, 100) if quick else (6, 300)
    else:
        src_epochs, src_steps = (3, 50) if quick else (4, 75)
    head_epochs, ft_epochs, steps = (2, 1, 20) if quick else (4, 2, 25)
    scratch_epochs, scratch_steps = 2, (head_epochs + ft_epochs) * steps
    keras.utils.set_random_seed(0)
    with strategy_scope(strat):
        source = small_cnn(num_classes=5, name="digits04")
        compile_classifier(source, 1e-3)

    src_done = state / "source" / "done.weights.h5"
    if src_done.is_file():
        source.load_weights(src_done)
    else:
        fit_resumable(
            source, array_dataset(data["source_x"], data["source_y"], 32, 0), epochs=src_epochs,
            workdir=state / "source", steps_per_epoch=src_steps, verbose=verbose, title="source: digits 0-4",
        )  # fmt: skip
        with atomic_path(src_done) as tmp:
            source.save_weights(tmp)
    source_acc = evaluate_accuracy(source, data["source_x"], data["source_y"])

    methods = ("head_swap", "head_swap_finetune", "sklearn_logreg", "from_scratch")
    points_dir = state / "points"
    ft_path = state / "fine_tuned.keras"
    jobs = [(k, seed, m) for k in shots for seed in seeds for m in methods]
    results: dict[str, dict[str, dict[str, float]]] = {m: {} for m in methods}
    bar = tqdm(jobs, desc="learning curve", disable=not progress)
    for k, seed, method in bar:
        label = "all" if k is None else str(k)
        bar.set_postfix_str(f"{method} k={label} seed={seed}")
        point_path = points_dir / f"{method}-k{label}-s{seed}.json"
        # the fine-tuned run continues from the head-swap run's finished phase 1 (same folder)
        run_name = "head_swap" if method.startswith("head_swap") else method
        run_dir = state / "runs" / f"{run_name}-k{label}-s{seed}"
        final_ft = k == shots[-1] and seed == seeds[0] and method == "head_swap_finetune"
        if point_path.is_file() and not (final_ft and not ft_path.is_file()):
            results[method].setdefault(label, {})[str(seed)] = json.loads(point_path.read_text())["accuracy"]
            continue
        idx = sample_per_class(data["target_y"], k, seed)
        x, y = data["target_x"][idx], data["target_y"][idx]
        keras.utils.set_random_seed(seed)
        with strategy_scope(strat):
            if method == "from_scratch":
                model = small_cnn(num_classes=5, name="scratch")
                compile_classifier(model, 1e-3)
                fit_resumable(model, array_dataset(x, y, 16, seed), epochs=scratch_epochs, workdir=run_dir,
                     steps_per_epoch=scratch_steps, verbose=verbose, title="from scratch")  # fmt: skip
            else:
                source.load_weights(src_done)
                cut_body = cut(source, "last_pool")
                # fresh layers, so fine-tuning leaves the source model intact
                body = keras.models.clone_model(cut_body)
                body.set_weights(cut_body.get_weights())
                if method == "sklearn_logreg":
                    model = head_swap(body, "logreg", pooling="flatten", cache_dir=state / "features")
                    model.fit(x, y)
                else:
                    model = head_swap(
                        body, "mlp", num_classes=5, pooling="flatten", hidden=(64,), dropout=0.3
                    )
                    train_head_swap(
                        model, body, array_dataset(x, y, 16, seed), workdir=run_dir, head_epochs=head_epochs,
                        fine_tune_epochs=ft_epochs if method == "head_swap_finetune" else 0,
                        fine_tune_blocks=1, learning_rate=1e-3, steps_per_epoch=steps, verbose=verbose,
                    )  # fmt: skip
        acc = evaluate_accuracy(model, data["test_x"], data["test_y"])
        results[method].setdefault(label, {})[str(seed)] = acc
        atomic_write_json(point_path, {"method": method, "k": label, "seed": seed, "accuracy": acc})
        if final_ft:  # digits in [0, 1] (pixels / 255), target classes 5-9: convert takes it as it is
            save_model(
                model,
                ft_path,
                preprocess="unit",
                labels=[str(d) for d in range(5, 10)],
                task="classification",
            )
    if ft_path.is_file():  # the top-level copy always belongs to the variant of this report
        with atomic_path(workdir / "fine_tuned.keras") as tmp:
            shutil.copyfile(ft_path, tmp)

    labels = ["all" if k is None else str(k) for k in shots]
    mean = {m: {lab: float(np.mean(list(results[m][lab].values()))) for lab in labels} for m in methods}
    n_all = int(min(np.bincount(data["target_y"])))
    xs = [n_all if k is None else k for k in shots]
    plot_lines(
        xs, {m: [mean[m][lab] for lab in labels] for m in methods}, workdir / "learning_curve.png",
        xlabel="labelled target examples per class", ylabel=f"test accuracy ({variant} digits 5-9)",
        title=f"crocodile learning: body from {variant} digits 0-4", logx=True,
    )  # fmt: skip
    rows = ["| examples per class | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for lab, xval in zip(labels, xs):
        name = f"all ({xval})" if lab == "all" else lab
        rows.append(f"| {name} | " + " | ".join(f"{100 * mean[m][lab]:.1f}" for m in methods) + " |")
    table = "\n".join(rows) + "\n"
    atomic_write_text(workdir / "learning_curve.md", table)
    goal = None
    if "10" in labels:
        margin = 100 * (mean["head_swap"]["10"] - mean["from_scratch"]["10"])
        goal = {"shots": 10, "head_swap": mean["head_swap"]["10"], "from_scratch": mean["from_scratch"]["10"],
                "margin_points": margin, "target_points": 20.0, "met": bool(margin >= 20.0)}  # fmt: skip
    if jittered:
        data_text = (
            "digits 0-4 -> 5-9, variant 'jittered': sklearn load_digits 8x8 glyphs drawn by "
            "zoo.data.digits.jitter_digits into 32x32 scenes (height 50-80%, rotation +-20 deg, shear, "
            "random offset, gradient background, 0-3 clutter strokes, contrast jitter, pixel noise); "
            f"source: {len(data['source_y'])} images (8 renderings of each of the "
            f"{len(data['source_y']) // 8} source digits); target pool and test: each digit rendered once; "
            "no augmentation for any method"
        )
    else:
        data_text = "digits 0-4 -> 5-9, variant 'clean': sklearn load_digits, 8x8 upscaled to 32x32"
    report = {
        "demo": data_text,
        "variant": variant,
        "body": (
            f"zoo.experiments.digits_transfer.small_cnn (3 conv blocks, width 16) trained on source digits 0-4 for "
            f"{src_epochs * src_steps} steps of batch 32 (Adam 1e-3), cut at last_pool (block3_pool, 4x4x64)"
        ),
        "budget_steps": {
            "source": src_epochs * src_steps, "head_swap": head_epochs * steps,
            "head_swap_finetune": (head_epochs + ft_epochs) * steps,
            "from_scratch": scratch_epochs * scratch_steps, "batch_size_target": 16,
        },
        "quick": quick, "shots": labels, "shots_numeric": xs, "seeds": list(seeds),
        "source_train_accuracy": source_acc, "n_source": int(len(data["source_y"])),
        "n_target_pool": int(len(data["target_y"])), "n_test": int(len(data["test_y"])),
        "accuracy_mean": mean, "accuracy_per_seed": results, "table": table, "goal": goal,
        "backend": keras.backend.backend(), "strategy": strategy, "seconds": time.time() - start,
        "cpu_seconds": time.process_time() - cpu_start,
        "fine_tuned_model": str(workdir / "fine_tuned.keras") if (workdir / "fine_tuned.keras").is_file() else None,
    }  # fmt: skip
    atomic_write_json(workdir / "report.json", report)
    return report
