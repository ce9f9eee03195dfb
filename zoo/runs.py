"""A work directory that remembers its run: configuration, lock, status.

Every training recipe opens its ``--workdir`` with :func:`open_run`:

- the run's configuration (its flags) is stored in ``run.json``; resuming with different
  settings is refused with a message listing each differing flag (instead of Keras' "37
  objects could not be loaded"), except for the settings allowed to change (``epochs``: a
  finished run continues with more epochs);
- a lock (``.lock``, ``fcntl.flock``: released by the operating system when the process ends,
  even on SIGKILL) refuses a second run on the same directory while the first is alive;
- the status (``running``, ``interrupted``, ``failed``, ``finished``) is kept in ``run.json``;
  a finished run is reported as done by :func:`zoo.training.fit_resumable` rather than
  trained again;
- a directory this call created is removed again when the run fails before writing anything.

Example:
    >>> with open_run("runs/captcha", {"model": "captcha_multihead", "epochs": 10}) as run:
    ...     train(workdir=run.path)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.utils.io import atomic_write_json

RUN_FILE = "run.json"
LOCK_FILE = ".lock"


class RunConfigError(ValueError):
    """The work directory holds a run started with other settings."""


class RunLockedError(ValueError):
    """Another live process is using the work directory."""


@dataclass
class Run:
    """An open work directory: ``path``, the stored ``config`` and the previous ``status``."""

    path: Path
    config: dict[str, Any]
    previous_status: str | None


def _normalise(config: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(config), sort_keys=True, default=str))


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def config_differences(
    stored: Mapping[str, Any], current: Mapping[str, Any], may_change: Sequence[str] = ()
) -> list[str]:
    """``--flag: stored -> current`` for every setting that differs (``may_change`` ones excepted).

    Example:
        >>> config_differences({"lr": 0.1, "epochs": 2}, {"lr": 0.2, "epochs": 3}, may_change=("epochs",))
        ['--lr: 0.1 (stored) -> 0.2 (now)']
    """
    stored, current = _normalise(stored), _normalise(current)
    out = []
    for key in sorted(set(stored) | set(current)):
        if key in may_change:
            continue
        a, b = stored.get(key, "<unset>"), current.get(key, "<unset>")
        if a != b:
            out.append(f"{_flag(key)}: {a} (stored) -> {b} (now)")
    return out


def _lock(path: Path) -> Any:
    import fcntl

    handle = open(path / LOCK_FILE, "a+")  # noqa: SIM115  (held open for the run's lifetime)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunLockedError(
            f"{path} is in use by a run still going on ({holder}); wait for it to end, or use another --workdir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


def _only_bookkeeping(path: Path) -> bool:
    return all(p.name in (RUN_FILE, LOCK_FILE) for p in path.iterdir())


@contextlib.contextmanager
def open_run(
    workdir: str | os.PathLike,
    config: Mapping[str, Any],
    *,
    may_change: Sequence[str] = ("epochs",),
) -> Iterator[Run]:
    """Opens (creating if needed) a work directory for a run with ``config``; see the module docstring.

    Args:
        workdir: the run's folder.
        config: the settings that define the run (the recipe's flags), JSON-serialisable.
        may_change: settings a resumed run may change (default: ``epochs``).

    Raises:
        RunConfigError: ``workdir`` holds a run with other settings.
        RunLockedError: another live process holds ``workdir``.
    """
    path = Path(workdir)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--workdir {path} exists and is not a folder")
    created = not path.exists()
    # the folders this call creates, innermost first (removed again, if empty, after a failed start)
    new_dirs = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    handle = None
    status = "failed"
    try:
        handle = _lock(path)
        run_file = path / RUN_FILE
        previous = json.loads(run_file.read_text()) if run_file.is_file() else None
        config = _normalise(config)
        if previous is not None:
            diffs = config_differences(previous.get("config", {}), config, may_change)
            if diffs:
                raise RunConfigError(
                    f"{path} holds a run started with other settings: {'; '.join(diffs)}. Rerun with the "
                    "stored settings to resume it, or use a new --workdir (or delete this one) to start afresh"
                )
        record = {
            "config": config,
            "status": "running",
            "pid": os.getpid(),
            "command": sys.argv,
            "started": (previous or {}).get("started", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
            "last_start": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic_write_json(run_file, record)
        try:
            yield Run(path, config, None if previous is None else previous.get("status"))
            status = "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            record.update(status=status, ended=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            with contextlib.suppress(OSError):
                atomic_write_json(run_file, record)
    finally:
        if handle is not None:
            handle.close()
        if created and status == "failed" and path.is_dir() and _only_bookkeeping(path):
            shutil.rmtree(path, ignore_errors=True)
            for parent in new_dirs[1:]:  # parents made for it: only while empty
                with contextlib.suppress(OSError):
                    parent.rmdir()


def flags_of(args: Any) -> dict[str, Any]:
    """A recipe's parsed flags (an ``argparse.Namespace``) as the run configuration: every flag but
    ``--workdir`` itself, so a moved work directory still resumes."""
    return {k: v for k, v in vars(args).items() if k != "workdir"}
