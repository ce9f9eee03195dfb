"""Atomic file writes, and scratch folders that are cleaned up even on SIGTERM.

A crash or Ctrl-C mid-write never leaves a truncated file under the final name; the final
file gets the usual permissions (``0666`` less the umask, like ``open()``), not
``mkstemp``'s ``0600``. :func:`scratch_dir` gives a temporary folder (e.g. a SavedModel
during LiteRT conversion) that is removed on success, error, Ctrl-C and SIGTERM, and sweeps
folders left by earlier processes that were killed (SIGKILL cannot be caught).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yields a temporary path in the target's folder; renames it onto ``path`` on success.

    Args:
        path: final file path. Its parent folder is created if missing.
        overwrite: if False and ``path`` exists, raise ``FileExistsError`` before writing.

    Example:
        >>> with atomic_path("model.tflite") as tmp:
        ...     tmp.write_bytes(data)
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --force) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes[-2:]), dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process's umask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> Path:
    """Writes ``data`` to ``path`` atomically and returns the path."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically and returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_write_json(path: str | os.PathLike, obj: Any, overwrite: bool = True) -> Path:
    """Writes ``obj`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n", overwrite
    )


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_SCRATCH_RE = re.compile(r"^(?P<prefix>.+?)pid(?P<pid>\d+)_")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_stale_scratch(
    prefix: str, max_age_s: float = 24 * 3600, root: str | os.PathLike | None = None
) -> int:
    """Removes ``prefix*`` scratch folders left by dead processes; returns how many were removed.

    A folder made by :func:`scratch_dir` carries its process id in its name and is removed once
    that process is gone; one without (an older layout) is removed when older than ``max_age_s``.

    Example:
        >>> sweep_stale_scratch("zoo_export_")
        0
    """
    root = Path(root or tempfile.gettempdir())
    removed = 0
    for d in root.glob(f"{prefix}*"):
        if not d.is_dir() or d.is_symlink():
            continue
        m = _SCRATCH_RE.match(d.name)
        try:
            if m and m.group("prefix") == prefix:
                stale = int(m.group("pid")) != os.getpid() and not _pid_alive(int(m.group("pid")))
            else:
                stale = time.time() - d.stat().st_mtime > max_age_s
            if stale:
                shutil.rmtree(d, ignore_errors=True)
                removed += not d.exists()
        except OSError:
            continue
    return removed


#: Scratch folders of this process that exist now (removed by :func:`remove_live_scratch`).
_LIVE_SCRATCH: set[Path] = set()


def remove_live_scratch() -> None:
    """Removes this process's scratch folders now (before a forced ``os._exit``, which skips
    ``finally`` blocks: :mod:`zoo.utils.signals`' watchdog calls it)."""
    for path in list(_LIVE_SCRATCH):
        shutil.rmtree(path, ignore_errors=True)
        _LIVE_SCRATCH.discard(path)


@contextlib.contextmanager
def scratch_dir(
    prefix: str = "zoo_scratch_", root: str | os.PathLike | None = None, *, hold_tempfiles: bool = False
) -> Iterator[Path]:
    """A temporary folder removed on exit, on Ctrl-C and on SIGTERM; stale ones are swept first.

    While the folder exists, SIGTERM (whose default action would end the process without
    cleaning up) raises ``KeyboardInterrupt`` in the main thread, so the folder is removed and the
    process still stops; the previous handler is restored afterwards. A command under
    :func:`zoo.utils.signals.stop_on_signals` whose watchdog has to force the exit removes it
    too. Folders of processes killed with SIGKILL are removed by the next call with the same prefix.

    Args:
        prefix: folder-name prefix, e.g. ``"zoo_export_"``.
        root: parent folder (default: ``tempfile.gettempdir()``, i.e. ``$TMPDIR``).
        hold_tempfiles: while the block runs, ``tempfile``'s default folder is this one, so what
            libraries write there (TensorFlow's converter makes its own SavedModel folders) is
            removed and swept with it.

    Example:
        >>> with scratch_dir("zoo_export_") as tmp:
        ...     model.export(tmp / "saved_model")
    """
    sweep_stale_scratch(prefix, root=root)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}pid{os.getpid()}_", dir=root))
    _LIVE_SCRATCH.add(path)
    previous_tempdir = tempfile.tempdir
    with terminate_raises_interrupt():
        try:
            if hold_tempfiles:
                tempfile.tempdir = str(path)
            yield path
        finally:
            if hold_tempfiles:
                tempfile.tempdir = previous_tempdir
            shutil.rmtree(path, ignore_errors=True)
            _LIVE_SCRATCH.discard(path)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def terminate_raises_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` (so ``finally`` blocks run).

    Only where the default handler is installed and in the main thread; elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
