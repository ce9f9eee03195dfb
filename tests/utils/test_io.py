"""Atomic writes keep umask permissions; scratch folders vanish on SIGTERM and are swept after SIGKILL."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from zoo.utils.io import atomic_write_bytes, atomic_write_json, scratch_dir, sweep_stale_scratch


def test_outputs_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        mode = atomic_write_bytes(tmp_path / "m.tflite", b"x").stat().st_mode & 0o777
        assert mode == 0o644  # mkstemp alone gives 0o600
        os.umask(0o077)
        assert atomic_write_json(tmp_path / "r.json", {"a": 1}).stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


_CHILD = textwrap.dedent(
    """
    import sys, time
    from zoo.utils.io import scratch_dir
    with scratch_dir("zoo_test_scratch_", root=sys.argv[1]) as d:
        (d / "big.bin").write_bytes(b"0" * 1000)
        print(d, flush=True)
        time.sleep(60)
    """
)


def _start(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    folder = proc.stdout.readline().strip()
    assert folder and os.path.isdir(folder)
    return proc, folder


def test_scratch_removed_on_sigterm_and_swept_after_sigkill(tmp_path):
    proc, folder = _start(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) != 0
    assert not os.path.exists(folder)

    proc, folder = _start(tmp_path)
    proc.kill()
    proc.wait(timeout=10)
    assert os.path.isdir(folder)  # SIGKILL cannot be caught ...
    alive = tmp_path / f"zoo_test_scratch_pid{os.getpid()}_x"
    alive.mkdir()  # ... a live process's folder is kept
    assert sweep_stale_scratch("zoo_test_scratch_", root=tmp_path) == 1
    assert not os.path.exists(folder) and alive.is_dir()
    with scratch_dir("zoo_test_scratch_", root=tmp_path) as d:
        assert d.is_dir()
    assert not d.exists()
    time.sleep(0)


def test_forced_exit_removes_live_scratch(tmp_path):
    from zoo.utils.io import remove_live_scratch

    with scratch_dir("zoo_test_scratch_", root=tmp_path) as d:
        (d / "f").write_bytes(b"x")
        remove_live_scratch()  # what the signal watchdog calls before os._exit
        assert not d.exists()
