"""Socket folders are named by their process, and a sweep removes those whose process is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ferry import sockdirs


def test_sweep_removes_folders_of_dead_and_reused_pids_only(tmp_path: Path) -> None:
    mine = sockdirs.make("batch")
    try:
        assert mine.name.startswith(f"ferry-{os.getpid()}-batch-")
        assert mine.stat().st_mode & 0o777 == 0o700
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            dead = tmp_path / f"ferry-{gone.pid}-batch-dead"
            ours = tmp_path / f"ferry-{os.getpid()}-online-ours"
            current = tmp_path / f"ferry-{live.pid}-batch-current"
            reused = tmp_path / f"ferry-{live.pid}-online-reused"
            other = tmp_path / f"ferry-{gone.pid}-notes"  # not a socket folder's name
            for folder in (dead, ours, current, reused, other):
                folder.mkdir()
            # Made an hour before the process that has its pid now started: not its folder.
            then = time.time() - 3600
            os.utime(reused, (then, then))

            removed = sockdirs.sweep(tmp_path)

            assert sorted(removed) == sorted([dead, reused])
            assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
                p.name for p in (ours, current, other)
            )
        finally:
            live.kill()
            live.wait()
    finally:
        mine.rmdir()
