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
import os
import sys
from collections.abc import Callable
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
