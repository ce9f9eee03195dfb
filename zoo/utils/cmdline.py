"""What every zoo command line shares: one-line errors (exit 2) and a clean stop on Ctrl-C / SIGTERM.

``python -m zoo`` and every ``recipes/*.py`` script build their parser with
:class:`ArgumentParser` and run their work through :func:`run_command`:

- a bad flag or bad input prints one line, ``error: <what was wrong and what to do>``, on
  stderr and exits with status 2 (argparse's own errors included; no traceback);
- one SIGINT or SIGTERM stops the command within seconds (:mod:`zoo.utils.signals`), printing
  where the last checkpoint is, with exit status 130 (SIGINT) or 143 (SIGTERM).

Example:
    >>> parser = ArgumentParser(description="train something")
    >>> args = parser.parse_args(argv)
    >>> return run_command(lambda: train(args), workdir=args.workdir)
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from zoo.utils.signals import stop_on_signals

#: Exceptions that mean bad input (a message for the user), not a bug (a traceback).
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    KeyError,
)


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line on stderr and exit status 2.

    Subcommand parsers made with ``add_subparsers().add_parser`` are of this class too.

    Example:
        >>> ArgumentParser(prog="x").parse_args(["--nope"])   # error: x: unrecognized arguments: --nope ...
    """

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _field_docs(cls: type) -> dict[str, str]:
    """The first sentence of each entry of a dataclass docstring's ``Attributes:`` section."""
    doc = inspect.getdoc(cls) or ""
    if "Attributes:" not in doc:
        return {}
    entries: dict[str, str] = {}
    name = None
    for line in doc.split("Attributes:", 1)[1].splitlines():
        m = re.match(r"^    (\w+):\s*(.*)$", line)
        if m:
            name = m.group(1)
            entries[name] = m.group(2)
        elif name and line.startswith("        "):
            entries[name] += " " + line.strip()
        elif line.strip():
            break
    plain = (re.sub(r":\w+:`([^`]+)`", r"\1", v).replace("``", "") for v in entries.values())
    first = (re.split(r"(?<=[^.]\.)\s", v, maxsplit=1)[0] for v in plain)
    return {k: v.rstrip(".") for k, v in zip(entries, first)}


def _flag_type(hint: Any) -> type:
    """The scalar type of a field annotation such as ``int`` or ``float | None``."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    scalars = [a for a in args if a is not type(None)]
    if len(scalars) != 1 or scalars[0] not in (bool, int, float, str):
        raise TypeError(f"no command-line flag for a field of type {hint!r}")
    return scalars[0]


def add_dataclass_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    exclude: Iterable[str] = (),
    choices: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Adds one ``--flag`` per field of the dataclass ``cls`` (``max_vocab`` -> ``--max-vocab``).

    The type comes from the field's annotation (``int``, ``float``, ``str``, optionally ``| None``;
    a ``bool`` field gets ``--x / --no-x``), the default from the field, and the help from the
    first sentence of the field's entry in the class docstring's ``Attributes:`` section.
    :func:`dataclass_from_args` turns the parsed namespace back into an instance.

    Example:
        >>> add_dataclass_arguments(parser, Word2VecConfig, exclude=("mode",), choices={"layout": LAYOUTS})
    """
    hints = typing.get_type_hints(cls)
    docs = _field_docs(cls)
    skip, choices = set(exclude), dict(choices or {})
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        kind = _flag_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        flag = "--" + f.name.replace("_", "-")
        text = docs.get(f.name, "").replace("%", "%%")  # argparse formats help with %
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
            continue
        shown = text if default is None else f"{text} (default: {default})" if text else f"default: {default}"
        options = tuple(choices.pop(f.name)) if f.name in choices else None
        parser.add_argument(flag, type=kind, default=default, choices=options, help=shown)
    if choices:
        raise ValueError(f"choices given for fields {cls.__name__} lacks or excludes: {sorted(choices)}")


def dataclass_from_args(cls: type, args: argparse.Namespace, **overrides: Any) -> Any:
    """``cls(**fields)`` from a namespace made with :func:`add_dataclass_arguments` (absent fields keep
    their defaults; ``overrides`` win)."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {k: v for k, v in vars(args).items() if k in names}
    kwargs.update(overrides)
    return cls(**kwargs)


def error_line(exc: BaseException) -> str:
    """The one-line message for a user error (a ``KeyError``'s quotes removed, newlines joined)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return "error: " + " ".join(text.split("\n")).strip()


def run_command(
    fn: Callable[[], Any],
    *,
    errors: tuple[type[BaseException], ...] = USER_ERRORS,
    workdir: str | os.PathLike | None = None,
    grace_s: float = 5.0,
) -> int:
    """Runs ``fn()`` as a command: returns its exit status (``0`` for None).

    Args:
        fn: the command's work.
        errors: exception types printed as one ``error: ...`` line with exit status 2.
        workdir: named in the message after an interrupt (where the checkpoint is).
        grace_s: after a stop signal, seconds before the watchdog ends a process that hangs.

    A stop signal ends the process (``os._exit``, status 130/143) once the interrupt has run
    the ``finally`` blocks, so no ``tf.data`` teardown can hang it; a ``KeyboardInterrupt``
    raised otherwise (no signal) returns 130.
    """
    with stop_on_signals(grace_s) as stop:
        try:
            return int(fn() or 0)
        except errors as exc:
            print(error_line(exc), file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            where = f"; the last finished epoch's checkpoint is in {os.fspath(workdir)}" if workdir else ""
            print(f"interrupted{where}; rerun the same command to resume", file=sys.stderr)
            if stop.signum is not None:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(stop.exit_code)
            return 130


def _workdir_flag(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--workdir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--workdir="):
            return arg.split("=", 1)[1]
    return None


def run_script(main: Callable[[list[str] | None], Any], argv: list[str] | None = None) -> int:
    """Runs a recipe's ``main(argv)`` as a command, through :func:`run_command`.

    For recipes whose ``main`` returns its report (a dict, for Python callers and tests): the
    command exits 0, a user error is one ``error: ...`` line (status 2) and Ctrl-C / SIGTERM one
    ``interrupted ...`` line naming ``--workdir`` (status 130 / 143) instead of a traceback.
    An ``int`` from ``main`` is its exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)

    def work():
        result = main(args)
        return result if isinstance(result, int) else 0

    return run_command(work, workdir=_workdir_flag(args))
