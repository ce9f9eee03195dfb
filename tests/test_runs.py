"""zoo.runs: a work directory keeps its configuration, a lock and its status."""

import json
import subprocess
import sys
import textwrap

import pytest

from zoo.runs import RunConfigError, RunLockedError, config_differences, open_run


def test_mismatch_is_refused_listing_the_flags(tmp_path):
    with open_run(tmp_path / "w", {"model": "a", "lr": 0.1, "epochs": 2}):
        pass
    assert json.loads((tmp_path / "w" / "run.json").read_text())["status"] == "finished"
    with open_run(tmp_path / "w", {"model": "a", "lr": 0.1, "epochs": 5}) as run:  # epochs may change
        assert run.previous_status == "finished"
    with pytest.raises(RunConfigError, match=r"--lr: 0.1 \(stored\) -> 0.2 \(now\); --model: a .*-> b"):
        with open_run(tmp_path / "w", {"model": "b", "lr": 0.2, "epochs": 5}):
            pass
    assert config_differences({"a": (1, 2)}, {"a": [1, 2]}) == []


def test_second_run_on_a_workdir_is_refused_while_the_first_lives(tmp_path):
    child = textwrap.dedent(
        """
        import sys, time
        from zoo.runs import open_run
        with open_run(sys.argv[1], {"x": 1}):
            print("open", flush=True)
            time.sleep(30)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child, str(tmp_path / "w")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(RunLockedError, match=f"in use by a run still going on \\(pid {proc.pid}\\)"):
            with open_run(tmp_path / "w", {"x": 1}):
                pass
    finally:
        proc.kill()
        proc.wait()
    with open_run(tmp_path / "w", {"x": 1}) as run:  # the lock died with its process
        assert run.previous_status == "running"


def test_failed_start_leaves_no_empty_workdir(tmp_path):
    with pytest.raises(ValueError, match="boom"):
        with open_run(tmp_path / "new", {"x": 1}):
            raise ValueError("boom")
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    with pytest.raises(ValueError, match="boom"):  # parents made for the workdir go too; old ones stay
        with open_run(tmp_path / "old" / "a" / "b", {"x": 1}):
            raise ValueError("boom")
    assert (tmp_path / "old").is_dir() and not (tmp_path / "old" / "a").exists()
    with pytest.raises(KeyboardInterrupt):
        with open_run(tmp_path / "kept", {"x": 1}) as run:
            (run.path / "last.weights.h5").write_bytes(b"x")
            raise KeyboardInterrupt
    assert json.loads((tmp_path / "kept" / "run.json").read_text())["status"] == "interrupted"
