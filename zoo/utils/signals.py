"""One Ctrl-C (or one SIGTERM) stops a command within seconds, with its checkpoints intact.

:func:`stop_on_signals` turns the first SIGINT or SIGTERM into ``KeyboardInterrupt`` in the
main thread and starts a watchdog: if the process has not ended ``grace_s`` seconds later
(TensorFlow can block for good tearing down a ``tf.data`` pipeline fed by a Python generator),
the watchdog ends it with ``os._exit``. A second signal ends it at once. Checkpoint writes run
inside :func:`deferred_interrupts`: a signal arriving then is acted on when the write is done,
so the last checkpoint is never half written (the watchdog waits for the write as well).

Example:
    >>> with stop_on_signals() as stop:
    ...     train()              # Ctrl-C raises KeyboardInterrupt here
    >>> stop.signum              # the signal that stopped it, or None
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

_critical = {"depth": 0, "pending": None}
_lock = threading.Lock()


@dataclass
class StopState:
    """What :func:`stop_on_signals` saw: ``signum`` of the first signal (None if none came)."""

    signum: int | None = None
    at: float | None = None

    @property
    def exit_code(self) -> int:
        """``128 + signum`` (130 for SIGINT, 143 for SIGTERM), the shell's convention."""
        return 128 + (self.signum or signal.SIGINT)


def _force_exit(code: int, message: str) -> None:
    from zoo.utils.io import remove_live_scratch

    remove_live_scratch()  # os._exit skips the finally blocks that would remove them
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        sys.stdout.flush()
    except Exception:  # noqa: BLE001  (the process is going away; nothing left to report to)
        pass
    os._exit(code)


def _watchdog(state: StopState, grace_s: float) -> None:
    while True:
        time.sleep(0.1)
        if time.monotonic() - state.at >= grace_s and _critical["depth"] == 0:
            _force_exit(state.exit_code, "stopped (the process did not end by itself; forced exit)")


@contextlib.contextmanager
def stop_on_signals(grace_s: float = 5.0) -> Iterator[StopState]:
    """Within the block, SIGINT/SIGTERM raise ``KeyboardInterrupt`` once, then the process ends.

    Args:
        grace_s: seconds the process has after the first signal to end by itself before the
            watchdog ends it (checkpoint writes in progress are waited for).

    Only installs handlers in the main thread; elsewhere the block runs unchanged.
    """
    state = StopState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum, frame):
        if state.signum is not None:
            _force_exit(128 + signum, f"stopped by a second {signal.Signals(signum).name}")
        state.signum, state.at = signum, time.monotonic()
        threading.Thread(target=_watchdog, args=(state, grace_s), daemon=True).start()
        if _critical["depth"] > 0:
            _critical["pending"] = signum  # raised when the checkpoint write ends
            return
        raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, handler)
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """A stop signal arriving inside the block takes effect when the block ends.

    Wrap a checkpoint write in it so an interrupt never leaves a file half written.

    Example:
        >>> with deferred_interrupts():
        ...     model.save_weights(path)
    """
    with _lock:
        _critical["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _critical["depth"] -= 1
            pending = _critical["pending"] if _critical["depth"] == 0 else None
            if pending is not None:
                _critical["pending"] = None
        if pending is not None:
            raise KeyboardInterrupt(f"stopped by {signal.Signals(pending).name}")
