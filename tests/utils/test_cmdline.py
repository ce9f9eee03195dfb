"""Flags derived from a config dataclass (zoo.utils.cmdline.add_dataclass_arguments)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from zoo.utils.cmdline import add_dataclass_arguments, dataclass_from_args


@dataclass
class _Config:
    """Settings.

    Attributes:
        mode: what to run.
        max_vocab: keep at most this many words, or None. Longer text that is not shown.
        rate: the step size (100% by default).
        jit: compile the step.
        layout: batch layout, see :func:`zoo.text.corpus.stream_batches`.
    """

    mode: str = "a"
    max_vocab: int | None = None
    rate: float = 0.5
    jit: bool | None = None
    layout: str = "stream"


def _parser():
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, _Config, exclude=("mode",), choices={"layout": ("stream", "padded")})
    return parser


def test_flags_take_types_defaults_and_help_from_the_dataclass():
    parser = _parser()
    args = parser.parse_args(["--max-vocab", "7", "--rate", "0.25", "--no-jit", "--layout", "padded"])
    config = dataclass_from_args(_Config, args, mode="b")
    assert config == _Config(mode="b", max_vocab=7, rate=0.25, jit=False, layout="padded")
    assert dataclass_from_args(_Config, parser.parse_args([])) == _Config()
    assert not hasattr(parser.parse_args([]), "mode")  # excluded
    text = parser.format_help()
    assert "keep at most this many words, or None" in text and "Longer text" not in text
    assert "the step size (100% by default) (default: 0.5)" in " ".join(text.split())
    assert "zoo.text.corpus.stream_batches" in text and ":func:" not in text


def test_bad_values_and_unknown_choices_are_refused():
    with pytest.raises(SystemExit):
        _parser().parse_args(["--layout", "dedup"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["--max-vocab", "many"])
    with pytest.raises(ValueError, match="nope"):
        add_dataclass_arguments(argparse.ArgumentParser(), _Config, choices={"nope": ("x",)})
